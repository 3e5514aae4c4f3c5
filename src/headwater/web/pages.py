"""The HTML pages: server-rendered with Jinja2 (autoescaped), a little JS for pan, zoom and polling.

Handlers parse the query, call the views (which call the service) and render a template.
Forms POST with a CSRF token and redirect (303) to the page that shows the result; with
JS, the asset and run pages send the same actions to the JSON API and stay where they are.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from headwater.core.asset_states import state_index
from headwater.core.selection import select as select_keys
from headwater.errors import HeadwaterError
from headwater.service import EXECUTORS
from headwater.web import actions
from headwater.web.asset_view import asset_page
from headwater.web.catalog_view import COLUMNS, PAGE_SIZE, catalog
from headwater.web.context import WebContext
from headwater.web.doc_text import doc_html
from headwater.web.formatting import ago, duration, iso, when
from headwater.web.graph_svg import node_svg, nodes_svg
from headwater.web.graph_view import GraphQuery
from headwater.web.page_env import environment
from headwater.web.run_view import RUN_STATUSES, TIMELINE_W, list_runs, run_page
from headwater.web.security import CSRF_COOKIE, TOKEN_COOKIE

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(env=environment())  # the graph page's globals: page_env.py (front.py renders it too)
templates.env.globals.update(node_svg=node_svg, nodes_svg=nodes_svg, ago=ago, when=when, iso=iso, duration=duration,
                             RUN_STATUSES=RUN_STATUSES, TIMELINE_W=TIMELINE_W)
templates.env.filters["doc"] = doc_html
NOTICES = {"observed": "Observation recorded.", "checked": "Checks evaluated.", "toggled": "Saved.",
           "login": "Logged in: actions are enabled.", "logout": "Logged out."}
Text = Annotated[str | None, Query(max_length=10_000)]


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx


Ctx = Annotated[WebContext, Depends(ctx)]


async def form_data(request: Request) -> dict[str, str]:
    """A urlencoded form as a dict (the last value of each field)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


Form = Annotated[dict[str, str], Depends(form_data)]


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> Response:
    c: WebContext = request.app.state.ctx
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = cookie is None
    cookie = cookie or c.guard.new_cookie()
    values.update(request=request, csrf_token=c.guard.csrf_for(cookie), read_only=c.guard.read_only,
                  token_required=c.guard.token_required, authenticated=c.guard.has_token(request),
                  poll_seconds=c.config.poll_seconds, notice=NOTICES.get(request.query_params.get("notice", "")))
    values.setdefault("now", time.time())
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    if fresh:
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict")
    return response


def act(request: Request, form: dict[str, str]) -> WebContext:
    c: WebContext = request.app.state.ctx
    c.guard.check_action(request, form.get("csrf_token"))
    return c


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- pages ------------------------------------------------------------------------------------


@router.get("/graph", response_class=HTMLResponse)  # and "/": the app's first route (app.py)
def graph_page(request: Request, c: Ctx, select: Text = None, health: Text = None, status: Text = None) -> Response:
    """The page is a frame: graph.js fetches the layout and state (``/api/graph/canvas``) and
    follows changes from that answer's cursor. So the frame waits for no health snapshot (a
    UI just started answers it while its first one is computed); only a selection that
    names a state (``status:failed+``) reads one to be checked."""
    snap = c.cache.peek()
    values = dict(select=select or "", health=health or "", status=status or "",
                  as_of=snap.taken_at if snap is not None else None, executors=EXECUTORS)
    try:
        GraphQuery.parse(select, health, None, None, status)
        if select:
            select_keys(c.graph, select, lambda: state_index(c.cache.get().healths.values()))
    except HeadwaterError as exc:
        return render(request, "graph.html", 400, error=str(exc), **values)
    return render(request, "graph.html", error=None, cursor=c.feed.cursor(snap) if snap is not None else None,
                  **values)


