"""Drives one run: dispatches ready steps, retries, skips what reads a failed asset, cancels.

A cancel comes from Ctrl-C in this process, or from anywhere through the store: the
coordinator asks ``should_stop`` (``run_cancel_watch.CancelWatch``) between waits of at most
``STOP_POLL`` seconds, and on a request stops launching, stops what is in flight (the
executor's ``cancel``: worker processes terminated, Dask futures canceled; an in-process step
is not interrupted, the run stops after it) and ends the run canceled.

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
from headwater.core.partitions import format_partitioned_key as _label
from headwater.core.partitions import time_span
from headwater.core.status import AssetStatus
from headwater.definitions.definitions import Definitions
from headwater.execution.executor import Executor
from headwater.execution.plan import ExecutionPlan, Step
from headwater.execution.requests import InputSnapshot, StepOutcome, StepRequest
from headwater.execution.run_cancel_watch import EVERY as STOP_POLL
from headwater.execution.run_cancel_watch import StopRequest
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
    materializations: dict[AssetKey, AssetMaterialized] = field(default_factory=dict)  # the last per asset
    partition_materializations: dict[tuple[AssetKey, str], AssetMaterialized] = field(default_factory=dict)
    errors: dict[str, ErrorInfo] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    # Assets a step reported as skipped (AssetSkip: dbt skipped a model) -> that step's key.
    skipped_assets: dict[AssetKey, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    up_to_date: tuple[AssetKey, ...] = ()

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCEEDED


ProgressHook = Callable[[str, Step, str], None]
StopCheck = Callable[[], StopRequest | None]


class _Stop(Exception):
    def __init__(self, request: StopRequest) -> None:
        super().__init__(request.reason)
        self.request = request


class RunCoordinator:
    def __init__(self, *, run_id: str, plan: ExecutionPlan, defs: Definitions, writer: EventWriter,
                 executor: Executor, view: StatusView, options: RunOptions,
                 progress: ProgressHook | None = None, clock: Callable[[], float] = time.time,
                 should_stop: StopCheck | None = None) -> None:
        self.clock = clock
        self.should_stop = should_stop  # timestamps of recorded events; waiting for retries uses real time
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
        self._produced: set[tuple[AssetKey, str]] = set()
        # (Asset, partition)s of this run that failed, were skipped or are blocked, with the reason
        # their readers are skipped: decided per key and partition, so a step's good outputs (and
        # the other days of a backfill) still feed their readers.
        self._bad: dict[tuple[AssetKey, str], str] = {}
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
        for key, parts in self.plan.up_to_date_partitions.items():
            start.append(StepSkipped(run_id=self.run_id, timestamp=self.clock(), step_key=f"{key}[up to date]",
                                     asset_keys=(key,), partitions=parts, reason=SkipReason.UP_TO_DATE,
                                     detail=f"{len(parts)} partition(s) already up to date"))
        self.writer.write(start)
        ready = [s.key for s in self.plan.steps if not s.deps]
        try:
            self._loop(ready)
        except _Stop as stop:
            self._cancel(stop.request.reason)
            self.outcome.status = stop.request.status  # an end written elsewhere stands
            return self.outcome
        except KeyboardInterrupt:
            self._cancel("interrupted by the user (Ctrl-C)")
            raise
        except Exception as exc:  # the executor itself broke: end the run with the true reason
            self._cancel(f"the run was aborted: {exc}", RunStatus.FAILED)
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
            if self.should_stop is not None:
                stop = self.should_stop()
                if stop is not None:
                    raise _Stop(stop)
            now = time.time()
            while self._retries and self._retries[0][0] <= now:
                ready.append(heapq.heappop(self._retries)[1])
            for key in ready:
                self._submit(key)
            ready = []
            if not self._in_flight and not self._retries:
                return
            timeout = max(0.0, self._retries[0][0] - now) if self._retries else None
            if self.should_stop is not None:
                timeout = STOP_POLL if timeout is None else min(timeout, STOP_POLL)
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
            attempt=attempt, max_attempts=1 + (retry.max_retries if retry else 0),
            timeout=spec.timeout if spec.timeout is not None else getattr(self.defs, "step_timeout", None),
            tags=dict(self.options.tags), partition=step.partitions[0] if step.partitions else "",
            partitions=step.partitions, partition_inputs=self._partition_inputs(step), reads=step.reads,
            time_window=self._time_window(step), current=self._current(step))
        self._in_flight.add(step_key)
        self.progress("started", step, "")
        self.executor.submit(request)

    def _current(self, step: Step) -> dict[AssetKey, tuple[str | None, float]]:
        """Where a multi-asset's ``CheckReport`` results go: each of its assets' current
        materialization (only for those that may report them: subsettable multi-assets)."""
        definition = self.defs.definition_for(step.asset_keys[0])
        if not (definition.is_multi and definition.can_subset):
            return {}
        out: dict[AssetKey, tuple[str | None, float]] = {}
        for key in definition.keys:
            mat = self.view.status(key).last_materialization
            if mat is not None:
                out[key] = (mat.run_id, mat.timestamp)
        return out

    def _inputs(self, step: Step) -> dict[AssetKey, InputSnapshot]:
        own = set(step.asset_keys)
        graph = self.defs.graph
        out: dict[AssetKey, InputSnapshot] = {}
        for key in step.asset_keys:
            for dep in graph.parents(key):
                if dep in own or dep in out or dep in graph.partitioned:
                    continue
                out[dep] = self._snapshot(dep, "", self.view.status(dep))
        return out

    def _snapshot(self, dep: AssetKey, partition: str, st: AssetStatus) -> InputSnapshot:
        mat = st.last_materialization
        # A few root causes say enough; `why` on the input lists them all.
        detail = "; ".join(c.detail for c in st.roots[:3]) if st.stale else ""
        if st.failure is not None:
            detail = st.failure.message
        return InputSnapshot(
            InputRecord(dep, st.data_version, st.data_time, st.input_state, detail,
                        produced_in_run=(dep, partition) in self._produced, partition=partition),
            mat.value_ref if mat else None)

    def _partition_inputs(self, step: Step) -> dict[AssetKey, dict[str, InputSnapshot]]:
        """Each partitioned parent partition the step reads, as it is now."""
        own = set(step.asset_keys)
        partitioned = self.defs.graph.partitioned
        out: dict[AssetKey, dict[str, InputSnapshot]] = {}
        for per in step.reads.values():
            for dep, parts in per.items():
                if dep in own or dep not in partitioned:
                    continue
                snaps = out.setdefault(dep, {})
                for q in parts:
                    if q not in snaps:
                        snaps[q] = self._snapshot(dep, q, self.view.partition_status(dep, q))
        return out

    def _time_window(self, step: Step) -> tuple[float, float] | None:
        if not step.partitions:
            return None
        inputs = self.view.partition_inputs
        spec = self.defs.graph.spec(step.asset_keys[0])
        if inputs is None or spec.partitions is None:
            return None
        return time_span(spec.partitions, step.partitions, inputs.ctx)

    def _handle(self, outcome: StepOutcome) -> list[str]:
        step = self._steps[outcome.step_key]
        self._in_flight.discard(step.key)
        for mat in outcome.materializations:
            self.view.record(mat)
            self._produced.add((mat.key, mat.partition))
            self.outcome.materializations[mat.key] = mat
            self.outcome.partition_materializations[(mat.key, mat.partition)] = mat
        attempt = outcome.attempt
        retry = self.defs.graph.spec(step.asset_keys[0]).retry
        will_retry = not outcome.ok and retry is not None and attempt <= retry.max_retries
        if not outcome.ok and not outcome.recorded:
            self.writer.write([StepFailed(
                run_id=self.run_id, timestamp=self.clock(), step_key=step.key, asset_keys=outcome.failed_keys,
                partitions=step.partitions, attempt=attempt, error=outcome.error or ErrorInfo("unknown failure"), will_retry=will_retry,
                duration=outcome.duration)])
        if will_retry:
            assert retry is not None
            error = outcome.error or ErrorInfo("unknown failure")
            delay = retry.wait_before(attempt)
            self.progress("retrying", step, f"attempt {attempt} failed: {error.message}; retry in {delay:g}s")
            heapq.heappush(self._retries, (time.time() + delay, step.key))
            return []
        # What this step leaves unusable, and why: steps reading any of it are skipped; steps
        # reading only what it did produce go on (one failed dbt model holds back its readers only).
        parts = step.partitions or ("",)
        bad: dict[tuple[AssetKey, str], str] = {}
        for key in outcome.skipped_keys:
            for p in parts:
                bad[(key, p)] = f"upstream asset {_label(key, p)} was skipped"
            self.outcome.skipped_assets[key] = step.key
        for key, why in outcome.blocked_by.items():
            for p in parts:
                bad[(key, p)] = why
        if outcome.ok:
            self.outcome.step_status[step.key] = "succeeded"
            if outcome.blocked:
                self.outcome.blocked[step.key] = "; ".join(outcome.blocked)
                self.progress("blocked", step, self.outcome.blocked[step.key])
            else:
                self.progress("succeeded", step, f"{outcome.duration:.2f}s")
        else:
            error = outcome.error or ErrorInfo("unknown failure")
            self.outcome.step_status[step.key] = "failed"
            self.outcome.errors[step.key] = error
            if outcome.blocked:
                self.outcome.blocked[step.key] = "; ".join(outcome.blocked)
            self.progress("failed", step, error.message)
            now = self.clock()
            for key in outcome.failed_keys:
                self.view.record_failure(key, self.run_id, now, step.partitions)
            produced = {(m.key, m.partition) for m in outcome.materializations}
            for key in step.asset_keys:
                for p in parts:
                    if key in outcome.reasons:
                        bad[(key, p)] = f"upstream asset {_label(key, p)} failed"
                    elif (key, p) not in produced and (key, p) not in bad:
                        bad[(key, p)] = f"upstream step {step.key} failed"
        self._bad.update(bad)
        return self._release_children(step.key)

    def _release_children(self, step_key: str) -> list[str]:
        """Children of a finished step: skipped if they read an unusable asset, else released
        once nothing else holds them; a skip makes the skipped step's own assets unusable."""
        released: list[str] = []
        skips: list[Event] = []
        now = self.clock()
        todo = [step_key]
        while todo:
            done = todo.pop()
            for child in self._children[done]:
                if child in self.outcome.skipped or child in self.outcome.step_status:
                    continue
                why = self._reads_bad(self._steps[child])
                if why is None:
                    waiting = self._waiting[child]
                    waiting.discard(done)
                    if not waiting:
                        released.append(child)
                    continue
                s = self._steps[child]
                self.outcome.skipped[child] = why
                self.outcome.step_status[child] = "skipped"
                for key in s.asset_keys:
                    for p in s.partitions or ("",):
                        self._bad.setdefault((key, p), why)  # the root cause travels down unchanged
                skips.append(StepSkipped(run_id=self.run_id, timestamp=now, step_key=child, asset_keys=s.asset_keys,
                                         partitions=s.partitions, reason=SkipReason.UPSTREAM_FAILED, detail=why))
                self.progress("skipped", s, why)
                todo.append(child)
        if skips:
            self.writer.write(skips)
        return released

    def _reads_bad(self, step: Step) -> str | None:
        """Why ``step`` cannot run (the first unusable asset it reads), or None."""
        if not self._bad:
            return None
        graph = self.defs.graph
        for key in step.asset_keys:
            for parent in graph.parents(key):
                for p in step.partitions or ("",):
                    for q in step.reads.get(p, {}).get(parent, ("",)):
                        why = self._bad.get((parent, q))
                        if why is not None:
                            return why
        return None

    def _cancel(self, reason: str, status: RunStatus = RunStatus.CANCELED) -> None:
        """Stop what runs, then record every step not done as skipped for ``reason`` (the
        store makes those that had started canceled) and the run's end, in one write: a
        worker's late report can only come after it, and is dropped (``writer.py``)."""
        self.executor.cancel()
        now = self.clock()
        events: list[Event] = []
        for key, step in self._steps.items():
            if key in self.outcome.step_status:
                continue
            self.outcome.step_status[key] = "canceled"
            if key in self._in_flight and status is not RunStatus.CANCELED:
                continue  # an aborted run fails what it was running (the run's end does it)
            events.append(StepSkipped(run_id=self.run_id, timestamp=now, step_key=key, asset_keys=step.asset_keys,
                                      partitions=step.partitions, reason=SkipReason.CANCELED, detail=reason))
        self._in_flight.clear()
        events.append(RunFinished(run_id=self.run_id, timestamp=now, status=status, reason=reason))
        self.writer.write(events)
        self.outcome.status = status
