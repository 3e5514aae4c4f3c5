"""Check results: the latest evaluation of every check in one query, and one check's history.

``check_latest`` holds the newest ``check_evaluation`` per (asset, partition, check), kept
by the writer in the same transaction as the event. Status reads it for the whole graph on
every refresh, so decoded results are kept by event id (``DecodedEvents``) and only
evaluations written since the previous read are decoded again.

History comes from ``asset_events`` through its (asset, partition, type, id) index. The
check's name lives only in the payload, which we never query inside, so the history of one
check reads the asset's evaluations newest first, page by page, until it has enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from headwater.core.events import CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.core.records import StoredEvent
from headwater.storage.sql.codec import DecodedEvents, gc_paused, stored_event
from headwater.storage.sql.driver import Driver
from headwater.storage.sql.latest_rows import CHECK_COLUMNS, check_results
from headwater.storage.sql.tables import asset_events, check_latest

_TYPE = CheckEvaluated.type_name
_LATEST = CHECK_COLUMNS
_FIRST_PAGE = 100
_MAX_PAGE = 5_000


class ChecksReader:
    """Reads ``check_latest`` and check history; one per store, holding its decode cache."""

    def __init__(self) -> None:
        self._decoded = DecodedEvents(_TYPE)
        # partition -> (row count, newest event id) and the mapping read with it
        self._last: dict[str, tuple[tuple[int, int | None], Mapping[AssetKey, Mapping[str, CheckEvaluated]]]] = {}

    def latest(self, conn: Connection, partition: str) -> Mapping[AssetKey, Mapping[str, CheckEvaluated]]:
        """Every check's latest result. Unchanged since the previous read (no row added, none
        replaced: a replacing evaluation always has a newer id than any row) is told by one
        aggregate and answered with the very mapping read then, read-only and shared; so an
        unchanged read costs a count, and the health pass sees the same objects as before."""
        c = check_latest.c
        if conn.dialect.name == "sqlite" and not conn.in_transaction():
            conn.begin()  # the count and the rows from one snapshot; rolled back when the connection closes
        count, newest = conn.execute(select(func.count(), func.max(c.event_id)).where(c.partition == partition)).one()
        signature = (count, newest)
        last = self._last.get(partition)
        if last is not None and last[0] == signature:
            return last[1]
        db = Driver(conn)  # straight from the driver's cursor: 20,000 SQLAlchemy rows cost more than the scan
        with gc_paused():
            try:
                rows = db.fetch(db.sql.select(check_latest, _LATEST, (("partition", 0),)), (partition,))
            finally:
                db.close()
            result = check_results(rows, self._decoded.decode(partition, [(row[2], row[3]) for row in rows]))
        self._last[partition] = (signature, result)
        return result

    @staticmethod
    def history(conn: Connection, key: AssetKey, check_name: str | None, partition: str,
                limit: int) -> list[StoredEvent]:
        c = asset_events.c
        stmt: Any = (select(c.id, c.type, c.schema_version, c.payload)
                     .where(c.asset_key == str(key), c.partition == partition, c.type == _TYPE)
                     .order_by(c.id.desc()))
        if limit <= 0:
            return []
        if check_name is None:
            return [stored_event(*row) for row in conn.execute(stmt.limit(limit))]
        out: list[StoredEvent] = []
        page, before = max(limit, _FIRST_PAGE), None
        while True:
            rows = conn.execute((stmt if before is None else stmt.where(c.id < before)).limit(page)).all()
            for row in rows:
                stored = stored_event(*row)
                if stored.event.check_name == check_name:  # type: ignore[attr-defined]
                    out.append(stored)
                    if len(out) == limit:
                        return out
            if len(rows) < page:
                return out
            before, page = rows[-1][0], min(page * 2, _MAX_PAGE)
