"""Materializing dbt assets: one ``dbt build`` per step, reported model by model.

``run_build`` starts ``dbt build --select <the step's models>`` and reads dbt's events as
they come. A model that finished is yielded as a ``MaterializeResult`` (relation, rows
affected, execution time, adapter response) as soon as its tests have run (and its parents
have been yielded), so that Headwater evaluates the model's checks right after recording
it and each check finds its dbt test's result. A failed model is reported the moment dbt
reports it, as an ``AssetFailure`` with dbt's message, and a model dbt skipped because of it
as an ``AssetSkip``: Headwater marks them one by one while dbt goes on, and holds back only
what reads them. When dbt is done the step fails naming the failed models.

Checks made from dbt tests look their result up in ``DbtTestResults``: during a build, the
result dbt reported in that build; on their own (``headwater check``), they run
``dbt test`` for all the tests of the asset at once and use those results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.definitions.checks import CheckContext, CheckResult
from headwater.definitions.context import AssetContext
from headwater.definitions.outputs import AssetFailure, AssetSkip, CheckReport, MaterializeResult
from headwater.errors import HeadwaterError
from headwater.integrations.dbt.invocation import DbtCommandError, DbtEvent
from headwater.integrations.dbt.options import DbtOptions
from headwater.integrations.dbt.partitions import step_vars
from headwater.integrations.dbt.source_links import build_waves

if TYPE_CHECKING:
    from headwater.integrations.dbt.project import DbtProject

_ASSET_TYPES = ("model", "seed", "snapshot")
_OK = ("success", "pass")


class DbtBuildError(HeadwaterError):
    """Some models of a ``dbt build`` failed (or were skipped because of a failure)."""


@dataclass(frozen=True, slots=True)
class DbtTestOutcome:
    """What dbt reported for one test: ``pass``, ``warn``, ``fail``, ``error`` or ``skipped``."""

    status: str
    message: str
    failures: int | None
    execution_time: float | None
    invocation_id: str

    @staticmethod
    def from_event(event: DbtEvent) -> DbtTestOutcome:
        rr = event.data.get("run_result") or {}
        status = str(rr.get("status") or event.node_info.get("node_status") or "unknown").lower()
        failures = rr.get("num_failures")
        return DbtTestOutcome(status=status, message=str(rr.get("message") or ""),
                           failures=int(failures) if isinstance(failures, (int, float)) else None,
                           execution_time=_float(rr.get("execution_time")), invocation_id=event.invocation_id)

    def check_result(self) -> CheckResult:
        meta: dict[str, Any] = {"dbt/status": self.status, "dbt/invocation_id": self.invocation_id}
        if self.failures is not None:
            meta["failures"] = self.failures
        if self.execution_time is not None:
            meta["execution_time"] = round(self.execution_time, 3)
        if self.status == "pass":
            return CheckResult(True, meta, "dbt test passed")
        if self.status == "skipped":
            return CheckResult.not_run("dbt skipped this test: something it depends on failed", meta)
        # dbt decides the severity of each result (warn_if / error_if), whatever the test's config.
        severity = "warn" if self.status == "warn" else "error"
        if self.status == "error":
            return CheckResult(False, meta, f"the dbt test itself errored: {self.message}", severity=severity)
        return CheckResult(False, meta, f"dbt test {self.status}: {self.message}", severity=severity)


class DbtTestResults:
    """Test results by build — ``run_id/step_key``, as a run builds one window per step —
    (filled while it runs) and from stand-alone ``dbt test`` runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, dict[str, DbtTestOutcome]] = {}
        self._standalone: dict[str, DbtTestOutcome] = {}

    def open(self, build: str) -> dict[str, DbtTestOutcome]:
        with self._lock:
            return self._runs.setdefault(build, {})

    def close(self, build: str) -> None:
        with self._lock:
            self._runs.pop(build, None)

    def of_run(self, build: str | None) -> dict[str, DbtTestOutcome] | None:
        with self._lock:
            return self._runs.get(build) if build else None

    def put_standalone(self, outcomes: Mapping[str, DbtTestOutcome]) -> None:
        with self._lock:
            self._standalone.update(outcomes)

    def take_standalone(self, uid: str) -> DbtTestOutcome | None:
        """Each stand-alone result is used once, so a later check runs dbt again."""
        with self._lock:
            return self._standalone.pop(uid, None)


