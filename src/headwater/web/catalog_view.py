"""The asset catalog: one row per asset, sortable by any column, filtered, paginated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.core.health import AssetHealth
from headwater.errors import HeadwaterError
from headwater.web.graph_view import GraphQuery, visible_keys

PAGE_SIZE = 200
SEVERITY = {"degraded": 0, "warning": 1, "unknown": 2, "healthy": 3}
FRESHNESS = {"overdue": 0, "warn": 1, "unknown": 2, "fresh": 3, "-": 4}
COLUMNS = ("key", "group", "kind", "owners", "tags", "health", "status", "stale", "freshness", "last_materialized",
           "checks")


@dataclass
class CatalogRow:
    h: AssetHealth
    key: str
    group: str
    kinds: str
    freshness: str
    bad_checks: list[str]
    checks_total: int
    owners: str = ""
    tags: tuple[tuple[str, str], ...] = ()


def _sort_key(column: str) -> Any:
    return {
        "key": lambda r: r.key,
        "group": lambda r: (r.group, r.key),
        "kind": lambda r: (r.kinds, r.key),
        "owners": lambda r: (r.owners == "", r.owners, r.key),
        "tags": lambda r: (not r.tags, r.tags, r.key),
        "health": lambda r: (SEVERITY[r.h.health.value], r.key),
        "status": lambda r: (r.h.status.status.value, r.key),
        "stale": lambda r: (not r.h.status.stale, r.key),
        "freshness": lambda r: (FRESHNESS.get(r.freshness, 5), r.key),
        "last_materialized": lambda r: (r.h.status.last_updated_at or 0.0, r.key),
        "checks": lambda r: (-len(r.bad_checks), -r.checks_total, r.key),
    }[column]


def catalog(graph: Any, healths: dict[Any, AssetHealth], select: str | None, health: str | None, text: str | None,
            sort: str, desc: bool, status: str | None = None) -> list[CatalogRow]:
    if sort not in COLUMNS:
        raise HeadwaterError(f"cannot sort by {sort!r}; one of {', '.join(COLUMNS)}")
    rows = []
    needle = (text or "").strip().lower()
    for k in visible_keys(graph, healths, GraphQuery.parse(select, health, None, None, status)):
        key = str(k)
        if needle and needle not in key.lower():
            continue
        h = healths[k]
        spec = graph.spec(k)
        rows.append(CatalogRow(h, key, spec.group, ", ".join(sorted(spec.kinds)),
                               h.freshness.state.value if h.freshness else "-",
                               [c.name for c in h.checks if c.state.value in ("failed", "warn")], len(h.checks),
                               ", ".join(spec.owners), tuple(sorted(spec.tags.items()))))
    rows.sort(key=_sort_key(sort), reverse=desc)
    return rows
