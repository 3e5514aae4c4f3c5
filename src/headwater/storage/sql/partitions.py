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

_CACHE_LIMIT = 2_000_000
_LIGHT = ("asset_key", "partition", *_IDENTITY)
_Entry = tuple[tuple[Any, ...], AssetFacts]


class PartitionFactsReader:
    """Reads the partitioned rows of ``asset_latest``; one per store, holding its decode cache."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], _Entry] = {}

    def read(self, conn: Connection, keys: Iterable[AssetKey]) -> dict[AssetKey, dict[str, AssetFacts]]:
        texts = sorted({str(k) for k in keys})
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        if conn.dialect.name == "sqlite" and not conn.in_transaction():
            conn.begin()  # one snapshot for the light scan and the payloads it fetches
        db = Driver(conn)
        out: dict[AssetKey, dict[str, AssetFacts]] = {}
        try:
            with gc_paused():
                for i in range(0, len(texts), CHUNK):
                    self._read_chunk(db, texts[i:i + CHUNK], out)
        finally:
            db.close()
        return out

    def _read_chunk(self, db: Driver, texts: list[str], out: dict[AssetKey, dict[str, AssetFacts]]) -> None:
        mark = db.sql.mark
        marks = ", ".join([mark] * len(texts))
        columns = ", ".join(f'"{c}"' for c in _LIGHT)
        rows = db.fetch(f'SELECT {columns} FROM asset_latest WHERE asset_key IN ({marks}) AND "partition" <> {mark}',
                        [*texts, ""])
        cache = self._cache
        changed: dict[str, list[str]] = {}
        for row in rows:
            hit = cache.get((row[0], row[1]))
            if hit is None or hit[0][0] != row[2] or hit[0][1] != row[3]:
                changed.setdefault(row[0], []).append(row[1])
        payloads: dict[tuple[str, str], tuple[Any, Any]] = {}
        for key_text, partitions in changed.items():
            for j in range(0, len(partitions), CHUNK):
                part = partitions[j:j + CHUNK]
                sql = (f'SELECT "partition", last_materialization, last_observation FROM asset_latest '
                       f'WHERE asset_key = {mark} AND "partition" IN ({", ".join([mark] * len(part))})')
                for partition, mat, obs in db.fetch(sql, [key_text, *part]):
                    payloads[(key_text, partition)] = (mat, obs)
        decode = LatestFactsReader._decode
        for row in rows:
            ident = (row[0], row[1])
            signature = row[2:]
            hit = cache.get(ident)
            if hit is not None and hit[0] == signature:
                facts = hit[1]
            else:
                mat, obs = payloads.get(ident, (None, None))
                facts = decode(row[0], row[1], signature, mat, obs, hit)
                cache[ident] = (signature, facts)
            per = out.get(facts.key)
            if per is None:
                per = out[key_of(row[0])] = {}
            per[row[1]] = facts


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
