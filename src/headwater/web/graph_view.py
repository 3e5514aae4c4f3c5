"""The asset graph page and ``/api/graph``: which assets to draw, and how each node reads."""

from __future__ import annotations

import functools
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from headwater.core.asset_states import state_index
from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey
from headwater.core.selection import select
from headwater.errors import HeadwaterError
from headwater.web.formatting import ago
from headwater.web.layout import Box, Layout, layout
from headwater.web.state_names import HEALTHS, STATUS_FILTERS, STATUSES  # noqa: F401 - imported from here too

# Past this many assets on screen, groups bigger than GROUP_COLLAPSE start collapsed.
COLLAPSE_OVER = 400
GROUP_COLLAPSE = 40


@dataclass
class GraphQuery:
    select: str | None = None
    health: str | None = None
    expand: frozenset[str] = frozenset()    # "*" expands every group
    collapse: frozenset[str] = frozenset()  # "*" collapses every group
    status: str | None = None               # a materialization status, or "stale"

    @staticmethod
    def parse(select_: str | None, health: str | None, expand: str | None, collapse: str | None,
              status: str | None = None) -> GraphQuery:
        if health and health not in HEALTHS:
            raise HeadwaterError(f"unknown health {health!r}; one of {', '.join(HEALTHS)}")
        if status and status not in STATUS_FILTERS:
            raise HeadwaterError(f"unknown status {status!r}; one of {', '.join(STATUS_FILTERS)}")
        return GraphQuery((select_ or "").strip() or None, health or None, _names(expand), _names(collapse),
                          status or None)


    def href(self, toggle: str | None = None, collapsed_now: bool = False, all_groups: bool = False) -> str:
        """This view's URL, with group ``toggle`` expanded (if collapsed now) or collapsed."""
        expand, collapse = ({"*"}, set()) if all_groups else (set(self.expand), set(self.collapse))
        if toggle is not None:
            (expand if collapsed_now else collapse).add(toggle)
            (collapse if collapsed_now else expand).discard(toggle)
        params = {"select": self.select or "", "health": self.health or "", "expand": ",".join(sorted(expand)),
                  "collapse": ",".join(sorted(collapse))}
        return "/graph?" + urlencode({k: v for k, v in params.items() if v})


def _names(text: str | None) -> frozenset[str]:
    return frozenset(n.strip() for n in (text or "").split(",") if n.strip())


@dataclass
class NodeView:
    box: Box
    label: str
    title: str
    href: str
    health: str
    lines: list[str] = field(default_factory=list)
    bad_checks: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    status: str = ""
    css: str = ""


@dataclass(eq=False)
class GraphView:
    query: GraphQuery
    layout: Layout
    nodes: list[NodeView]
    total: int
    shown: int
    collapsed: frozenset[str]
    groups: dict[str, int]
    summary: dict[str, int]

    @functools.cached_property
    def nodes_svg(self) -> Any:
        from headwater.web.graph_svg import nodes_svg

        return nodes_svg(self.nodes)

    @functools.cached_property
    def shape(self) -> str:
        """Names the set of nodes drawn: two views with the same shape have the same layout."""
        return format(zlib.crc32("\n".join(n.box.id for n in self.nodes).encode()), "08x") + f"-{len(self.nodes)}"

    @functools.cached_property
    def edges_path(self) -> str:
        """Every edge in one path: one element to paint instead of thousands."""
        return "".join(e.path() for e in self.layout.edges)

    @functools.cached_property
    def client_data(self) -> dict[str, Any]:
        """What graph.js needs for hover highlighting: node ids, and edges with their ends."""
        index = {n.box.id: i for i, n in enumerate(self.nodes)}
        edges: list[float] = []
        for e in self.layout.edges:
            edges += [index[e.source], index[e.target], round(e.x1), round(e.y1), round(e.x2), round(e.y2)]
        return {"edges": edges, "tips": [n.title for n in self.nodes],
                "width": round(self.layout.width), "height": round(self.layout.height)}


def visible_keys(graph: Any, healths: dict[AssetKey, AssetHealth], query: GraphQuery) -> list[AssetKey]:
    keys: Iterable[AssetKey] = select(graph, query.select, lambda: state_index(healths.values())) if query.select else graph.keys
    if query.health:
        keys = [k for k in keys if healths[k].health.value == query.health]
    if query.status == "stale":
        keys = [k for k in keys if healths[k].status.stale]
    elif query.status:
        keys = [k for k in keys if healths[k].status.status.value == query.status]
    return graph.toposorted(keys)


