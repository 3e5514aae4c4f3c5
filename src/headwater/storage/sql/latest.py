"""The latest facts of a whole graph in one query, decoding only what changed.

Status for every asset is derived from ``asset_latest`` on each refresh of the UI and
each daemon tick. The query is one scan of one table; what costs is turning 10,000 JSON
payloads back into events. Stored events never change, so a decoded row is kept per
(asset, partition) with the row's identity — every column but the two payloads, which the
event ids stand for — and reused as long as that is the same: after the first read only
rows a write touched since are decoded again. The cache is per store (per process) and
bounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from headwater.core.events import AssetMaterialized, AssetObserved
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.storage.sql.codec import decode_event, error_from_json, gc_paused, key_of
from headwater.storage.sql.tables import asset_latest
from headwater.storage.sql.writer import CHUNK

_CACHE_LIMIT = 200_000

_COLUMNS = (
    asset_latest.c.asset_key, asset_latest.c.last_materialization_id, asset_latest.c.last_materialization,
    asset_latest.c.last_observation_id, asset_latest.c.last_observation, asset_latest.c.last_attempt_run_id,
    asset_latest.c.last_attempt_status, asset_latest.c.last_attempt_at, asset_latest.c.last_failure,
    asset_latest.c.last_observation_checked_at,
)

_Signature = tuple[Any, ...]
_ATTEMPT = {s.value: s for s in AttemptStatus}


class LatestFactsReader:
    """Reads ``asset_latest`` into ``AssetFacts``; one per store, holding its decode cache."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[_Signature, AssetFacts]] = {}

    def read(self, conn: Connection, keys: Iterable[AssetKey] | None, partition: str) -> dict[AssetKey, AssetFacts]:
        stmt = select(*_COLUMNS).where(asset_latest.c.partition == partition)
        wanted: set[str] | None = None
        if keys is not None:
            wanted = {str(k) for k in keys}
            if len(wanted) <= CHUNK:
                stmt = stmt.where(asset_latest.c.asset_key.in_(sorted(wanted)))
            # else: fetch the partition and filter here, clear of any parameter limit
        with gc_paused():
            rows = conn.execute(stmt).all()
            if len(self._cache) + len(rows) > _CACHE_LIMIT:
                self._cache.clear()
            return self._facts(rows, partition, wanted)

    def _facts(self, rows: Sequence[Any], partition: str, wanted: set[str] | None) -> dict[AssetKey, AssetFacts]:
        cache = self._cache
        out: dict[AssetKey, AssetFacts] = {}
        for key_text, mat_id, mat, obs_id, obs, run_id, status, at, failure, checked_at in rows:
            if wanted is not None and key_text not in wanted:
                continue
            signature = (mat_id, obs_id, run_id, status, at, failure, checked_at)
            hit = cache.get((key_text, partition))
            if hit is not None and hit[0] == signature:
                facts = hit[1]
            else:
                facts = self._decode(key_text, partition, signature, mat, obs, hit)
                cache[(key_text, partition)] = (signature, facts)
            out[facts.key] = facts
        return out

    @staticmethod
    def _decode(key_text: str, partition: str, signature: _Signature, mat: str | None, obs: str | None,
                previous: tuple[_Signature, AssetFacts] | None) -> AssetFacts:
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