@router.get("/assets", response_class=HTMLResponse)
def catalog_page(request: Request, c: Ctx, select: Text = None, health: Text = None, q: Text = None,
                 status: Text = None, sort: Annotated[str, Query(max_length=100)] = "key", desc: Text = None,
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1, fragment: Text = None) -> Response:
    descending = (desc or "").lower() in ("1", "true", "yes", "on")
    snap = c.cache.get()
    params = {"select": select or "", "health": health or "", "status": status or "", "q": q or ""}
    try:
        rows = catalog(c.graph, snap.healths, select, health, q, sort, descending, status)
    except HeadwaterError as exc:
        return render(request, "catalog.html", 400, rows=[], error=str(exc), params=params, sort=sort, desc=descending,
                      page=1, pages=1, total=0, columns=COLUMNS, link=lambda **kw: "", as_of=snap.taken_at,
                      executors=EXECUTORS)
    pages = max(1, -(-len(rows) // PAGE_SIZE))

    def link(**changes: Any) -> str:
        merged = {**params, "sort": sort, "desc": "1" if descending else "", "page": str(page), **changes}
        return "/assets?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})

    # The live part (table, count, pager) is rendered again, as it is now, when the feed says so.
    name = "catalog_rows.html" if fragment == "rows" else "catalog.html"
    return render(request, name, rows=rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], error=None,
                  params=params, sort=sort, desc=descending, page=min(page, pages), pages=pages, total=len(rows),
                  columns=COLUMNS, link=link, as_of=snap.taken_at, cursor=c.feed.cursor(snap),
                  fragment_url=link(fragment="rows"), executors=EXECUTORS)


@router.get("/assets/{key:path}", response_class=HTMLResponse)
def asset_html(request: Request, c: Ctx, key: str, fragment: str | None = None,
               range: Annotated[str, Query(max_length=10)] = "all") -> Response:  # noqa: A002 - the URL's word
    now = time.time()
    view = asset_page(c, key, now, range)
    name = {"state": "asset_state.html", "body": "asset_body.html"}.get(fragment or "", "asset.html")
    return render(request, name, a=view, now=now, cursor=c.feed.cursor(view.snapshot))


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, c: Ctx, status: Text = None, asset: Text = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    try:
        rows, error = list_runs(c, status or None, asset or None, limit), None
    except HeadwaterError as exc:
        rows, error = [], str(exc)
    name = "runs_rows.html" if request.query_params.get("fragment") == "rows" else "runs.html"
    return render(request, name, 400 if error else 200, runs=rows, error=error, status=status or "", asset=asset or "")


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_html(request: Request, c: Ctx, run_id: str, fragment: str | None = None, step: Text = None) -> Response:
    now = time.time()
    view = run_page(c, run_id, now)
    name = {"steps": "run_steps.html", "summary": "run_summary.html"}.get(fragment or "", "run.html")
    return render(request, name, r=view, now=now, focus=step or "")


@router.get("/automation", response_class=HTMLResponse)
def automation_page(request: Request, c: Ctx) -> Response:
    return render(request, "automation.html", schedules=c.instance.schedule_rows(c.defs),
                  sensors=c.instance.sensor_rows(c.defs), ticks=c.instance.store.ticks(None, 50))


@router.get("/api", response_class=HTMLResponse)
def api_page(request: Request) -> Response:
    """A readable list of the JSON API's operations, from the OpenAPI document."""
    spec = request.app.openapi()
    ops = [(method.upper(), path, op.get("summary", ""), op.get("description", ""),
            [p["name"] for p in op.get("parameters", [])])
           for path, item in spec["paths"].items() for method, op in item.items()]
    return render(request, "api.html", ops=ops)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, c: Ctx) -> Response:
    return render(request, "login.html", error=None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, c: Ctx, form: Form) -> Response:
    if c.guard.token is None:
        return back("/")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(form.get("csrf_token", ""), c.guard.csrf_for(cookie)):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    given = form.get("token", "")
    if not hmac.compare_digest(given.encode(), c.guard.token.encode()):
        return render(request, "login.html", 401, error="wrong token")
    response = back("/?notice=login")
    response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    act(request, form)
    response = back("/?notice=logout")
    response.delete_cookie(TOKEN_COOKIE)
    return response


# -- form actions (without JS) ----------------------------------------------------------------


@router.post("/actions/materialize")
def materialize_form(request: Request, form: Form) -> Response:
    c = act(request, form)
    record = actions.materialize(c, form.get("key") or None, form.get("selection") or None,
                                 form.get("downstream") == "1", form.get("mode") or "all")
    return back(f"/runs/{record.run_id}")


@router.post("/actions/observe")
def observe_form(request: Request, form: Form) -> Response:
    c = act(request, form)
    actions.observe(c, form.get("key") or None, form.get("selection") or None)
    return back(f"/assets/{quote(form.get('key', ''))}?notice=observed" if form.get("key") else "/?notice=observed")


@router.post("/actions/check")
def check_form(request: Request, form: Form) -> Response:
    c = act(request, form)
    actions.run_checks(c, form.get("key") or None, form.get("selection") or None)
    return back(f"/assets/{quote(form.get('key', ''))}?notice=checked" if form.get("key") else "/?notice=checked")


@router.post("/runs/{run_id}/reexecute")
def reexecute_form(request: Request, run_id: str, form: Form) -> Response:
    c = act(request, form)
    return back(f"/runs/{actions.reexecute(c, run_id).run_id}")


@router.post("/runs/{run_id}/cancel")
def cancel_form(request: Request, run_id: str, form: Form) -> Response:
    c = act(request, form)
    return back(f"/runs/{actions.cancel_run(c, run_id).run.run_id}")


@router.post("/automation/{kind}/{name}/toggle")
def toggle_form(request: Request, kind: str, name: str, form: Form) -> Response:
    c = act(request, form)
    actions.toggle(c, kind, name, form.get("enabled") == "1")
    return back("/automation?notice=toggled")
