"""What a ``status`` computed once reads of a SQLite store, with the standard library alone.

Importing SQLAlchemy and the store's modules costs ~0.3 s of CPU: a quarter of a
``headwater status --json`` over 10,000 assets that finds no stored rows to print, a third
of one that brings stored rows up to date after an edit. Those reads are few and plain:
the last event id, whether a run is in progress, which assets changed since an event, the
latest facts (``asset_latest``'s summary columns) and check results. So on a SQLite file
they go through ``sqlite3`` on a read-only connection, each statement its own snapshot as
the store's reads are (no transaction is held open: a long-lived process reads what is
there now), decoded by the very code the store uses (``latest_rows.py``, ``codec.py``): the
same facts and results, field for field.

Nothing here writes. A run in progress may be one whose process died, which only the store
marks failed (``Instance.reap_dead_runs``), so the caller opens the store then.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from headwater.core.events import AssetMaterialized, CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.core.materialization_summary import SummarizedMaterialization
from headwater.core.partition_rows import Row
from headwater.core.records import AssetFacts
from headwater.errors import StorageError
from headwater.storage.sql.codec import DecodedEvents, decode_stored, input_versions_from_json, key_of
from headwater.storage.sql.latest_rows import (
    CHECK_COLUMNS,
    StoredRows,
    check_results,
    summaries_from,
    summary_queries,
)
from headwater.storage.sql.mark_probe import LAST_ID, RUNNING, sqlite_path
from headwater.storage.sql.revision import HEAD

_BATCH = 5000


class SqliteReads:
    """The reads of ``status``'s rows (``last_event_id``, ``assets_changed_since``,
    ``latest_facts_once``, ``latest_check_results``: the store's, same answers) and
    ``running``, on one read-only connection in autocommit mode; also the ``MaterializationSource`` of the
    summaries it hands out (a whole event is one primary-key read away)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._rows = StoredRows(self)
        self._lock = threading.RLock()  # a server's threads share the connection, one read at a time

    def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        try:
            with self._lock:
                return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"reading the store failed: {exc}") from exc

    def _batches(self, sql: str, params: list[Any]) -> Iterator[list[Row]]:
        try:
            cursor = self._conn.execute(sql, params)
            while rows := cursor.fetchmany(_BATCH):
                yield rows
        except sqlite3.Error as exc:
            raise StorageError(f"reading the store failed: {exc}") from exc

    def last_event_id(self) -> int:
        return max(v or 0 for v in self._fetch(LAST_ID)[0])

    def running(self) -> bool:
        """Whether a run is in progress (as far as the store knows)."""
        return bool(self._fetch(RUNNING)[0][0])

    def assets_changed_since(self, event_id: int, partition: str = "") -> set[AssetKey]:
        rows = self._fetch('SELECT asset_key FROM asset_latest WHERE updated_id > ? AND "partition" = ? '
                           'UNION SELECT asset_key FROM check_latest WHERE event_id > ? AND "partition" = ?',
                           (event_id, partition, event_id, partition))
        return {key_of(k) for (k,) in rows}

    def latest_facts_once(self, keys: Iterable[AssetKey] | None = None, partition: str = "") -> dict[AssetKey, AssetFacts]:
        queries, wanted = summary_queries("?", partition, keys)
        with self._lock:
            return summaries_from((rows for sql, params in queries for rows in self._batches(sql, params)), wanted,
                                  self._rows)

    def latest_check_results(self, partition: str = "") -> Mapping[AssetKey, Mapping[str, CheckEvaluated]]:
        columns = ", ".join(f'"{c}"' for c in CHECK_COLUMNS)
        rows = self._fetch(f'SELECT {columns} FROM check_latest WHERE "partition" = ?', (partition,))
        return check_results(rows, DecodedEvents(CheckEvaluated.type_name).decode(partition, [(r[2], r[3]) for r in rows]))

    def full(self, mat: SummarizedMaterialization) -> AssetMaterialized:
        return self.event(mat.event_id)

    def event(self, event_id: int) -> AssetMaterialized:
        rows = self._fetch("SELECT payload FROM asset_events WHERE id = ?", (event_id,))
        if not rows:
            raise StorageError(f"stored event {event_id} (materialization) is gone from asset_events")
        return decode_stored(event_id, AssetMaterialized.type_name, rows[0][0])  # type: ignore[return-value]

    input_versions = staticmethod(input_versions_from_json)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_sqlite_reads(database_url: str) -> SqliteReads | None:
    """The reads of the SQLite store at ``database_url``, or None when it is not a SQLite file
    holding a Headwater store of this schema revision (the caller opens the store, which
    migrates an older one and refuses a newer or foreign one)."""
    path = sqlite_path(database_url)
    if path is None or not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error:
        return None
    try:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:  # no such table: not (yet) a store
        revision = []
    if revision != [(HEAD,)]:  # older (the store migrates it), newer or foreign (the store refuses it)
        conn.close()
        return None
    return SqliteReads(conn)
