"""The one place that wires settings, the store, definitions and executors together.

Interfaces (CLI, web, the Python API) ask an ``Instance`` questions and to launch runs;
they never build stores or executors themselves.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.core.asset_states import state_index
from headwater.core.events import (
    AlertDeliveryAttempt,
    AlertTransition,
    AssetMaterialized,
    AssetObserved,
    CheckEvaluated,
    ErrorInfo,
    Event,
    ObservationUnchanged,
    RunFinished,
    RunStatus,
    StepSkipped,
    StepStarted,
)
from headwater.core.explain import explain
from headwater.core.health import AssetHealth, HealthPass, assess
from headwater.core.keys import AssetKey, CoercibleToKey, to_key
from headwater.core.records import RunRecord, StepRecord, StepStatus, StoredEvent
from headwater.core.retention import RetentionPolicy
from headwater.core.selection import select, suggest_keys
from headwater.core.status import AssetStatus, StatusPass, compute_statuses
from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.errors import AssetNotFoundError, HeadwaterError, RunNotFoundError
from headwater.execution.partition_plan import PartitionTargets
from headwater.execution.plan import ExecutionPlan, PlanMode, build_plan
from headwater.execution.status_view import StatusView
from headwater.gc_pause import paused_gc
from headwater.service.automation_views import AutomationViews
from headwater.service.backfills import BackfillViews
from headwater.service.gate_view import gate_run, hold_lines
from headwater.service.partition_views import (
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    PartitionViews,
    partition_tags,
)
from headwater.service.run_cancel import RunCancels
from headwater.service.run_queue import RunQueueViews
from headwater.service.run_reaper import CLAIM_TIMEOUT, alive, reap
from headwater.storage.interfaces import EventStore
from headwater.values.filesystem import FilesystemValueStore

if TYPE_CHECKING:
    from headwater.alerts import AlertEvaluation
    from headwater.execution.coordinator import ProgressHook, RunOutcome
    from headwater.execution.executor import Executor

# What only running, checking, observing and alerting need (the coordinator, the executors,
# alert channels) is imported by the methods that do it: a command that reads state
# (``status``, ``why``, the UI's pages) never loads it, which was ~0.1 s of each.


class ObservationError(HeadwaterError):
    """Some sources could not be observed; the others were recorded."""

    def __init__(self, observed: list[AssetObserved], failures: list[str]) -> None:
        self.observed = observed
        self.failures = failures
        super().__init__("could not observe " + "; ".join(failures))


@dataclass
class RunResult:
    """What ``materialize`` hands back: the run's outcome, and access to the values it made."""

    outcome: RunOutcome
    plan: ExecutionPlan
    instance: Instance

    @property
    def run_id(self) -> str:
        return self.outcome.run_id

    @property
    def status(self) -> RunStatus:
        return self.outcome.status

    @property
    def success(self) -> bool:
        return self.outcome.success

    @property
    def errors(self) -> dict[str, ErrorInfo]:
        return self.outcome.errors

    @property
    def materializations(self) -> dict[AssetKey, AssetMaterialized]:
        return self.outcome.materializations

    def materialization(self, key: CoercibleToKey) -> AssetMaterialized:
        return self.outcome.materializations[to_key(key)]

    defs: Definitions | None = None

    def value(self, key: CoercibleToKey) -> Any:
        mat = self.materialization(key)
        if mat.value_ref is None:
            return None
        store = (self.defs.value_store if self.defs is not None else None) or self.instance.values
        return store.load(mat.key, mat.partition, mat.value_ref)


