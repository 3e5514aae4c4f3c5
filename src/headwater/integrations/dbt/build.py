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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.definitions.checks import CheckContext, CheckResult
from headwater.definitions.context import AssetContext
from headwater.definitions.outputs import AssetFailure, AssetSkip, MaterializeResult
from headwater.errors import HeadwaterError
from headwater.integrations.dbt.invocation import DbtCommandError, DbtEvent

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
    """Test results by run (filled while a build runs) and from stand-alone ``dbt test`` runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, dict[str, DbtTestOutcome]] = {}
        self._standalone: dict[str, DbtTestOutcome] = {}

    def open(self, run_id: str) -> dict[str, DbtTestOutcome]:
        with self._lock:
            return self._runs.setdefault(run_id, {})

    def close(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def of_run(self, run_id: str | None) -> dict[str, DbtTestOutcome] | None:
        with self._lock:
            return self._runs.get(run_id) if run_id else None

    def put_standalone(self, outcomes: Mapping[str, DbtTestOutcome]) -> None:
        with self._lock:
            self._standalone.update(outcomes)

    def take_standalone(self, uid: str) -> DbtTestOutcome | None:
        """Each stand-alone result is used once, so a later check runs dbt again."""
        with self._lock:
            return self._standalone.pop(uid, None)


def test_check(project: DbtProject, test_uid: str) -> Callable[[CheckContext], CheckResult]:
    """The function behind the check made from one dbt test."""

    def dbt_test(context: CheckContext) -> CheckResult:
        mat = context.materialization
        in_build = project.results.of_run(mat.run_id if mat is not None else None)
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

    dbt_test.__name__ = f"dbt_test_{project.manifest.tests[test_uid].name}"
    return dbt_test


def run_tests(project: DbtProject, target_uid: str, resources: Mapping[str, Any]) -> dict[str, DbtTestOutcome]:
    """``dbt test`` for every test of one asset; their outcomes by unique id."""
    tests = project.tests_by_asset.get(target_uid, [])
    opts = project.run_options(resources)
    select = [project.manifest.tests[t].selector for t in tests]
    out: dict[str, DbtTestOutcome] = {}
    with project.invocation(["test", "--select", *select, *opts.global_args()], opts,
                            wanted=("NodeFinished",)) as inv:
        for event in inv.events():
            if event.name == "NodeFinished" and event.unique_id in project.check_target:
                out[event.unique_id] = DbtTestOutcome.from_event(event)  # type: ignore[index]
    if not out:
        raise inv.failure(f"could not run the dbt tests of {project.asset_key_of(target_uid)}")
    return out


def run_build(project: DbtProject, context: AssetContext) -> Iterator[MaterializeResult | AssetFailure | AssetSkip]:
    opts = project.run_options(context.resources, context.tags)
    uids = [project.unique_id_for(k) for k in context.selected_keys]
    wanted = set(uids)
    nodes = project.manifest.nodes
    if len(wanted) == sum(1 for n in nodes.values() if not n.is_ephemeral):
        # Everything: a short command line and a fast selection in dbt, with the same tests
        # (those of the models, by dbt's indirect selection) as naming each model would give.
        select = ["--select", "resource_type:model", "resource_type:seed", "resource_type:snapshot"]
    else:
        select = ["--select", *(nodes[u].selector for u in sorted(wanted, key=project.topo_index.__getitem__))]
    waiting = {u: set(project.tests_by_asset.get(u, ())) for u in uids}
    children: dict[str, list[str]] = {u: [] for u in uids}
    for u in uids:
        for p in project.asset_parents(u):
            if p in children:
                children[p].append(u)
    pending: dict[str, MaterializeResult] = {}
    done: set[str] = set()
    failed: dict[str, str] = {}
    skipped: list[str] = []
    failed_units: dict[str, list[str]] = {}  # model -> its unit tests that failed (dbt then skips it)
    results = project.results.open(context.run_id)

    def ready(uid: str) -> Iterator[MaterializeResult]:
        """Yield ``uid`` if its tests are in and no parent is still held, then its held children."""
        stack = [uid]
        while stack:
            u = stack.pop()
            if u in pending and not waiting[u] and not any(p in pending for p in project.asset_parents(u)):
                done.add(u)
                yield pending.pop(u)
                stack.extend(c for c in children[u] if c in pending)

    try:
        # Eager indirect selection: every test of a selected model runs, so every check has a result.
        eager = [] if "--indirect-selection" in opts.extra_args else ["--indirect-selection", "eager"]
        args = ["build", *select, *eager, *opts.build_args()]
        with project.invocation(args, opts, wanted=("NodeFinished",)) as inv:
            for event in inv.events():
                uid = event.unique_id
                if uid is None or event.name != "NodeFinished":
                    continue
                rtype = event.node_info.get("resource_type")
                if uid in wanted and rtype in _ASSET_TYPES:
                    status = _status(event)
                    if status in _OK:
                        pending[uid] = _materialization(project, uid, event)
                        yield from ready(uid)
                    elif status == "skipped":
                        skipped.append(uid)
                        yield AssetSkip(project.asset_key_of(uid),
                                        _skip_reason(project, uid, failed, results, failed_units),
                                        {"dbt/unique_id": uid, "dbt/status": status})
                    else:
                        failed[uid] = _message(event)
                        context.log.error(f"dbt {rtype} {nodes[uid].name} failed: {failed[uid]}")
                        yield AssetFailure(project.asset_key_of(uid), f"dbt {rtype} {nodes[uid].name} {status}: "
                                           f"{failed[uid]}", _failure_metadata(uid, status, event))
                elif rtype == "unit_test" and _status(event) in ("fail", "error"):
                    unit = project.manifest.unit_tests.get(uid)
                    if unit is not None and unit.model is not None:
                        failed_units.setdefault(unit.model, []).append(unit.name)
                elif rtype == "test" and uid in project.check_target:
                    results[uid] = DbtTestOutcome.from_event(event)
                    target = project.check_target[uid]
                    if target in waiting:
                        waiting[target].discard(uid)
                        yield from ready(target)
            # Tests dbt did not run (its indirect selection left them out) hold nothing back now.
            for uid in sorted(pending, key=project.topo_index.__getitem__):
                done.add(uid)
                yield pending.pop(uid)
        missing = [u for u in uids if u not in done and u not in failed and u not in skipped]
        if failed or missing:
            raise _build_error(project, inv.returncode, failed, skipped, missing, inv.failure("dbt build failed"))
    finally:
        project.results.close(context.run_id)


def _skip_reason(project: DbtProject, uid: str, failed: Mapping[str, str],
                 tests: Mapping[str, DbtTestOutcome], failed_units: Mapping[str, list[str]]) -> str:
    """What made dbt skip ``uid`` in this build: its own unit test, or upstream a model or a
    test of an error severity (``dbt build`` skips what is downstream of either)."""
    if uid in failed_units:
        return "dbt skipped it: its unit test " + ", ".join(failed_units[uid]) + " failed"
    bad_tests = {project.check_target[t] for t, o in tests.items() if o.status in ("fail", "error")}
    names: list[str] = []
    seen: set[str] = set()
    stack = list(project.asset_parents(uid))
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u in failed:
            names.append(f"{project.asset_key_of(u)} failed")
        elif u in bad_tests:
            names.append(f"a test of {project.asset_key_of(u)} failed")
        else:
            stack.extend(project.asset_parents(u))
    if not names:
        return "dbt skipped it: something upstream of it failed"
    return "dbt skipped it: upstream " + ", ".join(sorted(names))


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


def _materialization(project: DbtProject, uid: str, event: DbtEvent) -> MaterializeResult:
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
    return MaterializeResult(key=project.asset_key_of(uid), metadata=meta)


def _build_error(project: DbtProject, returncode: int | None, failed: Mapping[str, str], skipped: list[str],
                 missing: list[str], fallback: DbtCommandError) -> HeadwaterError:
    nodes = project.manifest.nodes
    if not failed and not skipped:
        return fallback  # dbt did not get to run them at all: its own errors say why
    parts = []
    if failed:
        parts.append(f"{len(failed)} dbt node(s) failed: "
                     + "; ".join(f"{nodes[u].name}: {m}" for u, m in failed.items()))
    if skipped:
        parts.append(f"{len(skipped)} skipped because of a failure upstream: "
                     + ", ".join(nodes[u].name for u in skipped))
    if missing:
        parts.append(f"{len(missing)} not reported by dbt: " + ", ".join(nodes[u].name for u in missing))
    return DbtBuildError(f"dbt build (exit code {returncode}): " + ". ".join(parts))