def test_check(project: DbtProject, test_uid: str) -> Callable[[CheckContext], CheckResult]:
    """The function behind the check made from one dbt test (data test or unit test)."""

    def dbt_test(context: CheckContext) -> CheckResult:
        mat = context.materialization
        in_build = project.results.of_run(f"{mat.run_id}/{mat.step_key}" if mat is not None else None)
        if in_build is not None:
            outcome = in_build.get(test_uid)
            if outcome is None:
                return CheckResult.not_run("dbt did not run this test in the build (deselected by the dbt flags "
                                           "given)", {"dbt/status": "not_run"})
            return outcome.check_result()
        outcome = project.results.take_standalone(test_uid)
        if outcome is None:
            project.results.put_standalone(run_tests(project, project.check_target[test_uid], context.resources))
            outcome = project.results.take_standalone(test_uid)
        if outcome is None:
            raise DbtCommandError(f"dbt test reported no result for {test_uid}")
        return outcome.check_result()

    test = project.manifest.tests.get(test_uid) or project.manifest.unit_tests[test_uid]
    dbt_test.__name__ = f"dbt_test_{test.name}"
    return dbt_test


def _selector(project: DbtProject, test_uid: str) -> str:
    test = project.manifest.tests.get(test_uid) or project.manifest.unit_tests[test_uid]
    return test.selector


def run_tests(project: DbtProject, target_uid: str, resources: Mapping[str, Any]) -> dict[str, DbtTestOutcome]:
    """``dbt test`` for every test (and unit test) of one asset; their outcomes by unique id."""
    tests = project.tests_by_asset.get(target_uid, [])
    opts = project.run_options(resources)
    select = [_selector(project, t) for t in tests]
    out: dict[str, DbtTestOutcome] = {}
    with project.invocation(["test", "--select", *select, *opts.global_args()], opts,
                            wanted=("NodeFinished",)) as inv:
        for event in inv.events():
            if event.name == "NodeFinished" and event.unique_id in project.check_target:
                out[event.unique_id] = DbtTestOutcome.from_event(event)  # type: ignore[index]
    if not out:
        raise inv.failure(f"could not run the dbt tests of {project.asset_key_of(target_uid)}")
    return out


def _linked_sources(project: DbtProject, producers: Iterable[str]) -> list[str]:
    """``--select`` terms of the sources ``producers`` write (source_links.py): their tests are
    checks of the producer."""
    wanted = set(producers)
    return [project.manifest.sources[s].selector for s, p in project.source_producer.items() if p in wanted]


def _selection(project: DbtProject, uids: list[str], everything: bool, sources: list[str]) -> list[str]:
    """``--select`` terms for ``uids``, plus ``sources`` whose tests run in this invocation."""
    nodes = project.manifest.nodes
    if everything and not sources:
        # Everything: a short command line and a fast selection in dbt, with the same tests
        # (those of the models, by dbt's indirect selection) as naming each model would give.
        return ["--select", "resource_type:model", "resource_type:seed", "resource_type:snapshot"]
    return ["--select", *(nodes[u].selector for u in sorted(uids, key=project.topo_index.__getitem__)), *sources]


