"""An asset's attempts that produced nothing (failed, skipped), and the cause of the latest.

The store keeps materializations per asset; a failed or skipped attempt is a fact of a run
(its step), so it is found from the runs that named the asset: the recent failed or
canceled ones, and in each the step that held the asset. That is one query for the runs
and one per such run (at most ``LIMIT``), read only when an asset page or its API
document is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from headwater.core.events import LogMessage, RunStatus
from headwater.core.keys import AssetKey
from headwater.core.records import StepRecord, StepStatus
from headwater.core.status import AssetStatus, MaterializationStatus
from headwater.reports import iso

LIMIT = 50           # failed or skipped attempts listed
RUNS_SCANNED = 500   # recent runs looked through for them
LOG_LINES = 40       # log lines of the failing step shown beside its traceback
_UPSTREAM = re.compile(r"upstream (?:asset|step) (\S+) (?:failed|was skipped)")


@dataclass(frozen=True)
class Attempt:
    """A failed or skipped attempt: where (run, step), when, how long, and why."""

    run_id: str
    step_key: str
    state: str            # "failed" or "skipped"
    at: float
    duration: float | None
    message: str
    traceback: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "step_key": self.step_key, "state": self.state, "time": iso(self.at),
                "timestamp": self.at, "duration": self.duration, "message": self.message}


@dataclass(frozen=True)
class Cause:
    """Why the asset's latest attempt produced nothing, with what a person needs in view:
    the run and step, the error and traceback, the step's last log lines; for a skip, the
    upstream asset whose failure caused it."""

    state: str
    run_id: str
    step_key: str | None
    message: str
    traceback: str = ""
    logs: list[tuple[float, str, str]] = field(default_factory=list)
    upstream: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "run_id": self.run_id, "step_key": self.step_key, "message": self.message,
                "traceback": self.traceback, "upstream": self.upstream,
                "logs": [{"time": iso(t), "level": level, "message": m} for t, level, m in self.logs]}


def _step_of(steps: list[StepRecord], key: AssetKey) -> StepRecord | None:
    return next((s for s in steps if key in s.asset_keys), None)


def attempts(ctx: Any, key: AssetKey, produced_in: set[str]) -> list[Attempt]:
    """Failed and skipped attempts of ``key``, newest first; ``produced_in`` names the runs
    that materialized it (a multi-asset step can fail after producing it)."""
    out: list[Attempt] = []
    runs = ctx.instance.runs(limit=RUNS_SCANNED, statuses=[RunStatus.FAILED, RunStatus.CANCELED])
    for run in runs:
        if key not in run.asset_keys or run.run_id in produced_in:
            continue
        step = _step_of(ctx.instance.run_steps(run.run_id), key)
        if step is None or step.status not in (StepStatus.FAILED, StepStatus.SKIPPED):
            continue
        failed = step.status is StepStatus.FAILED
        at = step.ended_at or step.started_at or run.ended_at or run.created_at or 0.0
        duration = step.ended_at - step.started_at if step.ended_at and step.started_at else None
        message = (step.error.message if step.error else "") if failed else (step.detail or "skipped")
        out.append(Attempt(run.run_id, step.step_key, "failed" if failed else "skipped", at, duration, message,
                           step.error.traceback if failed and step.error else ""))
        if len(out) >= LIMIT:
            break
    return out


def latest_cause(ctx: Any, status: AssetStatus) -> Cause | None:
    """The cause of a ``failed`` or ``skipped`` status, read from the run that attempted it."""
    if status.status not in (MaterializationStatus.FAILED, MaterializationStatus.SKIPPED):
        return None
    run_id = status.last_attempt_run_id
    message = status.failure.message if status.failure else ""
    if not run_id:
        return Cause(status.status.value, "", None, message)
    step = _step_of(ctx.instance.run_steps(run_id), status.key)
    if status.status is MaterializationStatus.SKIPPED:
        found = _UPSTREAM.search(message)
        upstream = found.group(1) if found and found.group(1) in ctx.key_names else None  # a step of one asset
        return Cause("skipped", run_id, step.step_key if step else None, message, upstream=upstream)
    traceback = (status.failure.traceback if status.failure else "") or (
        step.error.traceback if step is not None and step.error else "")
    logs: list[tuple[float, str, str]] = []
    if step is not None:
        for stored in ctx.instance.store.run_events(run_id):
            e = stored.event
            if isinstance(e, LogMessage) and e.step_key == step.step_key:
                logs.append((e.timestamp, e.level, e.message))
    return Cause("failed", run_id, step.step_key if step else None, message, traceback, logs[-LOG_LINES:])
