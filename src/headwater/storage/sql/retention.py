"""Retention: deleting what a ``RetentionPolicy`` lets go, then giving the space back.

What goes, per kind (each older than its cutoff, see ``core/retention.py``):

* ``logs`` — log lines of runs that ended before the cutoff (a run's log goes whole);
* ``step_events`` — run and step lifecycle events, asset failures and skips of runs that
  ended before the cutoff, their ``steps`` rows, and "observed, unchanged" notes. The ``runs`` row stays: it is
  the run's summary (status, times, selection, reason), kept forever;
* ``asset_facts`` — materializations, observations, check results and alert transitions;
* ``ticks`` — daemon ticks and alert deliveries.

What never goes, whatever the policy, so that status, staleness, ``why`` and the latest
history answer exactly as before (docs/design.md §5): every event a derived table points at —
the latest materialization and observation of every asset *partition* (``asset_latest``),
the latest result of every check per partition (``check_latest``), every alert's current
state (``alert_state``), each instigator's latest tick (``instigator_state``; the automation
memory lives in it) — events of runs still queued or running, and the newest event of
each table (on PostgreSQL the next event id is the highest stored, see ``writer.py``).

Deletion runs in batches of ``BATCH`` rows, each its own short write transaction under the
store's write lock, so writers (a daemon, a run) are held up for milliseconds at a time,
never for the whole collection. Then the space is given back: SQLite with an incremental
vacuum (a store created before auto_vacuum was set is converted once with a full VACUUM)
and a WAL checkpoint; PostgreSQL with ``VACUUM (ANALYZE)`` of the tables touched, which
makes the dead rows' space reusable and keeps the planner's statistics right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, func, not_, or_, select, text, union

from headwater.core.events import RunStatus
from headwater.core.retention import RetentionPolicy
from headwater.storage.sql.engines import Engines
from headwater.storage.sql.tables import (
    TYPE_INDEXED,
    alert_state,
    asset_events,
    asset_latest,
    check_latest,
    instigator_state,
    run_events,
    runs,
    steps,
)
from headwater.storage.sql.writer import take_write_lock

BATCH = 5000
_TERMINAL = [s.value for s in RunStatus if s.is_terminal]
_LIFECYCLE = ("run_started", "run_finished", "run_queued", "step_started", "step_succeeded", "step_failed",
              "step_skipped", "asset_failed", "asset_skipped")


@dataclass
class GcReport:
    """What a collection deleted (or, dry, would delete), and the space it gave back."""

    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)  # per kind
    payload_bytes: dict[str, int] = field(default_factory=dict)  # per kind: the JSON of the rows
    size_before: int = 0  # bytes on disk (SQLite: file + WAL; PostgreSQL: the tables with indexes)
    size_after: int = 0
    seconds: float = 0.0
    policy: dict[str, str] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def bytes_freed(self) -> int:
        """Space given back to the file system (dry run: the payload bytes that would go)."""
        if self.dry_run:
            return sum(self.payload_bytes.values())
        return max(0, self.size_before - self.size_after)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "rows": dict(self.rows), "payload_bytes": dict(self.payload_bytes),
                "total_rows": self.total_rows, "bytes_freed": self.bytes_freed, "size_before": self.size_before,
                "size_after": self.size_after, "seconds": round(self.seconds, 3), "policy": dict(self.policy)}


def collect(engines: Engines, run: Callable[[Callable[[Connection], Any]], Any],
            read: Callable[[Callable[[Connection], Any]], Any], policy: RetentionPolicy, now: float,
            dry_run: bool = False, convert: bool = True) -> GcReport:
    """Apply ``policy`` at ``now``. ``run`` executes one write transaction, ``read`` one read
    (the store's, with its busy retries and error wording). ``convert=False`` never runs the
    one-time full VACUUM of a SQLite file from before auto_vacuum (the daemon: it would hold
    the write lock for as long as a copy of the whole file takes; ``headwater gc`` does it)."""
    started = time.perf_counter()
    report = GcReport(dry_run=dry_run, policy=policy.describe())
    report.size_before = read(lambda conn: _size(conn, engines))
    cut = policy.cutoffs(now)
    kinds: list[tuple[str, Table, Callable[[Connection], ColumnElement[bool]]]] = []
    if cut["logs"] is not None:
        kinds.append(("logs", run_events, lambda c, t=cut["logs"]: _logs(t)))
    if cut["step_events"] is not None:
        kinds.append(("step_events", run_events, lambda c, t=cut["step_events"]: _lifecycle(t)))
    if cut["asset_facts"] is not None:
        kinds.append(("asset_facts", asset_events, lambda c, t=cut["asset_facts"]: _facts(t)))
        kinds.append(("alert_transitions", run_events, lambda c, t=cut["asset_facts"]: _alerts(t)))
    if cut["ticks"] is not None:
        kinds.append(("ticks", run_events, lambda c, t=cut["ticks"]: _ticks(t)))
    for name, table, where in kinds:
        if dry_run:
            n, size = read(lambda conn, t=table, w=where: _measure(conn, t, w(conn)))
        else:
            n, size = _delete_in_batches(run, table, where)
        report.rows[name], report.payload_bytes[name] = n, size
    if cut["step_events"] is not None:
        step_cut = cut["step_events"]
        if dry_run:
            report.rows["step_rows"] = read(lambda conn: conn.execute(
                select(func.count()).select_from(steps).where(_old_steps(step_cut))).scalar() or 0)
        else:
            report.rows["step_rows"] = _delete_steps(run, step_cut)
        report.payload_bytes["step_rows"] = 0
    if not dry_run:
        _reclaim(engines, convert)
    report.size_after = read(lambda conn: _size(conn, engines)) if not dry_run else report.size_before
    report.seconds = time.perf_counter() - started
    return report


# -- what goes ---------------------------------------------------------------------------------


def _finished_before(cutoff: float) -> Any:
    """Runs that ended before ``cutoff``: their logs and step events go together, whole."""
    return select(runs.c.run_id).where(runs.c.status.in_(_TERMINAL), runs.c.ended_at < cutoff)


def _newest(table: Table) -> Any:
    return select(func.max(table.c.id)).scalar_subquery()


def _logs(cutoff: float) -> ColumnElement[bool]:
    c = run_events.c
    return and_(c.type == "log", c.run_id.in_(_finished_before(cutoff)), c.id != _newest(run_events))


def _lifecycle(cutoff: float) -> ColumnElement[bool]:
    c = run_events.c
    of_old_runs = and_(c.type.in_(_LIFECYCLE), c.run_id.in_(_finished_before(cutoff)))
    unchanged = and_(c.type == "observation_unchanged", TYPE_INDEXED, c.timestamp < cutoff)
    return and_(or_(of_old_runs, unchanged), c.id != _newest(run_events))


def _facts(cutoff: float) -> ColumnElement[bool]:
    c = asset_events.c
    kept = union(
        select(asset_latest.c.last_materialization_id).where(asset_latest.c.last_materialization_id.is_not(None)),
        select(asset_latest.c.last_observation_id).where(asset_latest.c.last_observation_id.is_not(None)),
        select(check_latest.c.event_id),
    )
    # NOT IN over a subquery with no NULLs in it (filtered above): safe on both backends.
    return and_(c.timestamp < cutoff, not_(c.id.in_(kept)), c.id != _newest(asset_events))


def _alerts(cutoff: float) -> ColumnElement[bool]:
    c = run_events.c
    return and_(c.type == "alert_transition", TYPE_INDEXED, c.timestamp < cutoff,
                not_(c.id.in_(select(alert_state.c.event_id))), c.id != _newest(run_events))


def _ticks(cutoff: float) -> ColumnElement[bool]:
    c = run_events.c
    latest_per_instigator = (select(func.max(c.id)).where(c.type == "tick", TYPE_INDEXED, c.instigator.is_not(None))
                             .group_by(c.instigator))
    referenced = select(instigator_state.c.last_tick_event_id).where(
        instigator_state.c.last_tick_event_id.is_not(None))
    ticks = and_(c.type == "tick", TYPE_INDEXED, not_(c.id.in_(latest_per_instigator)),
                 not_(c.id.in_(referenced)))
    # each branch says TYPE_INDEXED itself: SQLite picks an index per branch of an OR
    return and_(or_(ticks, and_(c.type == "alert_delivery", TYPE_INDEXED)), c.timestamp < cutoff,
                c.id != _newest(run_events))


def _old_steps(cutoff: float) -> ColumnElement[bool]:
    return steps.c.run_id.in_(_finished_before(cutoff))


# -- deleting ------------------------------------------------------------------------------------


def _measure(conn: Connection, table: Table, where: ColumnElement[bool]) -> tuple[int, int]:
    row = conn.execute(select(func.count(), func.coalesce(func.sum(func.length(table.c.payload)), 0))
                       .select_from(table).where(where)).one()
    return int(row[0] or 0), int(row[1] or 0)


def _delete_in_batches(run: Callable[[Callable[[Connection], Any]], Any], table: Table,
                       where: Callable[[Connection], ColumnElement[bool]]) -> tuple[int, int]:
    total = size = 0
    while True:
        def batch(conn: Connection) -> tuple[int, int]:
            take_write_lock(conn)
            rows = conn.execute(select(table.c.id, func.length(table.c.payload)).where(where(conn))
                                .order_by(table.c.id).limit(BATCH)).all()
            if rows:
                conn.execute(delete(table).where(table.c.id.in_([r[0] for r in rows])))
            return len(rows), sum(int(r[1] or 0) for r in rows)

        n, s = run(batch)
        total, size = total + n, size + s
        if n < BATCH:
            return total, size


def _delete_steps(run: Callable[[Callable[[Connection], Any]], Any], cutoff: float) -> int:
    def go(conn: Connection) -> int:
        take_write_lock(conn)
        return int(conn.execute(delete(steps).where(_old_steps(cutoff))).rowcount or 0)

    return int(run(go))


# -- giving the space back -----------------------------------------------------------------------


def _size(conn: Connection, engines: Engines) -> int:
    if engines.is_sqlite:
        assert engines.path is not None
        wal = engines.path.with_name(engines.path.name + "-wal")
        return (engines.path.stat().st_size if engines.path.exists() else 0) + (wal.stat().st_size if wal.exists() else 0)
    names = ("run_events", "asset_events", "runs", "steps", "asset_latest", "check_latest")
    total = 0
    for name in names:
        total += int(conn.execute(text("SELECT pg_total_relation_size(to_regclass(:t))"), {"t": name}).scalar() or 0)
    return total


def _reclaim(engines: Engines, convert: bool) -> None:
    if engines.is_sqlite:
        raw = engines.write.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
                if mode != 2 and convert:  # created before incremental vacuum was set: convert once
                    cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
                    cursor.execute("VACUUM")
                elif mode == 2:
                    # executescript steps the pragma to completion; execute() would step it once,
                    # which frees a single page
                    raw.executescript("PRAGMA incremental_vacuum;")
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                cursor.close()
        finally:
            raw.close()
        return
    with engines.write.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM (ANALYZE) run_events, asset_events, steps")
