"""Reads for partitions: the latest facts of every partition of some assets, the keys of
dynamic partitions definitions, and backfills.

Partition facts come from the same ``asset_latest`` rows as unpartitioned ones (one row per
(asset, partition)), read once and kept while their identity is unchanged, as ``latest.py``
does for the partition ``''``: a status of 365,000 partitions reads again only the rows a
write touched since the previous read. Unlike ``latest.py`` it reads no payload and builds
nothing per row: an asset's partitions come back as ``PartitionRows`` (``core.partition_rows``),
the rows as fetched, an ``AssetFacts`` built from one (its materialization a
``SummarizedMaterialization`` from the ``mat_*`` columns of migration 0005) only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

from headwater.core.events import AssetMaterialized
from headwater.core.keys import AssetKey
from headwater.core.materialization_summary import SummarizedMaterialization
from headwater.core.partition_rows import IDENTITY, ROW_UPDATED_ID, PartitionRows, Row
from headwater.core.records import AssetFacts
from headwater.errors import StorageError
from headwater.storage.sql.codec import (
    decode_stored,
    gc_paused,
    input_versions_from_json,
    key_of,
    loads,
)
from headwater.storage.sql.driver import Driver
from headwater.storage.sql.latest_rows import CHUNK, SELECT, StoredRows, summaries_from, summary_queries

_ASSET_KEY, _PARTITION, _UPDATED_ID = itemgetter(0), itemgetter(1), itemgetter(ROW_UPDATED_ID)
Read = Callable[[Callable[[Connection], Any]], Any]


class StoredMaterializations:
    """The ``MaterializationSource`` of the summaries a store hands out: the whole event is
    one primary-key read of ``asset_events`` away (retention keeps every latest fact)."""

    def __init__(self, read: Read) -> None:
        self._read = read

    def full(self, mat: SummarizedMaterialization) -> AssetMaterialized:
        return self.event(mat.event_id)

    def event(self, event_id: int) -> AssetMaterialized:
        def fetch(conn: Connection) -> Any:
            db = Driver(conn)
            try:
                return db.fetch(f"SELECT payload FROM asset_events WHERE id = {db.sql.mark}", [event_id])
            finally:
                db.close()

        rows = self._read(fetch)
        if not rows:
            raise StorageError(f"stored event {event_id} (materialization) is gone from asset_events")
        return decode_stored(event_id, AssetMaterialized.type_name, rows[0][0])  # type: ignore[return-value]

    input_versions = staticmethod(input_versions_from_json)


class PartitionFactsReader:
    """Reads the partitioned rows of ``asset_latest``; one per store, holding what it read.

    The first read of an asset fetches all its partitions' rows and keeps them as they came
    (``PartitionRows``). Later reads ask only for the rows changed since (``updated_id``
    above the highest one seen) and hand back, for an asset none of whose rows changed, the
    very same mapping as before: the status pass then keeps its previous result for that
    asset without looking at its partitions one by one.
    """

    def __init__(self, read: Read) -> None:
        self._assets: dict[str, PartitionRows] = {}
        self._mark = 0  # the highest updated_id seen
        self.source = StoredMaterializations(read)
        self._decoder = StoredRows(self.source)

    def read(self, conn: Connection, keys: Iterable[AssetKey]) -> dict[AssetKey, PartitionRows]:
        texts = sorted({str(k) for k in keys})
        if conn.dialect.name == "sqlite" and not conn.in_transaction():
            conn.begin()  # one snapshot for every query of this read
        db = Driver(conn)
        try:
            with gc_paused():
                new = [t for t in texts if t not in self._assets]
                first = not self._assets
                if not first:
                    self._refresh(db)
                for i in range(0, len(new), CHUNK):
                    self._load(db, new[i:i + CHUNK], advance=first)
        finally:
            db.close()
        out: dict[AssetKey, PartitionRows] = {}
        for text in texts:
            per = self._assets.get(text)
            if per:
                out[key_of(text)] = per
        return out

    def summaries(self, conn: Connection, keys: Iterable[AssetKey] | None, partition: str) -> dict[AssetKey, AssetFacts]:
        """The facts of one partition (``''``: unpartitioned assets) of ``keys`` (all when None),
        read once and kept by nobody: each materialization a summary of its ``mat_*`` columns
        (the whole event is fetched if something asks for more), each observation decoded.
        For a reader that reads the whole state once and exits (``headwater status``): decoding
        100,000 materialization payloads, and keeping them for a next read that never comes,
        was a third of its time and most of its memory (``latest.py`` keeps what it decodes)."""
        db = Driver(conn)
        try:
            queries, wanted = summary_queries(db.sql.mark, partition, keys)
            return summaries_from((rows for sql, params in queries for rows in db.batches(sql, params)), wanted,
                                  self._decoder)
        finally:
            db.close()

    def _load(self, db: Driver, texts: list[str], advance: bool) -> None:
        """Keep every partition row of ``texts``. Only the first load moves the mark: on
        PostgreSQL two statements may see two snapshots, and a later load's newer rows must not
        hide a change to an asset loaded before that this read's refresh did not see."""
        mark = db.sql.mark
        rows = db.fetch(f'SELECT {SELECT} FROM asset_latest WHERE asset_key IN ({", ".join([mark] * len(texts))}) '
                        f'AND "partition" <> {mark}', [*texts, ""])
        grouped: dict[str, dict[str, Row]] = {text: {} for text in texts}
        for text, group in groupby(rows, _ASSET_KEY):  # in key order, but nothing relies on it
            same = list(group)
            grouped[text].update(zip(map(_PARTITION, same), same))
        top = max(self._mark, max(filter(None, map(_UPDATED_ID, rows)), default=0))
        decoder = self._decoder
        for text, per in grouped.items():
            self._assets[text] = PartitionRows(per, decoder)
        if advance:
            self._mark = top

    def _refresh(self, db: Driver) -> None:
        mark = db.sql.mark
        rows = db.fetch(f'SELECT {SELECT} FROM asset_latest WHERE updated_id > {mark} AND "partition" <> {mark}',
                        [self._mark, ""])
        changed: dict[str, dict[str, Row]] = {}
        assets = self._assets
        for row in rows:
            text = row[0]
            kept = assets.get(text)
            if kept is not None:
                old = kept.rows.get(row[1])
                if old is None or old[IDENTITY] != row[IDENTITY]:
                    changed.setdefault(text, {})[row[1]] = row
            updated = row[ROW_UPDATED_ID]
            if updated is not None and updated > self._mark:
                self._mark = updated
        for text, new in changed.items():
            assets[text] = assets[text].replaced(new)


