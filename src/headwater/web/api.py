"""The JSON API under ``/api``: every page is built on these, and ``/openapi.json`` describes them.

Handlers parse, call the service (through the views), and return plain data. Errors are
``{"detail": ...}`` with 400 (bad input), 404 (unknown asset or run), 401/403 (actions).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.background import BackgroundTask

from headwater.reports import iso, run_to_dict, step_to_dict
from headwater.web import actions, models
from headwater.web.asset_view import asset_detail
from headwater.web.context import WebContext
from headwater.web.graph_view import GraphQuery, visible_keys
from headwater.web.live_view import asset_changes, graph_changes
from headwater.web.run_view import events_after, list_runs, queue_waits
from headwater.web.security import CSRF_COOKIE
from headwater.web.shapes import asset_row, instigator_row, plain_event, tick_row
from headwater.web.state import json_list

router = APIRouter(prefix="/api", tags=["api"])
ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": models.Problem}, 404: {"model": models.Problem}}
ACTION_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 401: {"model": models.Problem},
                                                  403: {"model": models.Problem}}
Select = Annotated[str | None, Query(max_length=10_000, description="selection language, e.g. 'group:marts+'")]
MAX_ID = 2**63 - 1  # event ids are 64-bit on every backend: larger is a 422, not an OverflowError
HealthQ = Annotated[str | None, Query(description="healthy, warning, degraded or unknown")]


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx


def action_ctx(request: Request) -> WebContext:
    context: WebContext = request.app.state.ctx
    context.guard.check_action(request)
    return context


Ctx = Annotated[WebContext, Depends(ctx)]
ActionCtx = Annotated[WebContext, Depends(action_ctx)]


@router.get("/session", response_model=models.Session)
def session(c: Ctx, request: Request, response: Response) -> dict[str, Any]:
    """The CSRF token for this browser (sets the cookie it is bound to), and what is allowed."""
    cookie = request.cookies.get(CSRF_COOKIE) or c.guard.new_cookie()
    response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict")
    return {"csrf_token": c.guard.csrf_for(cookie), "read_only": c.guard.read_only,
            "token_required": c.guard.token_required, "authenticated": c.guard.has_token(request)}


@router.get("/assets", response_model=list[models.AssetRow], responses=ERRORS)
def assets(c: Ctx, select: Select = None, health: HealthQ = None,
           full: Annotated[bool, Query(description="exactly `status --json`: root causes counted, reasons "
                                                   "whole")] = False) -> Response:
    """Every asset (or the selected ones), upstream first: the rows of ``headwater status --json``."""
    query = GraphQuery.parse(select, health, None, None)
    stored = c.stored_assets.body() if not full and query.select is None and query.health is None \
        and c.cache.peek() is None else None
    if stored is not None:  # a UI just started: `status`'s stored rows hold, its first snapshot is on the way
        return Response(stored[0], media_type="application/json", headers={"X-Headwater-As-Of": iso(stored[1]) or ""})
    snap = c.cache.get()
    if full:
        keys = visible_keys(c.graph, snap.healths, query)
        body = json.dumps([asset_row(snap.healths[k], c.graph, True) for k in keys], default=str).encode()
    elif query.select is None and query.health is None:
        body = snap.body(c.rows, c.graph.keys)
        return Response(body, media_type="application/json", headers={"X-Headwater-As-Of": iso(snap.taken_at) or ""},
                        background=BackgroundTask(c.stored_assets.keep_when_quiet, snap, c.activity))  # for the next UI
    else:
        body = json_list(snap.rows(c.rows), visible_keys(c.graph, snap.healths, query))
    return Response(body, media_type="application/json", headers={"X-Headwater-As-Of": iso(snap.taken_at) or ""})


@router.get("/assets/{key:path}", response_model=models.AssetDetail, responses=ERRORS)
def asset(c: Ctx, key: str, full: bool = False) -> dict[str, Any]:
    """One asset: its row, definition, the ``why`` chain, history, checks with history, lineage."""
    return asset_detail(c, key, full)


@router.get("/graph", response_model=models.GraphOut, responses=ERRORS)
def graph(c: Ctx, select: Select = None, health: HealthQ = None,
          expand: Annotated[str | None, Query(max_length=10_000, description="groups to expand, or *")] = None,
          collapse: Annotated[str | None, Query(max_length=10_000, description="groups to collapse, or *")] = None
          ) -> dict[str, Any]:
    """The laid-out graph the graph page draws: boxes, group lanes and edges, with health."""
    snap = c.cache.get()
    view = c.views.get(c.graph, snap, GraphQuery.parse(select, health, expand, collapse))
    return {
        "nodes": [{"id": n.box.id, "x": n.box.x, "y": n.box.y, "w": n.box.w, "h": n.box.h, "group": n.box.group,
                   "group_box": n.box.group_box, "members": n.box.members, "health": n.health,
                   "status": n.status or None, "counts": n.counts} for n in view.nodes],
        "lanes": [_lane(lane) for lane in view.layout.lanes],
        "edges": [{"source": e.source, "target": e.target} for e in view.layout.edges],
        "width": view.layout.width, "height": view.layout.height, "as_of": iso(snap.taken_at),
    }


def _lane(lane: Any) -> dict[str, Any]:
    return {"group": lane.group, "x": lane.x, "y": lane.y, "w": lane.w, "h": lane.h, "size": lane.size,
            "collapsed": lane.collapsed}


Since = Annotated[str | None, Query(max_length=100, description="the `cursor` of the last answer, or of the page; "
                                                                "without it (or with a stale one), every asset")]


@router.get("/changes", response_model=models.Changes)
def changes(c: Ctx, since: Since = None) -> dict[str, Any]:
    """The assets whose state changed since ``since``: poll with the returned ``cursor`` to follow them."""
    return asset_changes(c, since)


@router.get("/graph/changes", response_model=models.GraphChanges, responses=ERRORS)
def graph_changed(c: Ctx, since: Since = None, select: Select = None, health: HealthQ = None,
                  expand: Annotated[str | None, Query(max_length=10_000)] = None,
                  collapse: Annotated[str | None, Query(max_length=10_000)] = None) -> dict[str, Any]:
    """The graph view's nodes that changed since ``since``, drawn again (what the graph page polls)."""
    return graph_changes(c, since, GraphQuery.parse(select, health, expand, collapse))