class _Build:
    """The state of one step's ``dbt build`` (one or more dbt invocations, see ``build_waves``)."""

    def __init__(self, project: DbtProject, uids: list[str], results: dict[str, DbtTestOutcome],
                 window_vars: Mapping[str, Any] | None = None) -> None:
        self.project = project
        self.window_vars = dict(window_vars or {})
        self.uids = uids
        self.wanted = set(uids)
        self.results = results
        self.waiting = {u: set(project.tests_by_asset.get(u, ())) for u in uids}
        self.children: dict[str, list[str]] = {u: [] for u in uids}
        for u in uids:
            for parent in project.asset_parents(u):
                if parent in self.children:
                    self.children[parent].append(u)
        self.pending: dict[str, MaterializeResult] = {}
        self.done: set[str] = set()
        self.failed: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.failed_units: dict[str, list[str]] = {}  # model -> its failed unit tests' ids (dbt skips it)

    def ready(self, uid: str) -> Iterator[MaterializeResult]:
        """Yield ``uid`` if its tests are in and no parent is still held, then its held children."""
        stack = [uid]
        while stack:
            u = stack.pop()
            if u in self.pending and not self.waiting[u] and not any(
                    p in self.pending for p in self.project.asset_parents(u)):
                self.done.add(u)
                yield self.pending.pop(u)
                stack.extend(c for c in self.children[u] if c in self.pending)

    def flush(self, hold: Iterable[str] = ()) -> Iterator[MaterializeResult]:
        """Tests dbt did not run (its indirect selection left them out) hold nothing back now,
        except those of ``hold``: their sources' tests run in the next invocation."""
        held = set(hold)
        for uid in sorted(self.pending, key=self.project.topo_index.__getitem__):
            if uid in held:
                continue
            self.done.add(uid)
            yield self.pending.pop(uid)

    def on_event(self, event: DbtEvent, context: AssetContext) -> Iterator[Report]:
        project = self.project
        uid = event.unique_id
        if uid is None or event.name != "NodeFinished":
            return
        rtype = event.node_info.get("resource_type")
        if uid in self.wanted and rtype in _ASSET_TYPES:
            status = _status(event)
            name = project.manifest.nodes[uid].name
            if status in _OK:
                self.pending[uid] = _materialization(project, uid, event, self.window_vars)
                yield from self.ready(uid)
            elif status == "skipped":
                self.skipped[uid] = _skip_reason(project, uid, self.failed, self.skipped, self.results,
                                                 self.failed_units)
                yield AssetSkip(project.asset_key_of(uid), self.skipped[uid], {"dbt/unique_id": uid,
                                                                             "dbt/status": status})
                for unit in self.failed_units.get(uid, ()):
                    yield CheckReport(project.asset_key_of(uid), project.check_names[unit],
                                      self.results[unit].check_result())
            else:
                self.failed[uid] = _message(event)
                context.log.error(f"dbt {rtype} {name} failed: {self.failed[uid]}")
                yield AssetFailure(project.asset_key_of(uid), f"dbt {rtype} {name} {status}: {self.failed[uid]}",
                                   _failure_metadata(uid, status, event))
        elif rtype in ("test", "unit_test") and uid in project.check_target:
            outcome = DbtTestOutcome.from_event(event)
            self.results[uid] = outcome
            target = project.check_target[uid]
            if rtype == "unit_test" and outcome.status in ("fail", "error"):
                self.failed_units.setdefault(target, []).append(uid)
            if target in self.waiting:
                self.waiting[target].discard(uid)
                yield from self.ready(target)
            elif outcome.status != "skipped":
                # Run through dbt's eager indirect selection (it reads a model of this build):
                # a fact about its asset's current data, recorded as that asset's check result.
                yield CheckReport(project.asset_key_of(target), project.check_names[uid], outcome.check_result())

    def blocked(self) -> dict[str, str]:
        """Assets later waves must not build on: failed, skipped, or failing an error test."""
        bad = {u: f"{self.project.asset_key_of(u)} failed" for u in self.failed}
        bad.update({u: f"{self.project.asset_key_of(u)} was skipped" for u in self.skipped})
        for t, o in self.results.items():
            if o.status in ("fail", "error") and t in self.project.check_target:
                target = self.project.check_target[t]
                bad.setdefault(target, f"its test {self.project.check_names[t]} on {self.project.asset_key_of(target)}"
                                       " failed")
        return bad


Report = MaterializeResult | AssetFailure | AssetSkip | CheckReport


