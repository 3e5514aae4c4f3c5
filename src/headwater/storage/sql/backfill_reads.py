"""Reads a backfill needs beyond its row: its runs, which backfills are still being driven,
and who holds a lease (so a resume can tell a live driver from a dead one).

A backfill's runs are found by their run keys (``backfill:ID:N``), which are indexed and
unique, rather than by looking inside the runs' JSON tags.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from headwater.core.records import RunRecord
from headwater.storage.sql.codec import run_from_row
from headwater.storage.sql.tables import backfills, runs


def runs_with_key_prefix(conn: Connection, prefix: str) -> list[RunRecord]:
    """Runs whose run key starts with ``prefix``, oldest first."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (select(runs).where(runs.c.run_key.like(escaped + "%", escape="\\"))
            .order_by(runs.c.queued_event_id.asc().nulls_last(), runs.c.created_at.asc(), runs.c.run_id))
    return [run_from_row(r) for r in conn.execute(stmt)]


def backfill_ids_with_status(conn: Connection, status: str) -> list[str]:
    """Ids of the backfills in ``status``, oldest first."""
    stmt = select(backfills.c.backfill_id).where(backfills.c.status == status).order_by(backfills.c.created_at)
    return [row[0] for row in conn.execute(stmt)]
