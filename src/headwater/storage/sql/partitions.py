"""Reads for partitions: the latest facts of every partition of some assets, the keys of
dynamic partitions definitions, and backfills.

Partition facts come from the same ``asset_latest`` rows as unpartitioned ones (one row per
(asset, partition)), decoded once and kept while their identity is unchanged, exactly as
``latest.py`` does for the partition ``''``: a status of 365,000 partitions decodes only the
rows a write touched since the previous read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts
from headwater.storage.sql.codec import gc_paused, key_of, loads
from headwater.storage.sql.driver import Driver
from headwater.storage.sql.latest import _IDENTITY, LatestFactsReader
from headwater.storage.sql.writer import CHUNK

_LIGHT = ("asset_key", "partition", *_IDENTITY)
_WITH_PAYLOADS = (*_LIGHT, "last_materialization", "last_observation", "updated_id")
_Entry = tuple[tuple[Any, ...], AssetFacts]


class PartitionFactsReader:
    """Reads the partitioned rows of ``asset_latest``; one per store, holding what it decoded.

    The first read of an asset decodes all its partitions; later reads ask only for the rows
    changed since (``updated_id`` above the highest one seen) and hand back, for an asset none
    of whose rows changed, the very same mapping as before: the status pass then keeps its
    previous result for that asset without looking at its partitions one by one.
    """

    def __init__(self) -> None:
        self._assets: dict[str, dict[str, AssetFacts]] = {}
        self._signatures: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._mark = 0  # the highest updated_id seen

    def read(self, conn: Connection, keys: Iterable[AssetKey]) -> dict[AssetKey, dict[str, AssetFacts]]:
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
        out: dict[AssetKey, dict[str, AssetFacts]] = {}
        for text in texts:
            per = self._assets.get(text)
            if per:
                out[key_of(text)] = per
        return out

    def _load(self, db: Driver, texts: list[str], advance: bool) -> None:
        """Decode every partition of ``texts``. Only the first load moves the mark: on PostgreSQL
        two statements may see two snapshots, and a later load's newer rows must not hide a
        change to an asset loaded before that this read's refresh did not see."""
        mark = db.sql.mark
        columns = ", ".join(f'"{c}"' for c in _WITH_PAYLOADS)
        rows = db.fetch(f'SELECT {columns} FROM asset_latest WHERE asset_key IN ({", ".join([mark] * len(texts))}) '
                        f'AND "partition" <> {mark}', [*texts, ""])
        for text in texts:
            self._assets[text] = {}
        mark = self._mark
        self._apply(rows, copy=False)
        if not advance:
            self._mark = mark

    def _refresh(self, db: Driver) -> None:
        mark = db.sql.mark
        columns = ", ".join(f'"{c}"' for c in _WITH_PAYLOADS)
        rows = db.fetch(f'SELECT {columns} FROM asset_latest WHERE updated_id > {mark} AND "partition" <> {mark}',
                        [self._mark, ""])
        self._apply([r for r in rows if r[0] in self._assets], copy=True)
        for r in rows:
            if r[-1] is not None and r[-1] > self._mark:
                self._mark = r[-1]

    def _apply(self, rows: list[Any], copy: bool) -> None:
        """Decode ``rows`` into the kept mappings; with ``copy``, an asset that changes gets a
        new mapping (the old one may still be in a caller's hands, and identity means unchanged)."""
        decode = LatestFactsReader._decode
        copied: set[str] = set()
        signatures = self._signatures
        for row in rows:
            text, partition = row[0], row[1]
            signature = row[2:9]
            ident = (text, partition)
            per = self._assets[text]
            if copy and text not in copied:
                per = self._assets[text] = dict(per)
                copied.add(text)
            old = per.get(partition)
            previous = (signatures[ident], old) if old is not None and ident in signatures else None
            if previous is not None and previous[0] == signature:
                continue
            per[partition] = decode(text, partition, signature, row[9], row[10], previous)
            signatures[ident] = signature
            if row[11] is not None and row[11] > self._mark:
                self._mark = row[11]


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
