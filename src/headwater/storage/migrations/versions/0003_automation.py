"""Automation: queued runs with run keys, instigator state, ticks by instigator, leases.

* ``runs.run_key`` (unique when set), ``runs.origin``, ``runs.mode`` — what a ``run_queued``
  event asked for; the unique index is what makes a run key exactly-once.
  ``runs.queued_event_id`` — that event's id: the run queue is FIFO in commit order.
* ``run_events.instigator`` — the schedule, sensor or automation a ``tick`` or
  ``instigator_toggled`` event is about, with a partial index so one instigator's newest
  ticks are a few index entries away (every other run event leaves it NULL).
* ``instigator_state`` — per instigator: enabled or not, the latest tick (time, status,
  event id) and the newest cursor a tick gave.
* ``leases`` — which process may act as the store's one daemon, until when (not derived
  from events: a lease is infrastructure, not a fact).

The derived state is backfilled from the events already stored, so a database upgraded in
place answers exactly like one that had this revision from the start. (Code that knew the
new event types but still wrote revision 0002 stored them without deriving anything.) The
backfill follows the writer's rules in event-id order: the first run queued under a key
keeps it, a ``run_queued`` for a run that already existed derives nothing, a run started or
ended after it was queued keeps the queue's ``created_at``, key, origin and mode.

A frozen snapshot, like 0001 and 0002: it never imports ``tables.py`` nor Headwater's event
classes; it reads the stored JSON payloads (event schema version 1) itself.

Revision ID: 0003
Revises: 0002
Create Date: 2024-12-16
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_event_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_time: sa.Double[float] = sa.Double()
_BATCH = 1000
_CHUNK = 500  # ids per IN (...)
_NOT_NULL = "instigator IS NOT NULL"


def upgrade() -> None:
    # Nullable columns with no default: a plain ALTER TABLE ... ADD COLUMN on both backends.
    op.add_column("runs", sa.Column("run_key", sa.String()))
    op.add_column("runs", sa.Column("origin", sa.String()))
    op.add_column("runs", sa.Column("mode", sa.String()))
    op.add_column("runs", sa.Column("queued_event_id", _event_id))
    op.create_index("ix_runs_run_key", "runs", ["run_key"], unique=True)
    op.add_column("run_events", sa.Column("instigator", sa.String()))
    op.create_index("ix_run_events_instigator_type_id", "run_events", ["instigator", "type", "id"],
                    sqlite_where=sa.text(_NOT_NULL), postgresql_where=sa.text(_NOT_NULL))
    op.create_table(
        "instigator_state",
        sa.Column("instigator", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean()),
        sa.Column("last_tick_time", _time),
        sa.Column("last_status", sa.String()),
        sa.Column("cursor", sa.Text()),
        sa.Column("last_tick_event_id", _event_id),
        sa.PrimaryKeyConstraint("instigator"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("expires_at", _time, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    conn = op.get_bind()
    _backfill_instigators(conn)
    _backfill_queued_runs(conn)


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("instigator_state")
    op.drop_index("ix_run_events_instigator_type_id", "run_events")
    op.drop_column("run_events", "instigator")
    op.drop_index("ix_runs_run_key", "runs")
    for name in ("queued_event_id", "mode", "origin", "run_key"):
        op.drop_column("runs", name)


# --- backfill from the event log ---------------------------------------------------------

_meta = sa.MetaData()
_run_events = sa.Table("run_events", _meta, sa.Column("id", _event_id), sa.Column("run_id", sa.String()),
                       sa.Column("type", sa.String()), sa.Column("timestamp", _time),
                       sa.Column("payload", sa.Text()), sa.Column("instigator", sa.String()))
_runs = sa.Table("runs", _meta, *(sa.Column(c, sa.String()) for c in (
    "run_id", "status", "selection", "asset_keys", "tags", "parent_run_id", "location", "run_key", "origin",
    "mode")), sa.Column("created_at", _time), sa.Column("queued_event_id", _event_id))
_instigator_state = sa.Table("instigator_state", _meta, sa.Column("instigator", sa.String()),
                             sa.Column("enabled", sa.Boolean()), sa.Column("last_tick_time", _time),
                             sa.Column("last_status", sa.String()), sa.Column("cursor", sa.Text()),
                             sa.Column("last_tick_event_id", _event_id))


def _events(conn: sa.Connection, *types: str) -> list[tuple[Any, dict[str, Any]]]:
    """Run events of the given types in id order, with their payloads parsed."""
    c = _run_events.c
    out = []
    for row in conn.execute(sa.select(c.id, c.run_id, c.type, c.timestamp, c.payload)
                            .where(c.type.in_(types)).order_by(c.id)):
        try:
            data = json.loads(row.payload)
        except ValueError as exc:
            raise ValueError(f"stored event {row.id} ({row.type!r}) in run_events cannot be read: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"stored event {row.id} ({row.type!r}) in run_events is not a JSON object")
        out.append((row, data))
    return out


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), _BATCH):
        conn.execute(table.insert(), rows[i:i + _BATCH])


def _backfill_instigators(conn: sa.Connection) -> None:
    states: dict[str, dict[str, Any]] = {}
    named = []
    for row, data in _events(conn, "tick", "instigator_toggled"):
        name = data.get("instigator") or ""
        if not name:
            continue  # the writer refuses such events now; an old one derives nothing
        named.append({"i": row.id, "name": name})
        state = states.setdefault(name, {"instigator": name, "enabled": None, "last_tick_time": None,
                                         "last_status": None, "cursor": None, "last_tick_event_id": None})
        if row.type == "instigator_toggled":
            state["enabled"] = bool(data.get("enabled", True))
            continue
        tick_time = data.get("tick_time")
        state.update(last_tick_time=row.timestamp if tick_time is None else tick_time,
                     last_status=data.get("status") or "success", last_tick_event_id=row.id)
        if data.get("cursor") is not None:
            state["cursor"] = data["cursor"]
    for i in range(0, len(named), _BATCH):
        conn.execute(_run_events.update().where(_run_events.c.id == sa.bindparam("i"))
                     .values(instigator=sa.bindparam("name")), named[i:i + _BATCH])
    _insert(conn, _instigator_state, list(states.values()))


def _backfill_queued_runs(conn: sa.Connection) -> None:
    queued = _events(conn, "run_queued")
    if not queued:
        return
    run_ids = sorted({row.run_id for row, _ in queued if row.run_id})
    existing: dict[str, Any] = {}
    first_lifecycle: dict[str, int] = {}
    c = _run_events.c
    for i in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[i:i + _CHUNK]
        existing.update({r.run_id: r for r in conn.execute(sa.select(_runs).where(_runs.c.run_id.in_(chunk)))})
        first_lifecycle.update(conn.execute(
            sa.select(c.run_id, sa.func.min(c.id))
            .where(c.run_id.in_(chunk), c.type.in_(("run_started", "run_finished"))).group_by(c.run_id)).all())
    taken_keys: set[str] = set()
    done: set[str] = set()
    inserts, updates = [], []
    for row, data in queued:
        run_id, run_key = row.run_id, data.get("run_key") or None
        if not run_id or run_id in done or (run_key is not None and run_key in taken_keys):
            continue  # the writer drops a second request for a run or a key
        old = existing.get(run_id)
        if old is not None and first_lifecycle.get(run_id, 0) < row.id:
            continue  # the run existed before it was queued: dropped too
        done.add(run_id)
        if run_key is not None:
            taken_keys.add(run_key)
        queued_values = {
            "selection": data.get("selection", "*"), "asset_keys": _dumps(list(data.get("asset_keys") or ())),
            "tags": _dumps(dict(data.get("tags") or {})), "location": data.get("location"),
            "parent_run_id": data.get("parent_run_id"),
        }
        values = {"run_key": run_key, "origin": data.get("origin", ""), "mode": data.get("mode", "all"),
                  "created_at": row.timestamp, "queued_event_id": row.id}
        if old is None:
            inserts.append({"run_id": run_id, "status": "queued", **values, **queued_values})
            continue
        # started or ended after it was queued: what the run reported wins, the queue fills the gaps
        for name, value in queued_values.items():
            current = getattr(old, name)
            if name == "tags":
                values[name] = _dumps({**json.loads(value), **json.loads(current or "{}")})
            elif name == "asset_keys":
                values[name] = current if json.loads(current or "[]") else value
            else:
                values[name] = current or value
        updates.append({"rid": run_id, **{f"v_{k}": v for k, v in values.items()}})
    _insert(conn, _runs, inserts)
    if updates:
        columns = [k.removeprefix("v_") for k in updates[0] if k != "rid"]  # every update sets the same ones
        conn.execute(_runs.update().where(_runs.c.run_id == sa.bindparam("rid"))
                     .values({k: sa.bindparam(f"v_{k}") for k in columns}), updates)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
