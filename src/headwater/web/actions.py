"""The actions the UI offers, shared by the JSON API and the plain HTML forms.

Each is one call to the service (or to the launcher, which queues through the service)
followed by invalidating the health snapshot, so the next page shows the consequence.
"""

from __future__ import annotations

from typing import Any

from headwater.core.events import AssetObserved, CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord
from headwater.errors import HeadwaterError
from headwater.execution.plan import PlanMode
from headwater.service import EXECUTORS, ObservationError
from headwater.web.asset_view import known_key
from headwater.web.catalog_view import catalog
from headwater.web.context import WebContext

EXECUTOR_TAG = "headwater/executor"
MAX_TAGS = 50


def selection_for(ctx: WebContext, key: str | None, selection: str | None, downstream: bool = False) -> str:
    """An exact key (quoted, so that it is never read as a glob or keyword) or a selection,
    with its downstream when asked (a selection too: ``(sel)+``)."""
    if key:
        return f'"{known_key(ctx, key)}"' + ("+" if downstream else "")
    if selection and selection.strip():
        return f"({selection})+" if downstream else selection
    raise HeadwaterError("give an asset key or a selection")


def requested_keys(ctx: WebContext, keys: list[str] | None, match: Any) -> list[AssetKey] | None:
    """Exact keys picked on the graph or in the catalog, or every asset the catalog's filters
    match ("select all matching"); None when neither was given."""
    if match is not None:
        snap = ctx.cache.get()
        rows = catalog(ctx.graph, snap.healths, match.select, match.health, match.q, "key", False, match.status)
        if not rows:
            raise HeadwaterError("no asset matches these filters: nothing to materialize")
        return [r.h.key for r in rows]
    if keys is None:
        return None
    if not keys:
        raise HeadwaterError("no asset selected: pick at least one")
    return [known_key(ctx, k) for k in keys]


def launch_tags(tags: dict[str, str] | None, executor: str | None) -> dict[str, str]:
    """The user's tags (``origin`` is the UI's to set), and the executor the worker uses."""
    out: dict[str, str] = {}
    for k, v in (tags or {}).items():
        name = k.strip()
        if not name or len(name) > 200 or len(v) > 1000:
            raise HeadwaterError(f"tag {k[:40]!r}: a name of 1 to 200 characters and a value of at most 1000")
        if name == "origin" or name == EXECUTOR_TAG:
            raise HeadwaterError(f"tag {name!r} is set by Headwater, not by hand")
        out[name] = v
    if len(out) > MAX_TAGS:
        raise HeadwaterError(f"at most {MAX_TAGS} tags")
    if executor:
        if executor not in EXECUTORS:
            raise HeadwaterError(f"unknown executor {executor!r}; one of {', '.join(EXECUTORS)}")
        out[EXECUTOR_TAG] = executor
    return out


def materialize(ctx: WebContext, key: str | None, selection: str | None, downstream: bool = False,
                mode: str = "all", *, keys: list[AssetKey] | None = None, tags: dict[str, str] | None = None,
                executor: str | None = None) -> RunRecord:
    try:
        PlanMode(mode)
    except ValueError:
        raise HeadwaterError(f"unknown mode {mode!r}; one of all, stale, missing") from None
    run_tags = launch_tags(tags, executor)
    if keys is not None:
        chosen = set(keys) | (ctx.graph.downstream(keys) if downstream else set())
        asset_keys = ctx.graph.toposorted(chosen)
        text = ", ".join(f'"{k}"' + ("+" if downstream else "") for k in ctx.graph.toposorted(set(keys)))
        record = ctx.launcher.submit(ctx.defs, text, asset_keys=asset_keys, mode=mode, tags=run_tags)
    else:
        record = ctx.launcher.submit(ctx.defs, selection_for(ctx, key, selection, downstream), mode=mode,
                                     tags=run_tags)
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


def cancel_run(ctx: WebContext, run_id: str) -> Any:
    """Cancel a queued run at once, or ask a started run's coordinator to stop it."""
    done = ctx.instance.cancel_run(run_id, reason="canceled from the UI", requested_by="ui")
    ctx.cache.invalidate()
    return done


def toggle(ctx: WebContext, kind: str, name: str, enabled: bool) -> None:
    if kind not in ("schedule", "sensor"):
        raise HeadwaterError(f"unknown kind {kind!r}; schedule or sensor")
    ctx.instance.toggle(ctx.defs, kind, name, enabled)
