"""The code locations of a workspace: ``GET /api/locations``, ``POST /api/locations/{name}/reload``
and the ``/locations`` page with a reload button per location (docs/workspaces.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from headwater.errors import HeadwaterError
from headwater.web.api import ACTION_ERRORS, ERRORS
from headwater.web.context import WebContext
from headwater.web.pages import Form, act, back, render

api = APIRouter(prefix="/api", tags=["api"])
pages = APIRouter()


def _ctx(request: Request) -> WebContext:
    return request.app.state.ctx


def _workspace(c: WebContext) -> Any:
    ws = getattr(c.defs, "workspace", None)
    if ws is None:
        raise HTTPException(404, "this project is a single code location, not a workspace")
    return ws


def _reload(c: WebContext, name: str) -> list[dict[str, Any]]:
    ws = _workspace(c)
    try:
        states = ws.reload(name)
        c.use_definitions(ws.definitions())
    except HeadwaterError as exc:
        raise HTTPException(400, str(exc)) from None
    return [s.to_dict() for s in states]


@api.get("/locations", responses=ERRORS)
def locations(c: Annotated[WebContext, Depends(_ctx)]) -> list[dict[str, Any]]:
    """Every code location: loaded or broken (with the user's traceback), its assets, its interpreter."""
    return [s.to_dict() for s in _workspace(c).states.values()]


@api.post("/locations/{name}/reload", responses=ACTION_ERRORS)
def reload_location(name: str, request: Request) -> list[dict[str, Any]]:
    """Read the location again in a new process; the others are untouched. A failing reload
    keeps its last good definitions (``warning``)."""
    c: WebContext = request.app.state.ctx
    c.guard.check_action(request)
    return _reload(c, name)


@pages.get("/locations", response_class=HTMLResponse, include_in_schema=False)
def locations_page(request: Request) -> Response:
    c: WebContext = request.app.state.ctx
    return render(request, "locations.html", locations=[s.to_dict() for s in _workspace(c).states.values()])


@pages.post("/locations/{name}/reload", include_in_schema=False)
def reload_page(name: str, request: Request, form: Form) -> Response:
    _reload(act(request, form), name)
    return back("/locations")
