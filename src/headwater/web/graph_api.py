"""``/api/graph/canvas`` (what the graph page draws) and ``/api/selection`` (what a query selects)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from headwater.core.asset_states import state_index
from headwater.core.selection import select
from headwater.reports import iso
from headwater.web import models
from headwater.web.canvas_graph import canvas_state
from headwater.web.context import WebContext
from headwater.web.graph_view import GraphQuery, visible_keys

router = APIRouter(prefix="/api", tags=["api"])
ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": models.Problem}}
Select = Annotated[str | None, Query(max_length=10_000, description="selection language, e.g. 'group:marts+'")]


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx


Ctx = Annotated[WebContext, Depends(ctx)]


@router.get("/graph/canvas", responses=ERRORS)
def graph_canvas(c: Ctx, select: Select = None,
                 health: Annotated[str | None, Query(description="healthy, warning, degraded or unknown")] = None,
                 status: Annotated[str | None, Query(description="a status (missing, failed, skipped, ...) "
                                                                 "or stale")] = None) -> dict[str, Any]:
    """Every drawn asset's place (laid out on the server, cached per definitions version) and
    state, as parallel arrays indexed like ``ids``; ``edges`` are pairs of indexes. Follow
    changes from ``cursor`` with ``/api/changes``."""
    snap = c.cache.get()
    keys = visible_keys(c.graph, snap.healths, GraphQuery.parse(select, health, None, None, status))
    lay = c.layouts.get(c.graph, keys)
    by_id = {str(k): k for k in keys}
    return {**lay, **canvas_state(lay["ids"], snap.healths, by_id), "total": len(c.graph), "shown": len(keys),
            "as_of": iso(snap.taken_at), "cursor": c.feed.cursor(snap)}


@router.get("/selection", responses=ERRORS)
def selection(c: Ctx, query: Annotated[str, Query(alias="select", min_length=1, max_length=10_000)]) -> dict[str, Any]:
    """The keys a selection query selects, upstream first (the graph selects them)."""
    healths = c.cache.get().healths  # status:failed and friends read the current state
    return {"keys": [str(k) for k in c.graph.toposorted(select(c.graph, query, lambda: state_index(healths.values())))]}
