"""Observing dbt sources that have no freshness rule: by row count and a data-time column.

Most sources of a real project declare no ``freshness`` (dbt's own observer needs one and a
``loaded_at_field``), so they would stay ``unobserved`` forever and nothing downstream
would learn that new data landed. Headwater observes each of them with one query: the row
count, plus ``max(<column>)`` when a column says how current the rows are — the source's
``loaded_at_field`` (set without a freshness rule), or ``meta: {headwater:
{data_time_column: event_at}}``. The count (and the max) is the data version, so new rows
make the models built on the source ``upstream_updated``; the max is the data time.

One ``dbt show --inline`` answers for every such source of the project at once (a
``union all`` of one row per source), through the adapter and profile dbt already uses;
each answer is used once, like ``dbt source freshness``'s (``sources.py``).
``Observation.metadata["observed_by"]`` says what each source used, and ``headwater
observe`` prints it. (A relation's last-modified time would be a third way; duckdb, the
adapter tested here, does not expose one.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater.definitions.context import AssetContext
from headwater.definitions.outputs import Observation
from headwater.integrations.dbt.invocation import DbtCommandError
from headwater.integrations.dbt.manifest import DbtSource

if TYPE_CHECKING:
    from headwater.integrations.dbt.project import DbtProject

MAX_AGE = 60.0


def data_time_column(source: DbtSource) -> str | None:
    """The column whose max says how current the source's rows are, if one is configured."""
    hw = source.meta.get("headwater")
    if isinstance(hw, Mapping) and isinstance(hw.get("data_time_column"), str):
        return str(hw["data_time_column"])
    return source.loaded_at_field


class SourceProbe:
    """Row count (and max of a data-time column) of every source without a freshness rule."""

    def __init__(self, project: DbtProject) -> None:
        self.project = project
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Mapping[str, Any]]] = {}

    def observer_for(self, source: DbtSource) -> Callable[[AssetContext], Observation]:
        uid = source.unique_id

        def observe_dbt_source(context: AssetContext) -> Observation:
            return self.observe(uid, context.resources)

        column = data_time_column(source)
        observe_dbt_source.__doc__ = (f"row count{f' and max({column})' if column else ''} of "
                                      f"{source.source_name}.{source.name}")
        return observe_dbt_source

    def observe(self, uid: str, resources: Mapping[str, Any]) -> Observation:
        with self._lock:
            hit = self._cache.pop(uid, None)
            if hit is None or time.time() - hit[0] > MAX_AGE:
                now = time.time()
                self._cache = {u: (now, row) for u, row in self._run(resources).items()}
                hit = self._cache.pop(uid, None)
        source = self.project.manifest.sources[uid]
        key = self.project.asset_key_of(uid)
        if hit is None:
            raise DbtCommandError(f"dbt show reported nothing for source {key} ({uid})")
        row = hit[1]
        rows = int(row.get("n") or 0)
        column = data_time_column(source)
        latest = _when(row.get("m")) if column else None
        meta: dict[str, Any] = {"row_count": rows, "observed_by": "row count"}
        version = f"rows={rows}"
        if column:
            meta["observed_by"] = f"row count and max({column})"
            meta[f"max({column})"] = latest.isoformat() if latest else None
            version += f";max={latest.isoformat() if latest else 'none'}"
        return Observation(data_version=version, data_time=latest, metadata=meta)

    def sources(self) -> list[DbtSource]:
        project = self.project
        return [s for s in project.manifest.sources.values()
                if not s.has_freshness and s.unique_id not in project.source_producer
                and not project.translator.is_produced_elsewhere(s)]

    def _run(self, resources: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        parts = []
        for s in self.sources():
            column = data_time_column(s)
            maximum = f"cast(max({column}) as varchar)" if column else "cast(null as varchar)"
            parts.append(f"select '{s.unique_id}' as uid, count(*) as n, {maximum} as m "
                         f"from {{{{ source('{s.source_name}', '{s.name}') }}}}")
        if not parts:
            return {}
        project = self.project
        opts = project.run_options(resources)
        args = ["show", "--inline", " union all ".join(parts), "--output", "json", "--limit", "-1",
                *opts.global_args()]
        rows: list[Mapping[str, Any]] = []
        with project.invocation(args, opts, wanted=("ShowNode",)) as inv:
            for event in inv.events():
                if event.name == "ShowNode":
                    try:
                        rows = json.loads(event.data.get("preview") or "[]")
                    except ValueError:
                        rows = []
        if inv.returncode != 0:
            raise inv.failure("could not count the rows of the dbt sources")
        return {str(r.get("uid")): r for r in rows if isinstance(r, Mapping)}


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


__all__ = ["SourceProbe", "data_time_column"]