def dynamic_partition_keys(conn: Connection) -> dict[str, tuple[str, ...]]:
    """Every dynamic partitions definition's keys, in the order they were added."""
    out: dict[str, list[str]] = {}
    for name, key in conn.exec_driver_sql(
            "SELECT name, partition_key FROM dynamic_partitions ORDER BY name, event_id, partition_key"):
        out.setdefault(name, []).append(key)
    return {name: tuple(keys) for name, keys in out.items()}


_BACKFILL_COLUMNS = ("backfill_id", "status", "created_at", "updated_at", "selection", "mode", "partition_range",
                     "targets", "total", "tags", "chunk_size", "reason")


def backfill_rows(conn: Connection, backfill_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Backfills as stored, newest first (or the one asked for), JSON columns parsed."""
    columns = ", ".join(_BACKFILL_COLUMNS)
    if backfill_id is not None:
        result = conn.exec_driver_sql(
            f"SELECT {columns} FROM backfills WHERE backfill_id = {'?' if conn.dialect.name == 'sqlite' else '%s'}",
            (backfill_id,))
    else:
        result = conn.exec_driver_sql(f"SELECT {columns} FROM backfills ORDER BY created_at DESC LIMIT {int(limit)}")
    out = []
    for row in result:
        d = dict(zip(_BACKFILL_COLUMNS, row))
        d["partition_range"] = tuple(loads(d["partition_range"] or "[]"))
        d["targets"] = tuple((k, tuple(ps)) for k, ps in loads(d["targets"]))
        d["tags"] = loads(d["tags"] or "{}")
        out.append(d)
    return out
