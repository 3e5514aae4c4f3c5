"""Backfills in the UI: the JSON API (``/api/backfills``) and the pages (``/backfills``,
``/backfills/ID``, whose progress follows the API live).

Launching from the UI stores the backfill and leaves it to a driver. The UI never runs
assets itself: when no daemon is alive to drive it, the UI starts one foreground driver
process (``headwater backfill resume ID``), as it starts a worker for a run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from headwater.backfill_report import backfill_to_dict, progress_to_dict
from headwater.core.backfills import BackfillRecord
from headwater.core.partitions import format_partitioned_key
from headwater.errors import HeadwaterError
from headwater.web.context import WebContext

api = APIRouter(prefix="/api", tags=["api"])
pages = APIRouter(include_in_schema=False)
DAEMON_LEASE = "daemon"


class Problem(BaseModel):
    detail: Any


class BackfillRequest(BaseModel):
    selection: str = Field(max_length=10_000, description="assets to backfill, e.g. 'events+'")
    start: str | None = Field(None, max_length=200, description="first partition (or date) of the range")
    end: str | None = Field(None, max_length=200, description="last partition (or date), inclusive")
    partitions: list[str] | None = Field(None, max_length=100_000, description="exact partition keys")
    only: str | None = Field(None, max_length=100, description="missing, failed, stale (comma separated)")
    chunk_size: int = Field(10, ge=1, le=100_000, description="partition keys per run")


ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": Problem}, 404: {"model": Problem}}
ACTION_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 401: {"model": Problem}, 403: {"model": Problem}}


def _ctx(request: Request) -> WebContext:
    return request.app.state.ctx


def _action_ctx(request: Request) -> WebContext:
    context: WebContext = request.app.state.ctx
    context.guard.check_action(request)
    return context


Ctx = Annotated[WebContext, Depends(_ctx)]
ActionCtx = Annotated[WebContext, Depends(_action_ctx)]


# -- the JSON API -----------------------------------------------------------------------------


@api.get("/backfills", response_model=list[dict[str, Any]], responses=ERRORS)
def list_backfills(c: Ctx, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    """Recent backfills, newest first, with their progress (``headwater backfills --json``)."""
    return [progress_to_dict(c.instance.backfill_progress(c.defs, r), runs=False, failures=5)
            for r in c.instance.backfills(limit)]


@api.get("/backfills/{backfill_id}", response_model=dict[str, Any], responses=ERRORS)
def get_backfill(c: Ctx, backfill_id: str) -> dict[str, Any]:
    """One backfill: counts (done / failed / skipped / running / queued / remaining), rate, ETA,
    per asset, failures and runs (``headwater backfill show ID --json``). Poll it to follow one."""
    progress = c.instance.backfill_progress(c.defs, _known(c, backfill_id))
    return {**progress_to_dict(progress), "driver": c.instance.backfill_driver(progress.record)}


@api.post("/backfills", response_model=dict[str, Any], responses=ACTION_ERRORS)
def launch_backfill(c: ActionCtx, body: BackfillRequest) -> dict[str, Any]:
    """Plan and store a backfill; the daemon drives it, or a driver process the UI starts."""
    record = _launch(c, body.selection, body.start, body.end, body.partitions, body.only, body.chunk_size)
    return {"backfill": backfill_to_dict(record)}


@api.post("/backfills/{backfill_id}/cancel", response_model=dict[str, Any], responses=ACTION_ERRORS)
def cancel_backfill(c: ActionCtx, backfill_id: str,
                    running: Annotated[bool, Query(description="also cancel the runs already started")] = False,
                    ) -> dict[str, Any]:
    """Stop launching runs and cancel the backfill's queued runs (started ones finish, unless
    ``running``: then their coordinators stop them too)."""
    record, canceled = c.instance.cancel_backfill(_known(c, backfill_id).backfill_id, cancel_started=running)
    return {"backfill": backfill_to_dict(record), "canceled_runs": canceled}


@api.post("/backfills/{backfill_id}/resume", response_model=dict[str, Any], responses=ACTION_ERRORS)
def resume_backfill(c: ActionCtx, backfill_id: str) -> dict[str, Any]:
    """Launch again what failed, was skipped or canceled; what is done or in flight is not."""
    record = c.instance.resume_backfill(_known(c, backfill_id).backfill_id)
    _start_driver(c, record)
    return {"backfill": backfill_to_dict(record)}


def _known(c: WebContext, backfill_id: str) -> BackfillRecord:
    from headwater.web.asset_view import NoSuchAsset  # a 404, like an unknown asset

    try:
        return c.instance.backfill(backfill_id)
    except HeadwaterError as exc:
        raise NoSuchAsset(str(exc)) from None


def _launch(c: WebContext, selection: str, start: str | None, end: str | None, partitions: list[str] | None,
            only: str | None, chunk_size: int) -> BackfillRecord:
    record = c.instance.launch_backfill(c.defs, selection, partition_range=(start or None, end or None),
                                        partitions=partitions, only=only or None, chunk_size=chunk_size,
                                        tags={"origin": "ui"})
    _start_driver(c, record)
    c.cache.invalidate()
    return record


def _start_driver(c: WebContext, record: BackfillRecord) -> None:
    """Start ``headwater backfill resume ID`` unless a live daemon will drive it."""
    holder = c.instance.store.lease_holder(DAEMON_LEASE)
    if holder is not None and holder[1] > time.time():
        return
    if c.location is None or c.config.launch == "queue":
        return
    loc = c.location
    args = [sys.executable, "-m", "headwater", "backfill", "resume", record.backfill_id]
    if loc.file:
        args += ["-f", loc.file]
    if loc.module:
        args += ["-m", loc.module]
    if loc.attribute:
        args += ["-a", loc.attribute]
    logs = c.instance.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    import os

    env = {**os.environ, "HEADWATER_HOME": str(c.instance.home), "HEADWATER_DATABASE_URL": c.instance.database_url}
    drivers = drivers_of(c)
    drivers[:] = [d for d in drivers if d.poll() is None]
    with open(logs / f"backfill-{record.backfill_id}.log", "ab") as log:
        drivers.append(subprocess.Popen(args, cwd=loc.working_dir or None, env=env, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True))


def drivers_of(c: WebContext) -> list[subprocess.Popen[bytes]]:
    """The driver processes this UI started (kept, so that they are waited for, not leaked)."""
    found = c.__dict__.get("backfill_drivers")
    if found is None:
        found = c.__dict__["backfill_drivers"] = []
    return found


# -- the pages ------------------------------------------------------------------------------


def _render(request: Request, name: str, **values: Any) -> Response:
    from headwater.web.pages import render

    return render(request, name, **values)


@pages.get("/backfills", response_class=HTMLResponse)
def backfills_page(request: Request, c: Ctx, error: str | None = None) -> Response:
    rows = [c.instance.backfill_progress(c.defs, r) for r in c.instance.backfills(100)]
    return _render(request, "backfills.html", rows=rows, error=error)


@pages.get("/backfills/{backfill_id}", response_class=HTMLResponse)
def backfill_page(request: Request, c: Ctx, backfill_id: str) -> Response:
    progress = c.instance.backfill_progress(c.defs, _known(c, backfill_id))
    return _render(request, "backfill.html", p=progress, data=progress_to_dict(progress, runs=False),
                   driver=c.instance.backfill_driver(progress.record), partition_name=format_partitioned_key)


async def _form(request: Request) -> dict[str, str]:
    from headwater.web.pages import form_data

    return await form_data(request)


Form = Annotated[dict[str, str], Depends(_form)]


@pages.post("/backfills")
def launch_form(request: Request, form: Form) -> Response:
    from headwater.web.pages import act

    c = act(request, form)
    try:
        size = int(form.get("chunk_size") or 10)
        record = _launch(c, form.get("selection", ""), form.get("start"), form.get("end"), None,
                         form.get("only"), size)
    except (HeadwaterError, ValueError) as exc:
        return backfills_page(request, c, error=str(exc))
    return RedirectResponse(f"/backfills/{record.backfill_id}", 303)


@pages.post("/backfills/{backfill_id}/{action}")
def act_form(request: Request, form: Form, backfill_id: str, action: str) -> Response:
    from headwater.web.pages import act

    c = act(request, form)
    record = _known(c, backfill_id)
    if action == "cancel":
        c.instance.cancel_backfill(record.backfill_id)
    elif action == "resume":
        _start_driver(c, c.instance.resume_backfill(record.backfill_id))
    else:
        raise HeadwaterError(f"unknown backfill action {action!r}; cancel or resume")
    return RedirectResponse(f"/backfills/{record.backfill_id}", 303)
