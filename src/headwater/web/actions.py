"""The actions the UI offers, shared by the JSON API and the plain HTML forms.

Each is one call to the service (or to the launcher, which queues through the service)
followed by invalidating the health snapshot, so the next page shows the consequence.
"""

from __future__ import annotations

from headwater.core.events import AssetObserved, CheckEvaluated
from headwater.core.records import RunRecord
from headwater.errors import HeadwaterError
from headwater.execution.plan import PlanMode
from headwater.service import ObservationError
from headwater.web.asset_view import known_key
from headwater.web.context import WebContext


def selection_for(ctx: WebContext, key: str | None, selection: str | None, downstream: bool = False) -> str:
    """An exact key (quoted, so that it is never read as a glob or keyword) or a selection."""
    if key:
        return f'"{known_key(ctx, key)}"' + ("+" if downstream else "")
    if selection and selection.strip():
        return selection
    raise HeadwaterError("give an asset key or a selection")


def materialize(ctx: WebContext, key: str | None, selection: str | None, downstream: bool = False,
                mode: str = "all") -> RunRecord:
    text = selection_for(ctx, key, selection, downstream)
    try:
        PlanMode(mode)
    except ValueError:
        raise HeadwaterError(f"unknown mode {mode!r}; one of all, stale, missing") from None
    record = ctx.launcher.submit(ctx.defs, text, mode=mode)
    ctx.cache.invalidate()
    return record


def observe(ctx: WebContext, key: str | None, selection: str | None) -> tuple[list[AssetObserved], list[str]]:
    text = selection_for(ctx, key, selection)
    try:
        observed, failures = ctx.instance.observe(ctx.defs, text), []
    except ObservationError as exc:
        observed, failures = exc.observed, exc.failures
    ctx.cache.invalidate()
    return observed, failures


def run_checks(ctx: WebContext, key: str | None, selection: str | None) -> list[CheckEvaluated]:
    results = ctx.instance.check(ctx.defs, selection_for(ctx, key, selection))
    ctx.cache.invalidate()
    return results


def reexecute(ctx: WebContext, run_id: str) -> RunRecord:
    """Queue what failed (or never ran) in ``run_id``, and its downstream, as a new run."""
    parent = ctx.instance.run(run_id)
    plan, _, selection = ctx.instance.plan(ctx.defs, from_failure=parent.run_id)
    if not plan.asset_keys:
        raise HeadwaterError(f"run {parent.run_id} has nothing left to re-execute")
    record = ctx.launcher.submit(ctx.defs, selection, asset_keys=plan.asset_keys,
                                 tags={"parent_run_id": parent.run_id})
    ctx.cache.invalidate()
    return record


def toggle(ctx: WebContext, kind: str, name: str, enabled: bool) -> None:
    if kind not in ("schedule", "sensor"):
        raise HeadwaterError(f"unknown kind {kind!r}; schedule or sensor")
    ctx.instance.toggle(ctx.defs, kind, name, enabled)
