"""Drives one run: dispatches ready steps, retries, skips downstream of failures, cancels.

The coordinator owns the run's lifecycle events (start, skips, retries it decides,
failures a worker could not report, the end); workers record their own step events.
It keeps statuses in memory (``StatusView``) so that each step is told, at dispatch,
what state every input is in — the "ran on stale inputs" record.
"""

from __future__ import annotations

import heapq
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from headwater.core.events import (
    AssetMaterialized,
    ErrorInfo,
    Event,
    InputRecord,
    RunFinished,
    RunStarted,
    RunStatus,
    SkipReason,
    StepFailed,
    StepSkipped,
)
from headwater.core.keys import AssetKey
from headwater.definitions.definitions import Definitions
from headwater.execution.executor import Executor
from headwater.execution.plan import ExecutionPlan, Step
from headwater.execution.requests import InputSnapshot, StepOutcome, StepRequest
from headwater.execution.status_view import StatusView
from headwater.storage.interfaces import EventWriter


@dataclass(frozen=True)
class RunOptions:
    selection: str = "*"
    tags: Mapping[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    location: str | None = None


@dataclass
class RunOutcome:
    run_id: str
    status: RunStatus
    step_status: dict[str, str] = field(default_factory=dict)
    materializations: dict[AssetKey, AssetMaterialized] = field(default_factory=dict)
    errors: dict[str, ErrorInfo] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    up_to_date: tuple[AssetKey, ...] = ()

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCEEDED


ProgressHook = Callable[[str, Step, str], None]


class RunCoordinator:
    def __init__(self, *, run_id: str, plan: ExecutionPlan, defs: Definitions, writer: EventWriter,
                 executor: Executor, view: StatusView, options: RunOptions,
                 progress: ProgressHook | None = None, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # timestamps of recorded events; waiting for retries uses real time
        self.run_id = run_id
        self.plan = plan
        self.defs = defs
        self.writer = writer
        self.executor = executor
        self.view = view
        self.options = options
        self.progress = progress or (lambda event, step, detail: None)
        self._steps = {s.key: s for s in plan.steps}
        self._children: dict[str, list[str]] = {s.key: [] for s in plan.steps}
        for s in plan.steps:
            for d in s.deps:
                self._children[d].append(s.key)
        self._waiting = {s.key: set(s.deps) for s in plan.steps}
        self._attempts: dict[str, int] = {}
        self._retries: list[tuple[float, str]] = []
        self._in_flight: set[str] = set()
        self._produced: set[AssetKey] = set()
        self.outcome = RunOutcome(run_id, RunStatus.STARTED, up_to_date=plan.up_to_date)

    # -- public ----------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        start: list[Event] = [RunStarted(
            run_id=self.run_id, timestamp=self.clock(), selection=self.options.selection,
            asset_keys=self.plan.asset_keys, tags=dict(self.options.tags), parent_run_id=self.options.parent_run_id,
            executor=self.executor.name, pid=os.getpid(), host=socket.gethostname(), location=self.options.location)]
        for key in self.plan.up_to_date:
            start.append(StepSkipped(run_id=self.run_id, timestamp=self.clock(), step_key=str(key),
                                     asset_keys=(key,), reason=SkipReason.UP_TO_DATE,
                                     detail="already up to date"))
        self.writer.write(start)
        ready = [s.key for s in self.plan.steps if not s.deps]
        try:
            self._loop(ready)
        except KeyboardInterrupt:
            self._cancel("interrupted by the user (Ctrl-C)")
            raise
        problems = []
        if self.outcome.errors:
            problems.append(f"{len(self.outcome.errors)} step(s) failed")
        if self.outcome.blocked:
            problems.append(f"blocking checks failed in {len(self.outcome.blocked)} step(s)")
        status = RunStatus.FAILED if problems else RunStatus.SUCCEEDED
        reason = "; ".join(problems)
        self.writer.write([RunFinished(run_id=self.run_id, timestamp=self.clock(), status=status, reason=reason)])
        self.outcome.status = status
        return self.outcome

    # -- loop ------------------------------------------------------------------------------

    def _loop(self, ready: list[str]) -> None:
        while True:
            now = time.time()
            while self._retries and self._retries[0][0] <= now:
                ready.append(heapq.heappop(self._retries)[1])
            for key in ready:
                self._submit(key)
            ready = []
            if not self._in_flight and not self._retries:
                return
            timeout = max(0.0, self._retries[0][0] - now) if self._retries else None
            if not self._in_flight:
                time.sleep(timeout or 0)
                continue
            for outcome in self.executor.poll(timeout):
                ready.extend(self._handle(outcome))

    def _submit(self, step_key: str) -> None:
        step = self._steps[step_key]
        attempt = self._attempts.get(step_key, 0) + 1
        self._attempts[step_key] = attempt
        spec = self.defs.graph.spec(step.asset_keys[0])
        retry = spec.retry
        request = StepRequest(
            run_id=self.run_id, step_key=step_key, asset_keys=step.asset_keys, inputs=self._inputs(step),
            attempt=attempt, max_attempts=1 + (retry.max_retries if retry else 0), timeout=spec.timeout)
        self._in_flight.add(step_key)
        self.progress("started", step, "")
        self.executor.submit(request)

    def _inputs(self, step: Step) -> dict[AssetKey, InputSnapshot]:
        own = set(step.asset_keys)
        graph = self.defs.graph
        out: dict[AssetKey, InputSnapshot] = {}
        for key in step.asset_keys:
            for dep in graph.parents(key):
                if dep in own or dep in out:
                    continue
                st = self.view.status(dep)
                mat = st.last_materialization
                # A few root causes say enough; `why` on the input lists them all.
                detail = "; ".join(c.detail for c in st.roots[:3]) if st.stale else ""
                if st.failure is not None:
                    detail = st.failure.message
                out[dep] = InputSnapshot(
                    InputRecord(dep, st.data_version, st.data_time, st.input_state, detail,
                                produced_in_run=dep in self._produced),
                    mat.value_ref if mat else None)
        return out

    def _handle(self, outcome: StepOutcome) -> list[str]:
        step = self._steps[outcome.step_key]
        self._in_flight.discard(step.key)
        for mat in outcome.materializations:
            self.view.record(mat)
            self._produced.add(mat.key)
            self.outcome.materializations[mat.key] = mat
        attempt = outcome.attempt
        retry = self.defs.graph.spec(step.asset_keys[0]).retry
        will_retry = not outcome.ok and retry is not None and attempt <= retry.max_retries
        if not outcome.ok and not outcome.recorded:
            self.writer.write([StepFailed(
                run_id=self.run_id, timestamp=self.clock(), step_key=step.key, asset_keys=outcome.failed_keys,
                attempt=attempt, error=outcome.error or ErrorInfo("unknown failure"), will_retry=will_retry,
                duration=outcome.duration)])
        if outcome.ok and outcome.blocked:
            self.outcome.step_status[step.key] = "succeeded"
            self.outcome.blocked[step.key] = "; ".join(outcome.blocked)
            self.progress("blocked", step, self.outcome.blocked[step.key])
            self._skip_downstream(step, "; ".join(outcome.blocked))
            return []
        if outcome.ok:
            self.outcome.step_status[step.key] = "succeeded"
            self.progress("succeeded", step, f"{outcome.duration:.2f}s")
            released = []
            for child in self._children[step.key]:
                waiting = self._waiting[child]
                waiting.discard(step.key)
                if not waiting and child not in self.outcome.skipped:
                    released.append(child)
            return released
        error = outcome.error or ErrorInfo("unknown failure")
        if will_retry:
            assert retry is not None
            delay = retry.wait_before(attempt)
            self.progress("retrying", step, f"attempt {attempt} failed: {error.message}; retry in {delay:g}s")
            heapq.heappush(self._retries, (time.time() + delay, step.key))
            return []
        self.outcome.step_status[step.key] = "failed"
        self.outcome.errors[step.key] = error
        self.progress("failed", step, error.message)
        now = self.clock()
        for key in outcome.failed_keys:
            self.view.record_failure(key, self.run_id, now)
        self._skip_downstream(step, f"upstream step {step.key} failed")
        return []

    def _skip_downstream(self, step: Step, detail: str) -> None:
        now = self.clock()
        skips: list[Event] = []
        for down in self.plan.downstream_of(step.key):
            if down in self.outcome.skipped or down in self.outcome.step_status:
                continue
            self.outcome.skipped[down] = detail
            self.outcome.step_status[down] = "skipped"
            s = self._steps[down]
            skips.append(StepSkipped(run_id=self.run_id, timestamp=now, step_key=down, asset_keys=s.asset_keys,
                                     reason=SkipReason.UPSTREAM_FAILED, detail=detail))
            self.progress("skipped", s, detail)
        if skips:
            self.writer.write(skips)

    def _cancel(self, reason: str) -> None:
        self.executor.cancel()
        now = self.clock()
        events: list[Event] = []
        for key, step in self._steps.items():
            if key in self.outcome.step_status or key in self._in_flight:
                continue
            self.outcome.step_status[key] = "canceled"
            events.append(StepSkipped(run_id=self.run_id, timestamp=now, step_key=key, asset_keys=step.asset_keys,
                                      reason=SkipReason.CANCELED, detail=reason))
        for key in self._in_flight:
            self.outcome.step_status[key] = "canceled"
        events.append(RunFinished(run_id=self.run_id, timestamp=now, status=RunStatus.CANCELED, reason=reason))
        self.writer.write(events)
        self.outcome.status = RunStatus.CANCELED