def run_build(project: DbtProject, context: AssetContext) -> Iterator[Report]:
    opts = project.run_options(context.resources, context.tags)
    uids = [project.unique_id_for(k) for k in context.selected_keys]
    everything = len(uids) == sum(1 for n in project.manifest.nodes.values() if not n.is_ephemeral)
    window_vars = _partition_vars(project, context)
    if window_vars:  # the window this step builds wins over any other layer's vars of the same name
        opts = DbtOptions(vars=window_vars).over(opts)
    results_key = f"{context.run_id}/{context.step_key}"  # one run builds several windows
    build = _Build(project, uids, project.results.open(results_key), window_vars)
    # Eager indirect selection: every test of a selected model runs, so every check has a result.
    eager = [] if "--indirect-selection" in opts.extra_args else ["--indirect-selection", "eager"]
    waves = build_waves(project, uids)
    # A source's tests read the table its producer writes, but dbt draws no edge between them:
    # in the producer's own invocation they could run before it (on an empty database, fail).
    # They run in the next invocation instead, where dbt runs them before the models that read
    # the source and skips those models if they fail.
    if _linked_sources(project, waves[-1]):
        waves.append([])
    inv = None
    with project.window_lock() if window_vars else nullcontext():  # windows take turns (window_lock)
        try:
            for i, wave in enumerate(waves):
                sources: list[str] = []
                if i:
                    wave = list(_drop_blocked(project, build, wave))
                    yield from (AssetSkip(project.asset_key_of(u), build.skipped[u], {"dbt/unique_id": u})
                                for u in wave if u in build.skipped)
                    wave = [u for u in wave if u not in build.skipped]
                    sources = _linked_sources(project, (u for u in waves[i - 1] if u in build.pending))
                    if not wave and not sources:
                        continue
                args = ["build", *_selection(project, wave, everything and len(waves) == 1, sources),
                        *eager, *opts.build_args()]
                with project.invocation(args, opts, wanted=("NodeFinished",)) as inv:
                    for event in inv.events():
                        yield from build.on_event(event, context)
                    later = i + 1 < len(waves)
                    yield from build.flush(hold=[u for u in wave if later and _linked_sources(project, [u])])
                if inv.returncode not in (0, 1):  # dbt itself failed: later waves would fail alike
                    break
            yield from build.flush()
            missing = [u for u in uids if u not in build.done and u not in build.failed and u not in build.skipped]
            if build.failed or build.skipped or missing:
                fallback = inv.failure("dbt build failed") if inv is not None else DbtCommandError("dbt did not run")
                raise _build_error(project, inv.returncode if inv else None, build, missing, fallback)
        finally:
            project.results.close(results_key)


def _partition_vars(project: DbtProject, context: AssetContext) -> dict[str, Any]:
    """The dbt vars naming the partitions of this step (``{}`` when it builds none)."""
    rules = [project.partitioning[k] for k in context.selected_keys if k in project.partitioning]
    keys = context.partition_keys or ((context.partition,) if context.partition else ())
    if not rules or not keys:
        return {}
    return step_vars(rules, keys, context.time_window)


def _drop_blocked(project: DbtProject, build: _Build, wave: list[str]) -> Iterator[str]:
    """The nodes of a later wave, each marked skipped in ``build`` when something it reads
    (through any number of nodes) failed, was skipped or failed an error test before."""
    bad = build.blocked()
    memo: dict[str, str | None] = {}

    def cause(uid: str) -> str | None:
        if uid in memo:
            return memo[uid]
        memo[uid] = None
        found = None
        for p in project.asset_parents(uid):
            found = bad.get(p) or cause(p)
            if found:
                break
        memo[uid] = found
        return found

    for uid in wave:
        why = cause(uid)
        if why:
            build.skipped[uid] = f"dbt did not build it because upstream {why}"
        yield uid