class ViewCache:
    """The last few graph views of the current snapshot: a 5,000-asset view takes ~0.2 s to
    lay out and write, and polling or reloading asks for the same one again and again."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._snapshot: object = None
        self._views: dict[tuple[Any, ...], GraphView] = {}

    def rewarm(self, graph: Any, snapshot: Any) -> None:
        """Build the views shown last for a new snapshot, before it is served (the health
        cache calls this from its background refresh)."""
        fresh: dict[tuple[Any, ...], GraphView] = {}
        for key, old in list(self._views.items()):
            view = graph_view(graph, snapshot.healths, old.query, snapshot.taken_at)
            view.nodes_svg, view.edges_path, view.client_data  # noqa: B018 - render now, not in a request
            fresh[key] = view
        self._snapshot, self._views = snapshot, fresh

    def get(self, graph: Any, snapshot: Any, query: GraphQuery) -> GraphView:
        if snapshot is not self._snapshot:
            self._snapshot, self._views = snapshot, {}
        key = (query.select, query.health, query.expand, query.collapse, query.status)
        view = self._views.get(key)
        if view is None:
            view = graph_view(graph, snapshot.healths, query, snapshot.taken_at)
            if len(self._views) >= self.size:
                self._views.pop(next(iter(self._views)))
            self._views[key] = view
        return view


def graph_view(graph: Any, healths: dict[AssetKey, AssetHealth], query: GraphQuery, now: float) -> GraphView:
    keys = visible_keys(graph, healths, query)
    dag = graph.dag.subgraph(keys) if len(keys) != len(graph) else graph.dag
    group_of = {k: graph.spec(k).group for k in keys}
    sizes = Counter(group_of.values())
    collapsed = default_collapsed(sizes, len(keys))
    if "*" in query.expand:
        collapsed = set()
    if "*" in query.collapse:
        collapsed = set(sizes)
    collapsed = (collapsed | (query.collapse & set(sizes))) - query.expand
    lay = layout(dag.layers(), {k: dag.parents(k) for k in keys}, group_of, collapsed)
    members: dict[str, list[AssetKey]] = {}
    for k in keys:
        members.setdefault(group_of[k], []).append(k)
    by_id = {str(k): k for k in keys}
    nodes = [group_node(b, [healths[k] for k in members[b.group]], query.href(b.group, True)) if b.group_box
             else asset_node(b, healths[by_id[b.id]], now) for b in lay.boxes]
    return GraphView(query, lay, nodes, len(graph), len(keys), frozenset(collapsed), dict(sizes),
                     dict(Counter(healths[k].health.value for k in keys)))


def default_collapsed(sizes: Counter[str], shown: int) -> set[str]:
    if shown <= COLLAPSE_OVER or len(sizes) < 2:
        return set()
    return {g for g, n in sizes.items() if n > GROUP_COLLAPSE}


def asset_node(box: Box, h: AssetHealth, now: float) -> NodeView:
    st = h.status
    key = str(h.key)
    verb = "observed" if st.is_source else "materialized"
    status = st.status.value + (" · stale" if st.stale else "")
    lines = [status, f"{verb} {ago(st.last_updated_at, now)}" if st.last_updated_at else f"never {verb}"]
    fresh = h.freshness.state.value if h.freshness else None
    bad = [c.name for c in h.checks if c.state.value in ("failed", "warn")]
    checks = f"{len(bad)} check(s) failing" if bad else (f"{len(h.checks)} check(s) ok" if h.checks else "")
    third = " · ".join(p for p in ((f"freshness {fresh}" if fresh else ""), checks) if p)
    lines.append(third)
    title = f"{key} — {h.health.value}: " + "; ".join(h.reasons)
    return NodeView(box, _short(key), title if len(title) <= 300 else title[:300] + "…", f"/assets/{key}", h.health.value, lines, bad, status=status)


def group_node(box: Box, healths: list[AssetHealth], href: str) -> NodeView:
    counts = Counter(h.health.value for h in healths)
    parts = [f"{counts[v]} {v}" for v in HEALTHS if counts[v]]
    worst = next((v for v in ("degraded", "warning", "unknown", "healthy") if counts[v]), "unknown")
    return NodeView(box, box.group, f"group {box.group}: {box.members} assets, " + ", ".join(parts),
                    href, worst, [f"{box.members} assets (collapsed)", ", ".join(parts)],
                    counts={v: counts[v] for v in HEALTHS})


def _short(key: str, limit: int = 26) -> str:
    return key if len(key) <= limit else "…" + key[-(limit - 1):]
