"""``create_app``: the FastAPI application behind ``headwater ui``.

The JSON API lives under ``/api`` (described at ``/openapi.json``, listed at ``/api``); the
pages are built on the same views. No third-party JS or CSS: ``/static`` holds our own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import headwater
from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.errors import HeadwaterError, KeySyntaxError, RunNotFoundError, UnknownKeyError
from headwater.service import Instance
from headwater.web import (
    api,
    backfill_view,
    graph_api,
    impact_api,
    locations_view,
    pages,
    partition_api,
    partition_pages,
)
from headwater.web.activity import Activity
from headwater.web.asset_view import NoSuchAsset
from headwater.web.context import UiConfig, WebContext
from headwater.web.security import ANSWER_HEADERS, CSP, Guard

HERE = Path(__file__).parent


def create_app(defs: Definitions, instance: Instance, location: DefinitionsLocation | None = None,
               config: UiConfig | None = None, on_start: Callable[[], object] | None = None,
               guard: Guard | None = None, activity: Activity | None = None) -> FastAPI:
    """The UI for ``defs`` over ``instance``; ``location`` lets it launch runs in worker processes.
    ``on_start`` runs as the server starts to listen (``headwater ui`` warms its caches then).
    ``guard`` and ``activity``: those of the front that answered the first page before this
    app was built (``front.py``), so that its CSRF cookies hold and its answers count."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            on_start()
        yield
        app.state.ctx.launcher.close()

    app = FastAPI(title="Headwater", lifespan=lifespan, version=getattr(headwater, "__version__", "0"),
                  description="The JSON API of the Headwater UI. Asset rows are `headwater status --json` rows.",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.ctx = WebContext(defs, instance, location, config or UiConfig(), guard=guard, activity=activity)
    # "/" first: FastAPI prepares each route it tries on a first request (~1 ms of pydantic
    # work each), so the first page should not try the other fifty on its way.
    app.add_api_route("/", pages.graph_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.include_router(partition_api.router)  # before api.router: /api/assets/{key:path} would take its paths
    app.include_router(graph_api.router)
    app.include_router(api.router)
    app.include_router(partition_pages.router)
    app.include_router(backfill_view.api)
    app.include_router(backfill_view.pages)
    app.include_router(impact_api.router)
    app.include_router(locations_view.api)
    app.include_router(locations_view.pages)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard_and_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        if not app.state.ctx.guard.host_allowed(request):
            return JSONResponse({"detail": "this UI listens on loopback; the Host header must name it"}, 400)
        activity = app.state.ctx.activity
        activity.begin()
        try:
            response = await call_next(request)
        finally:
            activity.end()
        response.headers.setdefault("Content-Security-Policy", CSP)
        for name, value in ANSWER_HEADERS:
            response.headers[name] = value
        return response

    @app.exception_handler(HeadwaterError)
    async def headwater_error(request: Request, exc: HeadwaterError) -> Response:
        code = 404 if isinstance(exc, (NoSuchAsset, UnknownKeyError, RunNotFoundError, KeySyntaxError)) else 400
        return _problem(request, code, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _problem(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": _plain_errors(exc)}, 422)
        return _problem(request, 400, "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}"
                                                for e in exc.errors()))

    return app


def _plain_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()]


def _problem(request: Request, code: int, message: str) -> Response:
    if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
        return JSONResponse({"detail": message}, code)
    return pages.render(request, "error.html", code, message=message, code=code)
