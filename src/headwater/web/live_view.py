"""The change feed's answers (``changes.py`` decides what changed): for any page, the assets
whose state moved; for the graph page, those nodes drawn again, as the page draws them.

Both are built only when something changed: a poll that finds nothing new costs the
snapshot every page shares, one comparison, and a few hundred bytes.
"""

from __future__ import annotations

from typing import Any

from headwater.reports import iso
from headwater.web.context import WebContext
from headwater.web.graph_svg import node_body, node_class
from headwater.web.graph_view import GraphQuery
from headwater.web.layout import group_box_id


def asset_changes(ctx: WebContext, since: str | None) -> dict[str, Any]:
    """``GET /api/changes``: the assets whose shown state changed since ``since``."""
    snap = ctx.cache.get()
    cursor, keys = ctx.feed.since(since, snap)
    changed = ctx.graph.toposorted(snap.healths) if keys is None else ctx.graph.toposorted(keys & snap.healths.keys())
    rows = []
    for k in changed:
        h = snap.healths[k]
        st = h.status
        rows.append({"key": str(k), "group": ctx.graph.spec(k).group, "health": h.health.value,
                     "status": st.status.value, "stale": st.stale, "last_updated_at": iso(st.last_updated_at),
                     "freshness": h.freshness.state.value if h.freshness else None,
                     "failing_checks": [c.name for c in h.checks if c.state.value in ("failed", "warn")],
                     "reasons": [r[:300] for r in h.reasons[:5]]})
    return {"cursor": cursor, "as_of": iso(snap.taken_at), "full": keys is None, "changed": len(rows), "assets": rows}


def graph_changes(ctx: WebContext, since: str | None, query: GraphQuery) -> dict[str, Any]:
    """``GET /api/graph/changes``: the graph page's nodes that changed, drawn again.

    Each node comes as its class, the markup inside it (``graph_svg.node_body``, escaped
    like the page) and its tooltip; a collapsed group is redrawn when any member changed.
    ``shape`` names the view's set of nodes: when it differs from the page's (a health
    filter now matches other assets), the page says so rather than redraw its layout.
    """
    snap = ctx.cache.get()
    cursor, keys = ctx.feed.since(since, snap)
    out: dict[str, Any] = {"cursor": cursor, "as_of": iso(snap.taken_at), "full": keys is None,
                           "changed": len(snap.healths) if keys is None else len(keys), "nodes": []}
    if keys is not None and not keys:
        return out
    view = ctx.views.get(ctx.graph, snap, query)
    wanted: set[str] | None = None
    if keys is not None:
        wanted = {str(k) for k in keys} | {group_box_id(ctx.graph.spec(k).group) for k in keys if k in ctx.graph}
    tips = view.client_data["tips"]
    out["nodes"] = [{"id": n.box.id, "class": node_class(n), "body": node_body(n), "tip": tips[i]}
                    for i, n in enumerate(view.nodes) if wanted is None or n.box.id in wanted]
    out.update(summary=view.summary, shown=view.shown, total=view.total, shape=view.shape)
    return out
