"""The latest facts of a whole graph in one query, decoding only what changed.

Status for every asset is derived from ``asset_latest`` on each refresh of the UI and
each daemon tick. The query is one scan of one table; what costs is turning 10,000 JSON
payloads back into events. Stored events never change, so a decoded row is kept per
(asset, partition) with the row's identity — every column but the two payloads, which the
event ids stand for — and reused as long as that is the same: after the first read only
rows a write touched since are decoded again. The cache is per store (per process) and
bounded.

On SQLite, once a partition has been read, the next reads leave the payloads out of the
scan (they are most of its bytes) and fetch them only for the rows whose event ids
changed, in the same read transaction, so the two queries see one snapshot. PostgreSQL
keeps the one query: under its default isolation two statements may see two snapshots.
Rows come straight from the driver's cursor (``driver.py``): building 10,000 SQLAlchemy
rows cost as much as the scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from headwater.core.events import AssetMaterialized, AssetObserved
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.storage.sql.codec import decode_event, error_from_json, gc_paused, key_of
from headwater.storage.sql.driver import Driver, Where
from headwater.storage.sql.latest_rows import CHUNK, IDENTITY_COLUMNS
from headwater.storage.sql.tables import asset_latest

_CACHE_LIMIT = 200_000

# The row's identity (what the cache compares) first, then the key, then the payloads.
_IDENTITY = IDENTITY_COLUMNS
_LIGHT = ("asset_key", *_IDENTITY)
_FULL = (*_LIGHT, "last_materialization", "last_observation")
_PAYLOADS = ("asset_key", "last_materialization_id", "last_materialization", "last_observation_id",
             "last_observation")

_Signature = tuple[Any, ...]
_Entry = tuple[_Signature, AssetFacts]
_ATTEMPT = {s.value: s for s in AttemptStatus}


class LatestFactsReader:
    """Reads ``asset_latest`` into ``AssetFacts``; one per store, holding its decode cache."""

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, _Entry]] = {}  # partition -> asset key -> entry

    def read(self, conn: Connection, keys: Iterable[AssetKey] | None, partition: str) -> dict[AssetKey, AssetFacts]:
        where: Where = (("partition", 0),)
        params: list[Any] = [partition]
        wanted: set[str] | None = None
        if keys is not None:
            keys = list(keys)
            wanted = {str(k) for k in keys}
            if len(wanted) <= CHUNK:
                where += (("asset_key", len(wanted)),)
                params += sorted(wanted)
            # else: scan the partition and filter here, clear of any parameter limit
        if sum(map(len, self._cache.values())) > _CACHE_LIMIT:
            self._cache.clear()  # before the read: a light read relies on what is cached
        cache = self._cache.get(partition)
        light = bool(cache) and conn.dialect.name == "sqlite"
        if light and not conn.in_transaction():
            conn.begin()  # one snapshot for both queries; rolled back when the connection closes
        db = Driver(conn)
        try:
            with gc_paused():
                rows = db.fetch(db.sql.select(asset_latest, _LIGHT if light else _FULL, where), params)
                payloads = self._payloads(db, rows, partition, cache, wanted) if light else None
                return self._facts(rows, partition, wanted, payloads)
        finally:
            db.close()

    @staticmethod
    def _payloads(db: Driver, rows: Sequence[Any], partition: str, cache: dict[str, _Entry] | None,
                  wanted: set[str] | None) -> dict[str, tuple[Any, ...]]:
        """The payloads of the rows whose materialization or observation is not the cached one."""
        cache = cache or {}
        changed = []
        for row in rows:
            if wanted is not None and row[0] not in wanted:
                continue
            hit = cache.get(row[0])
            if hit is None or hit[0][0] != row[1] or hit[0][1] != row[2]:
                changed.append(row[0])
        out: dict[str, tuple[Any, ...]] = {}
        for i in range(0, len(changed), CHUNK):
            chunk = changed[i:i + CHUNK]
            sql = db.sql.select(asset_latest, _PAYLOADS, (("partition", 0), ("asset_key", len(chunk))))
            for key_text, mat_id, mat, obs_id, obs in db.fetch(sql, [partition, *chunk]):
                out[key_text] = (mat_id, mat, obs_id, obs)
        return out

    def _facts(self, rows: Sequence[Any], partition: str, wanted: set[str] | None,
               payloads: dict[str, tuple[Any, ...]] | None) -> dict[AssetKey, AssetFacts]:
        cache = self._cache.setdefault(partition, {})
        out: dict[AssetKey, AssetFacts] = {}
        for row in rows:
            key_text = row[0]
            if wanted is not None and key_text not in wanted:
                continue
            signature = row[1:8]
            hit = cache.get(key_text)
            if hit is not None and hit[0] == signature:
                facts = hit[1]
            else:
                if payloads is None:
                    mat, obs = row[8], row[9]
                else:  # not fetched: the cached entry's events are still the latest
                    _mat_id, mat, _obs_id, obs = payloads.get(key_text) or (None, None, None, None)
                facts = self._decode(key_text, partition, signature, mat, obs, hit)
                cache[key_text] = (signature, facts)
            out[facts.key] = facts
        return out

    @staticmethod
    def _decode(key_text: str, partition: str, signature: _Signature, mat: str | None, obs: str | None,
                previous: _Entry | None) -> AssetFacts:
        mat_id, obs_id, run_id, status, at, failure, checked_at = signature
        materialization: Any = None
        observation: Any = None
        if previous is not None and previous[0][0] == mat_id:
            materialization = previous[1].last_materialization
        elif mat:
            materialization = decode_event(AssetMaterialized.type_name, mat)
        if previous is not None and previous[0][1] == obs_id:
            observation = previous[1].last_observation
        elif obs:
            observation = decode_event(AssetObserved.type_name, obs)
        return AssetFacts(
            key=key_of(key_text), partition=partition,
            last_materialization=materialization,
            last_observation=observation,
            last_attempt_run_id=run_id,
            last_attempt_status=_ATTEMPT[status] if status else None,
            last_attempt_at=at,
            last_failure=error_from_json(failure),
            last_observation_checked_at=checked_at,
        )
