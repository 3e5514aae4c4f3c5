"""What the daemon reads between ticks: runs by key, the run queue, instigator state, ticks.

All of it is derived by the writer in the same transaction as the events (``runs``,
``instigator_state``) or read straight from the operational log:

* ``run_for_key`` — one lookup through the unique index on ``runs.run_key``.
* ``queued_runs`` — oldest first (FIFO) in the order the ``run_queued`` events were
  committed (``runs.queued_event_id``), not by their timestamps: those come from the clocks
  of different processes, and tie under a frozen test clock. Few rows, found through the
  status index.
* ``instigator_states`` — the whole (small) ``instigator_state`` table.
* ``ticks`` — ``tick`` events newest first, through ``(type, id)`` for all instigators or the
  partial ``(instigator, type, id)`` index for one.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from headwater.core.events import RunStatus, TickRecorded
from headwater.core.records import InstigatorState, RunRecord
from headwater.storage.sql.codec import decode_stored, run_from_row
from headwater.storage.sql.tables import TYPE_INDEXED, instigator_state, run_events, runs

_TICK = TickRecorded.type_name


def run_for_key(conn: Connection, run_key: str) -> RunRecord | None:
    if not run_key:
        return None  # an empty key is no key: nothing is stored under it
    row = conn.execute(select(runs).where(runs.c.run_key == run_key)).first()
    return run_from_row(row) if row is not None else None


def queued_runs(conn: Connection, limit: int) -> list[RunRecord]:
    stmt = (select(runs).where(runs.c.status == RunStatus.QUEUED.value)
            .order_by(runs.c.queued_event_id.asc().nulls_last(), runs.c.created_at.asc().nulls_last(),
                      runs.c.run_id).limit(max(limit, 0)))
    return [run_from_row(row) for row in conn.execute(stmt)]


def instigator_states(conn: Connection) -> dict[str, InstigatorState]:
    c = instigator_state.c
    rows = conn.execute(select(c.instigator, c.enabled, c.last_tick_time, c.last_status, c.cursor))
    return {name: InstigatorState(instigator=name, enabled=None if enabled is None else bool(enabled),
                                  last_tick_time=tick_time, last_status=status, cursor=cursor)
            for name, enabled, tick_time, status, cursor in rows}


def ticks(conn: Connection, instigator: str | None, limit: int) -> list[TickRecorded]:
    c = run_events.c
    stmt = select(c.id, c.schema_version, c.payload).where(c.type == _TICK, TYPE_INDEXED)
    if instigator is not None:
        stmt = stmt.where(c.instigator == instigator)
    stmt = stmt.order_by(c.id.desc()).limit(max(limit, 0))
    return [decode_stored(event_id, _TICK, payload, version)  # type: ignore[misc]
            for event_id, version, payload in conn.execute(stmt)]
