"""Runs in the order they finished, by the id of their ``run_finished`` event: the cursor a
run-status sensor keeps, so that it sees every finished run exactly once. Event ids grow
in commit order (``writer.py``), and a run finishes once (a second end is dropped), so
"after id N" is a gap-free, duplicate-free stream."""

from __future__ import annotations

from sqlalchemy import Connection, select

from headwater.core.records import RunRecord
from headwater.storage.sql.codec import run_from_row
from headwater.storage.sql.tables import TYPE_INDEXED, run_events, runs


def finished_after(conn: Connection, after_id: int, limit: int) -> list[tuple[int, RunRecord]]:
    e = run_events.c
    stmt = (select(e.id, runs).join(runs, runs.c.run_id == e.run_id)
            .where(e.type == "run_finished", TYPE_INDEXED, e.id > after_id).order_by(e.id).limit(max(limit, 0)))
    return [(int(row[0]), run_from_row(row)) for row in conn.execute(stmt)]