class Instance(AutomationViews, PartitionViews, BackfillViews, RunQueueViews, RunCancels):
    """A Headwater home: its event store and its value store.

    ``home`` defaults to ``$HEADWATER_HOME`` or ``./.headwater``; the database to
    ``$HEADWATER_DATABASE_URL`` or SQLite at ``<home>/headwater.db``.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, database_url: str | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        # Time is a parameter: tests replay a night with a fake clock (STYLE.md habit 8).
        self.clock: Callable[[], float] = clock or time.time
        self.home = Path(home or os.environ.get("HEADWATER_HOME") or ".headwater").resolve()
        self.database_url = (database_url or os.environ.get("HEADWATER_DATABASE_URL")
                             or f"sqlite:///{self.home / 'headwater.db'}")
        self._store: EventStore | None = None
        self._reads: Any = None  # ``reads``: the standard library's reads of a SQLite store, False when none
        self._values: FilesystemValueStore | None = None
        self._status_pass = StatusPass()  # re-derives only what changed between reads
        self._health_pass = HealthPass()

    @classmethod
    def ephemeral(cls) -> Instance:
        """A throwaway home in a temporary directory, removed when the interpreter exits."""
        folder = tempfile.mkdtemp(prefix="headwater-")
        instance = cls(home=folder, database_url=f"sqlite:///{folder}/headwater.db")
        atexit.register(shutil.rmtree, folder, True)
        atexit.register(instance.close)
        return instance

    def exists(self) -> bool:
        """Whether this home holds state yet: commands that only read must not create it."""
        if self._store is not None or not self.database_url.startswith("sqlite"):
            return True
        path = self.database_url.split(":///", 1)[-1]
        return path in ("", ":memory:") or Path(path).exists()

    @property
    def store(self) -> EventStore:
        if self._store is None:
            from headwater.storage.sql.store import open_store  # SQLAlchemy loads only when needed

            self.home.mkdir(parents=True, exist_ok=True)
            self._store = open_store(self.database_url)
        return self._store

    @property
    def reads(self) -> Any:
        """What a read of the whole state once asks (``status``'s rows: the last event id,
        assets changed since one, latest facts and check results): on a SQLite file while the
        store is not open, the standard library's (``sqlite_reads``: importing SQLAlchemy is
        ~0.3 s of such a command); else the store. Same answers either way."""
        if self._store is not None:
            return self._store
        if self._reads is None:
            from headwater.storage.sql.sqlite_reads import open_sqlite_reads

            self._reads = (open_sqlite_reads(self.database_url) if self.exists() else None) or False
        return self._reads or self.store

    def run_in_progress(self) -> bool:
        """Whether the store holds a run in progress (one whose process died is marked
        failed only by ``reap_dead_runs``, through the store)."""
        reads = self.reads
        if reads is self._store:
            return bool(reads.list_runs(limit=1, statuses=[RunStatus.STARTED]))
        return bool(reads.running())

    @property
    def values(self) -> FilesystemValueStore:
        if self._values is None:
            self._values = FilesystemValueStore(self.home / "values")
        return self._values

    def close(self) -> None:
        if self._reads:
            self._reads.close()
        self._reads = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state -----------------------------------------------------------------------------

    def statuses(self, defs: Definitions, once: bool = False,
                 only: Collection[AssetKey] | None = None) -> dict[AssetKey, AssetStatus]:
        """``once``: for a caller that reads the state once (``status``'s rows in a CLI process):
        the same statuses from facts the store neither decodes whole nor keeps
        (``latest_facts_once``), and none kept for a next pass; ``only`` (with ``once``): of
        these assets alone, which hold their ancestors."""
        if once:
            reads = self.reads
            if reads is self._store or reads.running():  # a run in progress: its process may have died
                self.reap_dead_runs()
                reads = self.store
            facts = reads.latest_facts_once(defs.graph.keys if only is None else only)
            with paused_gc():
                return compute_statuses(defs.graph, facts, self.partition_inputs(defs), only=only)
        self.reap_dead_runs()
        facts = self.store.latest_facts(defs.graph.keys)
        with paused_gc():
            return self._status_pass.compute(defs.graph, facts, self.partition_inputs(defs))

    def status(self, defs: Definitions, selection: str | None = None) -> list[AssetStatus]:
        """Status of the selected assets (all when None), upstream first."""
        statuses = self.statuses(defs)
        if selection is None:
            return list(statuses.values())
        chosen = self.select(defs, selection)
        return [s for k, s in statuses.items() if k in chosen]

    def healths(self, defs: Definitions) -> dict[AssetKey, AssetHealth]:
        """Health of every asset: one read of latest facts and one of check results."""
        with paused_gc():  # one pause for the reads and the derivation: see gc_pause
            statuses = self.statuses(defs)
            results = self.with_partition_checks(defs, statuses, self.store.latest_check_results())
            return self._health_pass.assess(defs.graph, statuses, defs.check_specs, results, self.clock())

    def status_rows(self, defs: Definitions) -> Any:
        """Every asset's ``headwater status`` row, upstream first: stored by the last process
        that computed them while they still hold (``service/status_snapshot.py``)."""
        from headwater.service.status_snapshot import status_rows

        return status_rows(self, defs)

    def _refresh_status_snapshot(self, defs: Definitions) -> None:
        """This process wrote (a run ended, checks ran, sources were observed): keep
        ``headwater status``'s stored rows current for the next process
        (``status_refresh.refresh``)."""
        from headwater.service.status_refresh import refresh

        refresh(self, defs)

    def health(self, defs: Definitions, selection: str | None = None) -> list[AssetHealth]:
        healths = self.healths(defs)
        if selection is None:
            return list(healths.values())
        chosen = select(defs.graph, selection, lambda: self._states(defs, healths))
        return [h for k, h in healths.items() if k in chosen]

    def select(self, defs: Definitions, selection: str) -> frozenset[AssetKey]:
        """The keys ``selection`` names; ``status:`` terms read the current health, only when present."""
        return select(defs.graph, selection, lambda: self._states(defs))

    def _states(self, defs: Definitions, healths: dict[AssetKey, AssetHealth] | None = None
                ) -> dict[str, frozenset[AssetKey]]:
        healths = healths if healths is not None else self.healths(defs)
        return state_index(healths.values(), self.store.latest_facts(defs.graph.keys))

    def why(self, defs: Definitions, key: CoercibleToKey) -> list[str]:
        if isinstance(key, str) and "[" in key:
            return self.why_partition(defs, key)
        k = self._known(defs, key)
        self.reap_dead_runs()
        facts = self.store.latest_facts()
        statuses = StatusView(defs.graph, facts, self.partition_inputs(defs)).all()
        healths = assess(defs.graph, statuses, defs.check_specs, self.store.latest_check_results(), self.clock())
        return explain(healths[k], healths, defs.graph, facts, now=self.clock()) + hold_lines(self.store, defs, k)

    def evaluate_alerts(self, defs: Definitions) -> AlertEvaluation | None:
        """Compare health with the stored alert states; record and deliver what changed."""
        if not defs.alerts:
            return None
        healths = self.healths(defs)
        states = lambda: self._states(defs, healths)  # noqa: E731
        from headwater.alerts import evaluate_alerts

        return evaluate_alerts(defs.alerts, lambda text: select(defs.graph, text, states), healths, self.store,
                               self.clock(), clock=self.clock)

    def alert_states(self) -> dict[tuple[str, AssetKey], AlertTransition]:
        return self.store.alert_states()

    def alert_deliveries(self, limit: int = 50) -> list[AlertDeliveryAttempt]:
        return self.store.alert_deliveries(limit)

    def check(self, defs: Definitions, selection: str = "*") -> list[CheckEvaluated]:
        """Run the selected assets' checks alone, against their current materializations."""
        chosen = self.select(defs, selection)
        keys = [k for k in defs.graph.toposorted(chosen) if defs.checks_for(k)]
        if not keys:
            raise HeadwaterError(f"no asset with checks in selection {selection!r}")
        from headwater.execution.check_execution import evaluate_checks

        statuses = self.statuses(defs)
        out: list[CheckEvaluated] = []
        for key in keys:
            mat = statuses[key].last_materialization
            out.extend(evaluate_checks(
                defs.checks_for(key), key, mat, functools.partial(self._load_current, defs, key, mat),
                defs.resources, defs.graph.spec(key).freshness, self.clock(), None, f"check:{key}",
                lambda event: None))
        self.store.write(out)
        self.evaluate_alerts(defs)
        self._refresh_status_snapshot(defs)
        return out

    def _load_current(self, defs: Definitions, key: AssetKey, mat: AssetMaterialized | None) -> Any:
        if mat is None:
            raise HeadwaterError(f"asset {key} has never been materialized, so there is no value to check")
        if mat.value_ref is None:
            raise HeadwaterError(f"asset {key} stored no value in its last materialization; a check that needs "
                                 "the value cannot run on it (query the data instead)")
        return (defs.value_store or self.values).load(key, mat.partition, mat.value_ref)

    def lineage(self, defs: Definitions, key: CoercibleToKey, up: int | None, down: int | None
                ) -> tuple[AssetKey, set[AssetKey], set[AssetKey]]:
        k = self._known(defs, key)
        return k, defs.graph.upstream([k], up), defs.graph.downstream([k], down)

    @staticmethod
    def _known(defs: Definitions, key: CoercibleToKey) -> AssetKey:
        k = to_key(key)
        if k not in defs.graph:
            raise AssetNotFoundError(str(k), suggest_keys(defs.graph, str(k)))
        return k

    def observe(self, defs: Definitions, selection: str = "*") -> list[AssetObserved]:
        """Observe every selected source that has an observe function; one write for all."""
        chosen = self.select(defs, selection)
        sources = [defs.sources[k] for k in defs.graph.toposorted(chosen)
                   if k in defs.sources and defs.sources[k].observe is not None]
        if not sources:
            raise HeadwaterError(f"no source asset with an observe function in selection {selection!r}")
        previous = self.store.latest_facts([s.key for s in sources])
        from headwater.execution.observation import observe_source

        observed: list[AssetObserved] = []
        failures: list[str] = []
        for source in sources:
            try:
                observed.append(observe_source(source, defs.resources, None, now=self.clock()))
            except Exception as exc:  # one broken source must not hide the others' news
                failures.append(f"{source.key}: {exc}")
        events: list[Event] = []
        for obs in observed:
            fact = previous.get(obs.key)
            last = fact.last_observation if fact else None
            if last is not None and (last.data_version, last.data_time) == (obs.data_version, obs.data_time):
                events.append(ObservationUnchanged(run_id=None, timestamp=obs.timestamp, key=obs.key,
                                                   partition=obs.partition, data_version=obs.data_version))
            else:
                events.append(obs)
        if events:
            self.store.write(events)
        self.evaluate_alerts(defs)
        if events:
            self._refresh_status_snapshot(defs)
        if failures:
            raise ObservationError(observed, failures)
        return observed

    def gc(self, policy: RetentionPolicy | None = None, dry_run: bool = False, convert: bool = True) -> Any:
        """Apply the retention policy (defaults unless given): what ``headwater gc`` and the daemon run."""
        return self.store.collect_garbage(policy or RetentionPolicy(), self.clock(), dry_run, convert)

    # -- runs ------------------------------------------------------------------------------

    def reap_dead_runs(self) -> list[str]:
        """Mark runs whose coordinating process died as failed, saying so (docs/design.md §4)."""
        return reap(self.store, self.store.list_runs(limit=1000, statuses=[RunStatus.STARTED]), self.clock,
                    CLAIM_TIMEOUT)

    def runs(self, limit: int = 20, statuses: Iterable[RunStatus] | None = None) -> list[RunRecord]:
        self.reap_dead_runs()
        return self.store.list_runs(limit=limit, statuses=statuses)

    def run(self, run_id: str) -> RunRecord:
        record = self.store.get_run(run_id)
        if record is None and len(run_id) < 32:
            matches = [r for r in self.store.list_runs(limit=10_000) if r.run_id.startswith(run_id)]
            if len(matches) == 1:
                record = matches[0]
            elif len(matches) > 1:
                raise HeadwaterError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        if record is None:
            raise RunNotFoundError(run_id)
        # Every read path reaps; an unclaimed claim is left to the daemon and list reads: the
        # worker launched for it reads it this way before it takes it up.
        if record.status is RunStatus.STARTED and reap(self.store, [record], self.clock, None):
            record = self.store.get_run(record.run_id) or record
        return record

    def queue_waits(self, defs: Definitions | None = None) -> dict[str, str]:
        """Queued run id -> its place in the queue and what holds it back (see queue_view)."""
        from headwater.service.queue_view import queue_waits

        return queue_waits(self.store, defs, (lambda s: select(defs.graph, s, {})) if defs else None)

    def history(self, defs: Definitions, key: CoercibleToKey, limit: int = 20,
                kinds: Iterable[str] | None = None) -> list[Any]:
        """An asset's materializations, failed and skipped attempts, observations and check
        results, newest first (see asset_history)."""
        from headwater.service.asset_history import KINDS, asset_history

        return asset_history(self.store, self._known(defs, key), limit, frozenset(kinds or KINDS))

    def run_steps(self, run_id: str) -> list[StepRecord]:
        return self.store.run_steps(self.run(run_id).run_id)

    def run_events(self, run_id: str, after_id: int = 0) -> list[StoredEvent]:
        return self.store.run_events(self.run(run_id).run_id, after_id=after_id)

    # -- materialize -----------------------------------------------------------------------

    def plan(self, defs: Definitions, selection: str = "*", mode: PlanMode = PlanMode.ALL,
             from_failure: str | None = None, partitions: PartitionTargets | None = None,
             ) -> tuple[ExecutionPlan, StatusView, str]:
        self.reap_dead_runs()
        ctx = partitions.ctx if partitions is not None else self.partition_context(defs)
        view = StatusView(defs.graph, self.store.latest_facts(), self.partition_inputs(defs, ctx))
        if from_failure is not None:
            keys, selection, exact = self._failed_keys(defs, from_failure)
            if exact:
                partitions = self.partition_targets(defs, exact=exact, follow_mappings=True, ctx=ctx)
        else:
            keys = self.select(defs, selection)
        plan = build_plan(
            defs.graph, keys, defs.step_key_for, view.all(), mode,
            subsettable=lambda step: defs.definition_for_step(step).can_subset,
            members=lambda step: defs.definition_for_step(step).keys,
            partitions=partitions or self.partition_targets(defs, ctx=ctx),
        )
        return plan, view, selection

    def _failed_keys(self, defs: Definitions, run_id: str
                     ) -> tuple[set[AssetKey], str, dict[AssetKey, tuple[str, ...]]]:
        run = self.run(run_id)
        bad = {StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELED, StepStatus.STARTED, StepStatus.RETRYING}
        failed: set[AssetKey] = set()
        steps = self.store.run_steps(run.run_id)
        events = self.store.run_events(run.run_id)
        # Which partitions each step covered, as its own events said (a step per partition).
        covered: dict[str, tuple[str, ...]] = {}
        for e in events:
            parts = getattr(e.event, "partitions", ())
            if parts and isinstance(e.event, (StepStarted, StepSkipped)):
                covered[e.event.step_key] = parts
        pairs: set[tuple[AssetKey, str]] = set()
        for step in steps:
            if step.status in bad and not (step.status is StepStatus.SKIPPED and step.detail == "already up to date"):
                failed.update(k for k in step.asset_keys if k in defs.graph)
                pairs.update((k, p) for k in step.asset_keys for p in covered.get(step.step_key, ("",)))
        # A multi-asset step (one dbt build) that failed may have produced most of its assets:
        # those are done; only the rest, and what is downstream of them, run again.
        made = {(e.event.key, e.event.partition) for e in events  # type: ignore[attr-defined]
                if isinstance(e.event, AssetMaterialized)}
        pairs -= made
        failed -= {k for k, p in made if not p}
        failed = {k for k in failed if any(pk == k for pk, _p in pairs)}
        exact: dict[AssetKey, tuple[str, ...]] = {}
        for k, p in sorted(pairs, key=lambda kp: (str(kp[0]), kp[1])):
            if p:
                exact[k] = (*exact.get(k, ()), p)
        planned = {k for k in run.asset_keys if k in defs.graph}
        never_started = planned - {k for s in steps for k in s.asset_keys}
        failed |= never_started if run.status in (RunStatus.FAILED, RunStatus.CANCELED) else set()
        if not failed:
            raise HeadwaterError(f"run {run.run_id} has no failed steps to re-execute")
        keys = (failed | defs.graph.downstream(failed)) & planned
        return keys, f"from failure of {run.run_id}", exact

    def materialize(
        self,
        defs: Definitions,
        selection: str = "*",
        *,
        mode: PlanMode | str = PlanMode.ALL,
        executor: str = "in_process",
        workers: int | None = None,
        from_failure: str | None = None,
        tags: dict[str, str] | None = None,
        location: DefinitionsLocation | None = None,
        progress: ProgressHook | None = None,
        partition: str | Sequence[str] | None = None,
        partition_range: tuple[str | None, str | None] | None = None,
        override_gates: bool = False,
    ) -> RunResult:
        """Run ``selection``; a partitioned asset builds ``partition`` (a key, or several), the
        keys of ``partition_range`` (from, to; inclusive, either open), or by default its newest
        time window (every key when it has no time dimension)."""
        from headwater.execution.coordinator import RunCoordinator, RunOptions, RunOutcome
        from headwater.execution.run_cancel_watch import CancelWatch
        from headwater.execution.run_heartbeat import RunHeartbeat

        mode = PlanMode(mode)
        start, end = partition_range or (None, None)
        targets = self.partition_targets(defs, partition, start, end) if defs.graph.partition_aware else None
        plan, view, selection = self.plan(defs, selection, mode, from_failure, targets)
        tags = {**(tags or {}), **partition_tags(partition, start, end)}
        run_id = uuid.uuid4().hex
        if not plan.steps:
            return RunResult(RunOutcome(run_id, RunStatus.SUCCEEDED, up_to_date=plan.up_to_date), plan, self, defs)
        tags = gate_run(self.store, defs, plan.asset_keys, override_gates, dict(tags or {}))
        if executor == "multiprocess" and all(
                getattr(defs.definition_for(s.asset_keys[0]).fn, "runs_in_child_process", False) for s in plan.steps):
            # Every step already runs its work in a child process of its own (a dbt build): a
            # worker around it would isolate nothing more and only add its start-up to the run.
            executor = "in_process"
        ex = self._executor(defs, executor, workers, location)
        try:
            coordinator = RunCoordinator(
                run_id=run_id, plan=plan, defs=defs, writer=self.store, executor=ex, view=view,
                options=RunOptions(selection=selection, tags=dict(tags or {}), parent_run_id=_parent(from_failure, self),
                                   location=str(location) if location else None),
                progress=progress, clock=self.clock, should_stop=CancelWatch(self.store, run_id))
            with RunHeartbeat(self.store, run_id):
                outcome = coordinator.run()
        finally:
            ex.close()
        self.evaluate_alerts(defs)
        self._refresh_status_snapshot(defs)
        return RunResult(outcome, plan, self, defs)

    # -- the run queue: enqueue and claim in run_queue.py; executing a queued run here -----------

    def execute_queued(self, defs: Definitions, run_id: str, *, executor: str = "in_process",
                       workers: int | None = None, location: DefinitionsLocation | None = None) -> RunResult:
        """Run a queued (or claimed) run in this process: what a worker launched by the daemon does."""
        from headwater.execution.coordinator import RunCoordinator, RunOptions
        from headwater.execution.run_cancel_watch import CancelWatch
        from headwater.execution.run_heartbeat import RunHeartbeat

        run = self.run(run_id)
        if run.status.is_terminal:
            raise HeadwaterError(f"run {run.run_id} already {run.status.value}; nothing to execute")
        if run.status is RunStatus.STARTED and run.pid is not None and run.pid != os.getpid() and alive(run.pid):
            raise HeadwaterError(f"run {run.run_id} is already being executed by pid {run.pid}")
        keys = [k for k in run.asset_keys if k in defs.graph]
        missing = [str(k) for k in run.asset_keys if k not in defs.graph]
        if missing:
            self.store.write([RunFinished(run_id=run.run_id, timestamp=self.clock(), status=RunStatus.FAILED,
                                          reason="assets no longer defined: " + ", ".join(missing))])
            raise HeadwaterError(f"run {run.run_id} names assets that are no longer defined: {', '.join(missing)}")
        targets = None
        if defs.graph.partition_aware:
            tags = run.tags
            parts = [p for p in (tags.get(PARTITION_TAG) or "").split(",") if p]
            targets = self.partition_targets(defs, parts, tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG),
                                             exact=self._backfill_exact(run))
        view = StatusView(defs.graph, self.store.latest_facts(),
                          self.partition_inputs(defs, targets.ctx if targets else None))
        plan = build_plan(defs.graph, keys, defs.step_key_for, view.all(), PlanMode(run.mode),
                          subsettable=lambda step: defs.definition_for_step(step).can_subset,
                          members=lambda step: defs.definition_for_step(step).keys, partitions=targets)
        ex = self._executor(defs, executor, workers, location)
        try:
            coordinator = RunCoordinator(
                run_id=run.run_id, plan=plan, defs=defs, writer=self.store, executor=ex, view=view,
                options=RunOptions(selection=run.selection, tags=dict(run.tags), parent_run_id=run.parent_run_id,
                                   location=run.location),
                clock=self.clock, should_stop=CancelWatch(self.store, run.run_id))
            with RunHeartbeat(self.store, run.run_id):
                outcome = coordinator.run()
        finally:
            ex.close()
        self.evaluate_alerts(defs)
        self._refresh_status_snapshot(defs)
        return RunResult(outcome, plan, self, defs)

    def _executor(self, defs: Definitions, name: str, workers: int | None,
                  location: DefinitionsLocation | None) -> Executor:
        from headwater.service.executors import build_executor

        return build_executor(defs, name, workers, location, store=self.store, database_url=self.database_url,
                              values=self.values, clock=self.clock)


def _parent(from_failure: str | None, instance: Instance) -> str | None:
    return instance.run(from_failure).run_id if from_failure else None


def materialize(defs: Definitions, selection: str = "*", *, instance: Instance | None = None,
                **options: Any) -> RunResult:
    """Materialize ``selection`` of ``defs``; without an instance, in a throwaway home (for tests)."""
    return (instance or Instance.ephemeral()).materialize(defs, selection, **options)
