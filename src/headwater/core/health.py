"""Health: one badge per asset rolling up status, staleness, freshness and checks.

``degraded`` means the data cannot be trusted now (failed, overdue, an error check
failing); ``warning`` means it can, with a caveat (stale, close to its deadline, a
warn-level check failing, built on stale inputs); ``unknown`` means there is nothing to
judge yet. Every badge carries its reasons in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from headwater.core.asset_graph import AssetGraph
from headwater.core.checks import CheckState, CheckStatus, check_status, specs_by_asset
from headwater.core.events import AssetMaterialized, CheckEvaluated
from headwater.core.freshness import FreshnessState, FreshnessStatus
from headwater.core.keys import AssetKey
from headwater.core.specs import CheckSpec
from headwater.core.status import SUMMARY_ROOTS, AssetStatus, MaterializationStatus, bad_inputs

# Deep in a much-rebuilt graph an asset can have hundreds of root causes; listing them all
# in every such asset's reason made health for 10,000 assets 170 MB of text and 40% of its
# time. The first few, and that there are more (``why`` and ``status.root_causes()`` give
# all; counting them would mean deriving them all).
MAX_ROOTS_IN_REASON = SUMMARY_ROOTS


class Health(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"


# A derived result, rebuilt for every asset on every read: not frozen, because a frozen
# dataclass's __init__ (object.__setattr__ per field) costs five times a plain one's, a
# fifth of a 10,000-asset health read. Nothing mutates it; treat it as a value.
@dataclass(slots=True, unsafe_hash=True)
class AssetHealth:
    key: AssetKey
    health: Health
    reasons: tuple[str, ...]
    status: AssetStatus
    freshness: FreshnessStatus | None = None
    checks: tuple[CheckStatus, ...] = ()


def derive_health(status: AssetStatus, freshness: FreshnessStatus | None,
                  checks: tuple[CheckStatus, ...] = ()) -> AssetHealth:
    fstate = freshness.state if freshness is not None else None
    mat = status.last_materialization
    bad_check = False
    for c in checks:
        if c.state is CheckState.FAILED or c.state is CheckState.WARN:
            bad_check = True
            break
    parts = status.partitions
    if (status.status is MaterializationStatus.FAILED or status.status is MaterializationStatus.SKIPPED
            or status.stale or bad_check
            or fstate is FreshnessState.OVERDUE or fstate is FreshnessState.WARN
            or (mat is not None and mat.ran_on_stale_inputs)
            or (parts is not None and parts.missing and parts.materialized)):
        return _troubled(status, freshness, checks)
    if status.status in (MaterializationStatus.MISSING, MaterializationStatus.UNOBSERVED):
        what = "never observed" if status.is_source else "never materialized"
        return AssetHealth(status.key, Health.UNKNOWN, (what,), status, freshness, checks)
    if status.status is MaterializationStatus.RUNNING and mat is None:
        return AssetHealth(status.key, Health.UNKNOWN, ("first materialization in progress",), status,
                           freshness, checks)
    good = ["observed" if status.is_source else "materialized and up to date"]
    if fstate is FreshnessState.FRESH:
        good.append("fresh: " + freshness.reason)  # type: ignore[union-attr]
    passed = sum(1 for c in checks if c.state is CheckState.PASSED)
    if passed:
        good.append(f"{passed} check(s) passed")
    not_run = [c.name for c in checks if c.state is CheckState.NOT_RUN]
    if not_run:
        good.append("not yet run: " + ", ".join(not_run))
    return AssetHealth(status.key, Health.HEALTHY, tuple(good), status, freshness, checks)


def _troubled(status: AssetStatus, freshness: FreshnessStatus | None,
              checks: tuple[CheckStatus, ...]) -> AssetHealth:
    """Degraded or warning, with every reason: the worst first."""
    degraded: list[str] = []
    warning: list[str] = []
    parts = status.partitions
    if parts is not None and parts.failed:
        first = parts.with_state("failed")[0]
        msg = status.failure.message if status.failure else "unknown error"
        degraded.append(f"{parts.failed} of {parts.total} partitions failed (first {first}: {msg})")
    elif status.status is MaterializationStatus.FAILED:
        msg = status.failure.message if status.failure else "unknown error"
        degraded.append(f"the latest materialization attempt failed: {msg}")
    if parts is not None and parts.missing and parts.materialized:
        missing = parts.with_state("missing")
        warning.append(f"{parts.missing} of {parts.total} partitions missing: " + ", ".join(missing[:3])
                       + (" …" if len(missing) > 3 else ""))
    if freshness is not None and freshness.state is FreshnessState.OVERDUE:
        degraded.append(f"overdue: {freshness.reason}")
    for c in checks:
        if c.state is CheckState.FAILED:
            degraded.append(f"check {c.name} failed" + (f": {c.detail}" if c.detail else ""))
        elif c.state is CheckState.WARN:
            warning.append(f"check {c.name} failed (warn)" + (f": {c.detail}" if c.detail else ""))
    if status.status is MaterializationStatus.SKIPPED:
        why = status.failure.message if status.failure else "something upstream of it failed"
        warning.append(f"skipped: {why}" + ("" if status.last_materialization else "; never materialized"))
    if status.stale:
        text, more = status.roots_summary()
        if more:
            text += f"; and more (headwater why {status.key._str} lists every root cause)"
        if parts is not None:
            text = f"{parts.stale} of {parts.total} partitions: {text}"
        warning.append(f"stale: {text}")
    if freshness is not None and freshness.state is FreshnessState.WARN:
        warning.append(f"freshness warning: {freshness.reason}")
    mat = status.last_materialization
    if mat is not None and mat.ran_on_stale_inputs:
        warning.append("last materialization ran on stale inputs: " + "; ".join(bad_inputs(mat)))
    if degraded:
        return AssetHealth(status.key, Health.DEGRADED, tuple(degraded + warning), status, freshness, checks)
    return AssetHealth(status.key, Health.WARNING, tuple(warning), status, freshness, checks)


def assess(graph: AssetGraph, statuses: Mapping[AssetKey, AssetStatus], check_specs: Iterable[CheckSpec],
           check_results: Mapping[AssetKey, Mapping[str, CheckEvaluated]], now: float) -> dict[AssetKey, AssetHealth]:
    """Health of every asset in one pass: freshness of its data time, its checks, its status."""
    return HealthPass().assess(graph, statuses, check_specs, check_results, now)


class HealthPass:
    """Health of every asset, re-deriving the checks and reasons only where they can differ.

    Freshness depends on the clock and is evaluated for every asset on every pass. An
    asset's checks are a function of their latest results and of which materialization is
    current: while both are the very objects of the previous pass, its checks stand. Its
    reasons are a function of its status, its checks and freshness's words: while the status
    is the very object of the previous pass too (see ``StatusPass``) and freshness says the
    same words, they stand. Exact, like ``StatusPass``, given that a results mapping handed
    in twice was not changed in between (the store's are read-only); holds the last pass only.
    """

    __slots__ = ("_last", "_grouped")

    def __init__(self) -> None:
        self._last: dict[AssetKey, _Kept] = {}
        # the check specs of the last pass, grouped by asset: one attribute, swapped whole,
        # so a pass on another thread never pairs one pass's specs with another's groups
        self._grouped: tuple[tuple[CheckSpec, ...], dict[AssetKey, tuple[CheckSpec, ...]]] = ((), {})

    def assess(self, graph: AssetGraph, statuses: Mapping[AssetKey, AssetStatus], check_specs: Iterable[CheckSpec],
               check_results: Mapping[AssetKey, Mapping[str, CheckEvaluated]],
               now: float) -> dict[AssetKey, AssetHealth]:
        old = self._last
        kept: dict[AssetKey, _Kept] = {}
        specs = tuple(check_specs)
        last_specs, groups = self._grouped
        if specs != last_specs:  # element identity first: cheap for the same definitions
            groups = {k: tuple(v) for k, v in specs_by_asset(specs).items()}
            self._grouped = (specs, groups)
        spec_of = graph.spec
        out: dict[AssetKey, AssetHealth] = {}
        for key, status in statuses.items():
            policy = spec_of(key).freshness
            fresh = policy.evaluate(status.data_time, now) if policy is not None else None
            group = groups.get(key, ())
            found = check_results.get(key, _NO_RESULTS)
            previous = old.get(key)
            mat = status.last_materialization
            # Checks depend on the results and on which materialization is current; the
            # reasons on the status as a whole, the checks, and freshness's words.
            same_checks = same_status = False
            if previous is not None and previous.group is group and previous.mat is mat:
                same_status = previous.health.status is status
                if previous.found is found:  # the store handed back the same results (nothing new)
                    results = previous.results
                    same_checks = True
                else:
                    results = tuple([found.get(c.name) for c in group])
                    same_checks = _same(previous.results, results)
            else:
                results = tuple([found.get(c.name) for c in group])
            if not same_checks:
                health = derive_health(status, fresh, tuple([check_status(c, r, mat) for c, r in zip(group, results)]))
            else:
                h = previous.health  # type: ignore[union-attr]
                before = h.freshness
                if same_status and (fresh is None) == (before is None) and (fresh is None or (
                        fresh.state is before.state and fresh.reason == before.reason)):  # type: ignore[union-attr]
                    health = AssetHealth(key, h.health, h.reasons, status, fresh, h.checks)
                else:
                    health = derive_health(status, fresh, h.checks)
            out[key] = health
            kept[key] = _Kept(health, group, mat, found, results)
        self._last = kept
        return out


@dataclass(slots=True)
class _Kept:
    health: AssetHealth
    group: tuple[CheckSpec, ...]
    mat: AssetMaterialized | None
    found: Mapping[str, CheckEvaluated]
    results: tuple[CheckEvaluated | None, ...]


def _same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """Element by element identity (equal events decoded twice are still re-derived)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is not y:
            return False
    return True


_NO_RESULTS: Mapping[str, CheckEvaluated] = MappingProxyType({})
