"""Observing dbt sources with ``dbt source freshness``: max(loaded_at) becomes the data time.

A source with a freshness rule and a ``loaded_at_field`` (or ``loaded_at_query``) gets an
observe function. Observing runs ``dbt source freshness`` and records the source's
``max_loaded_at`` as its data time (and, as its data version, since new rows mean new
content); from there the data time flows to every model built on it (docs/design.md, data time).

One dbt invocation answers for every such source of the project, so observing all of
them (``headwater observe 'group:sources'``) costs one dbt run, not one per source. Each
answer is used once and for at most ``MAX_AGE`` seconds: observing the same source again
runs dbt again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater.definitions.context import AssetContext
from headwater.definitions.outputs import Observation
from headwater.integrations.dbt.invocation import DbtCommandError
from headwater.integrations.dbt.manifest import DbtSource

if TYPE_CHECKING:
    from headwater.integrations.dbt.project import DbtProject

MAX_AGE = 60.0


@dataclass(frozen=True, slots=True)
class FreshnessResult:
    unique_id: str
    status: str
    max_loaded_at: datetime | None
    snapshotted_at: str | None
    error: str | None
    fetched_at: float


class FreshnessObserver:
    def __init__(self, project: DbtProject) -> None:
        self.project = project
        self._lock = threading.Lock()
        self._cache: dict[str, FreshnessResult] = {}

    def observer_for(self, source: DbtSource) -> Callable[[AssetContext], Observation]:
        uid = source.unique_id

        def observe_dbt_source(context: AssetContext) -> Observation:
            return self.observe(uid, context.resources)

        observe_dbt_source.__doc__ = f"dbt source freshness for {source.source_name}.{source.name}"
        return observe_dbt_source

    def observe(self, uid: str, resources: Mapping[str, Any]) -> Observation:
        with self._lock:
            result = self._cache.pop(uid, None)
            if result is None or time.time() - result.fetched_at > MAX_AGE:
                self._cache = self._run(resources)
                result = self._cache.pop(uid, None)
        key = self.project.asset_key_of(uid)
        if result is None:
            raise DbtCommandError(f"dbt source freshness reported nothing for source {key} ({uid})")
        if result.error or result.max_loaded_at is None:
            raise DbtCommandError(f"dbt source freshness could not check source {key}: "
                                  f"{result.error or result.status}")
        stamp = result.max_loaded_at.isoformat()
        return Observation(data_version=stamp, data_time=result.max_loaded_at,
                           metadata={"max_loaded_at": stamp, "dbt/freshness_status": result.status,
                                     "dbt/snapshotted_at": result.snapshotted_at})

    def _run(self, resources: Mapping[str, Any]) -> dict[str, FreshnessResult]:
        project = self.project
        sources = [s for s in project.manifest.sources.values()
                   if s.has_freshness and s.unique_id not in project.source_producer
                   and not project.translator.is_produced_elsewhere(s)]
        opts = project.run_options(resources)
        args = ["source", "freshness", "--select", *(s.selector for s in sources), *opts.global_args()]
        with project.invocation(args, opts) as inv:
            inv.wait()
        path = project.paths.target_dir / "sources.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            raise inv.failure("dbt source freshness wrote no readable sources.json") from None
        if (data.get("metadata") or {}).get("invocation_id") != inv.invocation_id:
            raise inv.failure(f"{path} is not from this dbt source freshness run")
        now = time.time()
        out = {}
        for r in data.get("results") or []:
            uid = r.get("unique_id")
            if not isinstance(uid, str):
                continue
            out[uid] = FreshnessResult(uid, str(r.get("status") or ""), _when(r.get("max_loaded_at")),
                                       r.get("snapshotted_at"), r.get("error"), now)
        return out


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