def _skip_reason(project: DbtProject, uid: str, failed: Mapping[str, str], skipped: Mapping[str, str],
                 tests: Mapping[str, DbtTestOutcome], failed_units: Mapping[str, list[str]]) -> str:
    """What made dbt skip ``uid`` in this build, as a sentence: its own unit test, or upstream
    a model that failed or a test of an error severity that failed (``dbt build`` skips what
    is downstream of either)."""
    if uid in failed_units:
        units = [project.check_names[u] for u in failed_units[uid]]
        return (f"dbt skipped it because its unit test{'s' if len(units) > 1 else ''} "
                + ", ".join(units) + " failed")
    bad_tests: dict[str, list[str]] = {}
    for t, o in tests.items():
        if o.status in ("fail", "error") and t in project.manifest.tests and t in project.check_target:
            bad_tests.setdefault(project.check_target[t], []).append(project.check_names[t])
    names: list[str] = []
    seen: set[str] = set()
    stack = list(project.asset_parents(uid))
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u in failed:
            names.append(f"upstream {project.asset_key_of(u)} failed")
        elif u in skipped:
            names.append(f"upstream {project.asset_key_of(u)} was skipped")
        elif u in bad_tests:
            which = ", ".join(sorted(bad_tests[u]))
            names.append(f"the test {which} of upstream {project.asset_key_of(u)} failed")
        else:
            stack.extend(project.asset_parents(u))
    if not names:
        return "dbt skipped it because something upstream of it failed"
    return "dbt skipped it because " + " and ".join(sorted(names))


def _failure_metadata(uid: str, status: str, event: DbtEvent) -> dict[str, Any]:
    rr = event.data.get("run_result") or {}
    meta: dict[str, Any] = {"dbt/unique_id": uid, "dbt/status": status, "dbt/invocation_id": event.invocation_id}
    seconds = _float(rr.get("execution_time"))
    if seconds is not None:
        meta["execution_time"] = round(seconds, 3)
    return meta


def _status(event: DbtEvent) -> str:
    rr = event.data.get("run_result") or {}
    return str(rr.get("status") or event.node_info.get("node_status") or "").lower()


def _message(event: DbtEvent) -> str:
    rr = event.data.get("run_result") or {}
    return " ".join(str(rr.get("message") or event.msg or "no message").split())


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _materialization(project: DbtProject, uid: str, event: DbtEvent,
                     window_vars: Mapping[str, Any] | None = None) -> MaterializeResult:
    info = event.node_info
    rr = event.data.get("run_result") or {}
    adapter = dict(rr.get("adapter_response") or {})
    meta: dict[str, Any] = {}
    relation = (info.get("node_relation") or {}).get("relation_name")
    if relation:
        meta["relation"] = relation
    rows = adapter.get("rows_affected")
    if isinstance(rows, (int, float)) and rows >= 0:
        meta["rows_affected"] = int(rows)
    seconds = _float(rr.get("execution_time"))
    if seconds is not None:
        meta["execution_time"] = round(seconds, 3)
    if adapter:
        meta["adapter_response"] = adapter
    meta["dbt/unique_id"] = uid
    meta["dbt/materialized"] = info.get("materialized") or project.manifest.nodes[uid].materialized
    meta["dbt/invocation_id"] = event.invocation_id
    if window_vars:
        meta["dbt/vars"] = dict(window_vars)  # the window dbt was told to build
    return MaterializeResult(key=project.asset_key_of(uid), metadata=meta, duration=seconds)


def _build_error(project: DbtProject, returncode: int | None, build: _Build, missing: list[str],
                 fallback: DbtCommandError) -> HeadwaterError:
    nodes = project.manifest.nodes
    if not build.failed and not build.skipped:
        return fallback  # dbt did not get to run them at all: its own errors say why
    parts = []
    if build.failed:
        parts.append(f"{len(build.failed)} dbt node(s) failed: "
                     + "; ".join(f"{nodes[u].name}: {m}" for u, m in build.failed.items()))
    if build.skipped:
        parts.append(f"{len(build.skipped)} skipped (" + "; ".join(
            f"{nodes[u].name}: {why}" for u, why in list(build.skipped.items())[:5])
            + ("; ..." if len(build.skipped) > 5 else "") + ")")
    if missing:
        parts.append(f"{len(missing)} not reported by dbt: " + ", ".join(nodes[u].name for u in missing))
    return DbtBuildError(f"dbt build (exit code {returncode}): " + ". ".join(parts))