@router.get("/runs", response_model=list[models.Run], responses=ERRORS)
def runs(c: Ctx, status: Annotated[str | None, Query(description="queued, started, succeeded, failed, canceled")] = None,
         asset: Annotated[str | None, Query(max_length=1000, description="only runs of this asset")] = None,
         limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    """Recent runs, newest first (``headwater runs --json``)."""
    records = list_runs(c, status, asset, limit)
    waits = queue_waits(c, records)
    return [{**run_to_dict(r), "waiting": waits.get(r.run_id)} for r in records]


@router.get("/runs/{run_id}", response_model=models.RunDetail, responses=ERRORS)
def run(c: Ctx, run_id: str) -> dict[str, Any]:
    """One run and its steps (``headwater run show --json``)."""
    c.launcher.reap()
    record = c.instance.run(run_id)
    return {**run_to_dict(record), "waiting": queue_waits(c, [record]).get(record.run_id),
            "steps": [step_to_dict(s) for s in c.instance.run_steps(record.run_id)]}


@router.get("/runs/{run_id}/events", response_model=models.EventsPage, responses=ERRORS)
def run_events(c: Ctx, run_id: str, after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
               limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> dict[str, Any]:
    """The run's events after ``after_id``: poll with the returned ``last_id`` to follow a live run."""
    return events_after(c, run_id, after_id, limit)


@router.get("/automation", response_model=models.Automation)
def automation(c: Ctx) -> dict[str, Any]:
    """Schedules and sensors with their state, last tick and next fire time."""
    return {"schedules": [instigator_row(r, "schedule") for r in c.instance.schedule_rows(c.defs)],
            "sensors": [instigator_row(r, "sensor") for r in c.instance.sensor_rows(c.defs)]}


@router.get("/ticks", response_model=list[models.Tick])
def ticks(c: Ctx, instigator: Annotated[str | None, Query(max_length=1000)] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    """Recent daemon ticks, newest first (``headwater ticks``)."""
    return [tick_row(t) for t in c.instance.store.ticks(instigator, limit)]


# -- actions ----------------------------------------------------------------------------------


@router.post("/actions/materialize", response_model=models.RunResponse, responses=ACTION_ERRORS)
def materialize(c: ActionCtx, body: models.MaterializeRequest) -> dict[str, Any]:
    """Queue a run of the asset, the keys, the catalog's matches or a selection (and their
    downstream), with tags and an executor; a worker or the daemon runs it."""
    return {"run": run_to_dict(actions.materialize(c, body.key, body.selection, body.downstream, body.mode,
                                                   keys=actions.requested_keys(c, body.keys, body.match),
                                                   tags=body.tags, executor=body.executor))}


@router.post("/actions/observe", response_model=models.ObserveResponse, responses=ACTION_ERRORS)
def observe(c: ActionCtx, body: models.Target) -> dict[str, Any]:
    """Observe source assets now; failures are listed, the other observations recorded."""
    observed, failures = actions.observe(c, body.key, body.selection)
    return {"observed": [plain_event(o) for o in observed], "failures": failures}


@router.post("/actions/check", response_model=models.CheckResponse, responses=ACTION_ERRORS)
def check(c: ActionCtx, body: models.Target) -> dict[str, Any]:
    """Run the checks of the selected assets against their current materializations."""
    return {"results": [plain_event(r) for r in actions.run_checks(c, body.key, body.selection)]}


@router.post("/runs/{run_id}/reexecute", response_model=models.RunResponse, responses=ACTION_ERRORS)
def reexecute(c: ActionCtx, run_id: str) -> dict[str, Any]:
    """Queue what failed (or never ran) in the run, and its downstream, as a new run."""
    return {"run": run_to_dict(actions.reexecute(c, run_id))}


@router.post("/runs/{run_id}/cancel", response_model=models.CancelResponse, responses=ACTION_ERRORS)
def cancel(c: ActionCtx, run_id: str) -> dict[str, Any]:
    """Cancel a run (``headwater run cancel``): a queued one ends at once; a started one is
    stopped by its coordinator within a second (``requested``: follow the run to see it end).
    An unknown run is a 404, a run that has already ended a 400."""
    done = actions.cancel_run(c, run_id)
    return {"run": run_to_dict(done.run), "requested": done.requested}


@router.post("/automation/{kind}/{name}", response_model=models.ToggleResponse, responses=ACTION_ERRORS)
def toggle(c: ActionCtx, kind: str, name: str, body: models.ToggleRequest) -> dict[str, Any]:
    """Turn a schedule or sensor on or off."""
    actions.toggle(c, kind, name, body.enabled)
    return {"kind": kind, "name": name, "enabled": body.enabled}
