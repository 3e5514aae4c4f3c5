"""Runs: the list with its filters, and one run's steps, timeline, events, logs and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.core.events import (
    AssetFailed,
    AssetMaterialized,
    AssetObserved,
    AssetSkipped,
    CheckEvaluated,
    Event,
    LogMessage,
    RunCancelRequested,
    RunFinished,
    RunQueued,
    RunStarted,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from headwater.core.keys import to_key
from headwater.core.records import RunRecord, StepRecord, StoredEvent
from headwater.errors import HeadwaterError
from headwater.web.context import WebContext

TIMELINE_W = 720
RUN_STATUSES = tuple(s.value for s in RunStatus)
MAX_EVENTS = 5000


def list_runs(ctx: WebContext, status: str | None = None, asset: str | None = None, limit: int = 50
              ) -> list[RunRecord]:
    try:
        statuses = [RunStatus(status)] if status else None
    except ValueError:
        raise HeadwaterError(f"unknown run status {status!r}; one of {', '.join(RUN_STATUSES)}") from None
    ctx.launcher.reap()
    if not asset:
        return ctx.instance.runs(limit=limit, statuses=statuses)
    key = to_key(asset)
    runs = ctx.instance.runs(limit=max(500, limit), statuses=statuses)
    return [r for r in runs if key in r.asset_keys][:limit]


def queue_waits(ctx: WebContext, runs: list[RunRecord]) -> dict[str, str]:
    """Why the queued runs among ``runs`` wait (as ``headwater runs`` says); nothing to read otherwise."""
    if not any(r.status is RunStatus.QUEUED for r in runs):
        return {}
    return ctx.instance.queue_waits(ctx.defs)


@dataclass
class Bar:
    step: StepRecord
    x: float
    w: float
    y: float


@dataclass
class EventLine:
    id: int
    time: float
    kind: str
    step: str
    text: str
    level: str = ""
    traceback: str = ""


def timeline(run: RunRecord, steps: list[StepRecord], now: float) -> tuple[list[Bar], float]:
    starts = [s.started_at for s in steps if s.started_at is not None]
    t0 = run.started_at or (min(starts) if starts else None)
    if t0 is None:
        return [], 0.0
    ends = [s.ended_at or now for s in steps] + [run.ended_at or now]
    span = max(max(ends) - t0, 1e-3)
    bars = []
    for i, s in enumerate(sorted(steps, key=lambda s: (s.started_at or t0, s.step_key))):
        start = s.started_at or t0
        end = s.ended_at or (now if s.status.value in ("started", "retrying") else start)
        x = TIMELINE_W * (start - t0) / span
        bars.append(Bar(s, round(x, 1), round(max(2.0, TIMELINE_W * (end - start) / span), 1), i * 22))
    return bars, span


def describe(stored: StoredEvent) -> EventLine:
    """One line of the event log, in words."""
    e: Event = stored.event
    step = getattr(e, "step_key", None) or ""
    line = EventLine(stored.id, e.timestamp, e.type_name, step, "")
    if isinstance(e, LogMessage):
        line.text, line.level = e.message, e.level
    elif isinstance(e, StepFailed):
        line.text = f"{e.error.type_name + ': ' if e.error.type_name else ''}{e.error.message}" + (
            f" (attempt {e.attempt}, will retry)" if e.will_retry else f" (attempt {e.attempt})")
        line.traceback, line.level = e.error.traceback, "error"
    elif isinstance(e, AssetFailed):
        line.text, line.traceback, line.level = f"{e.key}: {e.error.message}", e.error.traceback, "error"
    elif isinstance(e, AssetSkipped):
        line.text = f"{e.key} skipped: {e.reason.value}" + (f" — {e.detail}" if e.detail else "")
    elif isinstance(e, AssetMaterialized):
        line.text = f"materialized {e.key} (data version {e.data_version})"
    elif isinstance(e, AssetObserved):
        line.text = f"observed {e.key} (data version {e.data_version})"
    elif isinstance(e, CheckEvaluated):
        line.text = f"check {e.check_name} on {e.key}: {'passed' if e.passed else 'failed'}" + (
            f" — {e.description}" if e.description else "")
        line.level = "" if e.passed else "warn"
    elif isinstance(e, StepStarted):
        line.text = f"step started (attempt {e.attempt})"
    elif isinstance(e, StepSucceeded):
        line.text = f"step succeeded in {e.duration:.2f} s"
    elif isinstance(e, StepSkipped):
        line.text = f"step skipped: {e.reason.value}" + (f" — {e.detail}" if e.detail else "")
    elif isinstance(e, RunStarted):
        line.text = f"run started ({e.executor or 'queued'}) for {len(e.asset_keys)} asset(s)"
    elif isinstance(e, RunQueued):
        line.text = f"run queued by {e.origin or 'someone'}: {e.selection}"
    elif isinstance(e, RunCancelRequested):
        line.text = "cancel requested" + (f" by {e.requested_by}" if e.requested_by else "") + (
            f": {e.reason}" if e.reason else "")
        line.level = "warn"
    elif isinstance(e, RunFinished):
        line.text = f"run {e.status.value}" + (f": {e.reason}" if e.reason else "")
        line.level = "error" if e.status is RunStatus.FAILED else ""
    else:
        line.text = e.type_name
    return line


@dataclass
class RunPage:
    run: RunRecord
    steps: list[StepRecord]
    bars: list[Bar]
    span: float
    events: list[EventLine]
    last_id: int
    errors: list[EventLine]
    can_reexecute: bool
    waiting: str | None = None  # a queued run: its place in the queue and what holds it back

    @property
    def can_cancel(self) -> bool:
        return not self.run.status.is_terminal


def run_page(ctx: WebContext, run_id: str, now: float) -> RunPage:
    ctx.launcher.reap()
    run = ctx.instance.run(run_id)
    steps = ctx.instance.run_steps(run.run_id)
    stored = ctx.instance.run_events(run.run_id)[-MAX_EVENTS:]
    lines = [describe(s) for s in stored]
    bars, span = timeline(run, steps, now)
    failed = run.status in (RunStatus.FAILED, RunStatus.CANCELED)
    waiting = queue_waits(ctx, [run]).get(run.run_id)
    return RunPage(run, steps, bars, span, lines, stored[-1].id if stored else 0,
                   [line for line in lines if line.traceback or line.level == "error"], failed, waiting)


def events_after(ctx: WebContext, run_id: str, after_id: int, limit: int = 1000) -> dict[str, Any]:
    from headwater.web.shapes import event_row

    ctx.launcher.reap()
    run = ctx.instance.run(run_id)
    stored = ctx.instance.store.run_events(run.run_id, after_id=after_id, limit=limit)
    rows = []
    for s in stored:
        row = event_row(s)
        line = describe(s)
        row["text"], row["level"] = line.text, line.level
        rows.append(row)
    return {"run_id": run.run_id, "status": run.status.value, "events": rows,
            "last_id": stored[-1].id if stored else after_id}
