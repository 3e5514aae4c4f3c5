"""Health: one badge per asset rolling up status, staleness, freshness and checks.

``degraded`` means the data cannot be trusted now (failed, overdue, an error check
failing); ``warning`` means it can, with a caveat (stale, close to its deadline, a
warn-level check failing, built on stale inputs); ``unknown`` means there is nothing to
judge yet. Every badge carries its reasons in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
# time, and even five with their details (versions, run ids) made a stale ``status --json``
# row 2.5 KB. The first few in a few words, and that there are more (``why`` and
# ``status.root_causes()`` give all, with their details; counting them would mean deriving
# them all). See ``AssetStatus.roots_summary``.
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
    health, reasons = health_at(health_basis(status, checks), freshness)
    return AssetHealth(status.key, health, reasons, status, freshness, checks)


@dataclass(frozen=True, slots=True)
class HealthBasis:
    """Everything health is derived from but freshness: the part that does not move with the
    clock. A stored snapshot of ``status`` keeps it, so a project with freshness policies
    re-evaluates only freshness when read later (``health_at``), and gets the very badge and
    words a full derivation gives: ``derive_health`` is ``health_at`` of this.

    ``troubled`` is whether status or checks alone make the asset degraded or warning; the
    reasons are listed around where freshness's own go (the worst first): ``degraded`` before
    and after an overdue reason, ``warning`` before and after a freshness warning. When not
    troubled: ``unknown``, the reason there is nothing to judge yet (or ""), else the good
    words before and after a fresh reason."""

    troubled: bool
    unknown: str
    degraded: tuple[tuple[str, ...], tuple[str, ...]]
    warning: tuple[tuple[str, ...], tuple[str, ...]]
    good: tuple[str, tuple[str, ...]]

    def to_data(self) -> list[object]:
        """Plain JSON-able data (a snapshot's index); ``from_data`` reads it back."""
        return [self.troubled, self.unknown, self.degraded, self.warning, self.good]

    @staticmethod
    def from_data(data: list[object]) -> HealthBasis:
        troubled, unknown, (d1, d2), (w1, w2), (head, tail) = data  # type: ignore[misc]
        return HealthBasis(bool(troubled), str(unknown), (tuple(d1), tuple(d2)), (tuple(w1), tuple(w2)),
                           (str(head), tuple(tail)))


_NONE: tuple[str, ...] = ()
# ``HealthBasis(...)`` through its slots' own setters: a frozen dataclass's ``__init__`` looks
# each attribute up by name, three times the cost, and every asset's health builds one.
_TROUBLED, _UNKNOWN, _DEGRADED, _WARNING, _GOOD = (
    HealthBasis.__dict__[name].__set__ for name in ("troubled", "unknown", "degraded", "warning", "good"))
if tuple(HealthBasis.__dataclass_fields__) != ("troubled", "unknown", "degraded", "warning", "good"):
    raise ImportError("HealthBasis's fields changed: update core.health._basis")  # pragma: no cover


def _basis(troubled: bool, unknown: str, degraded: tuple[tuple[str, ...], tuple[str, ...]],
           warning: tuple[tuple[str, ...], tuple[str, ...]], good: tuple[str, tuple[str, ...]]) -> HealthBasis:
    basis = object.__new__(HealthBasis)
    _TROUBLED(basis, troubled)
    _UNKNOWN(basis, unknown)
    _DEGRADED(basis, degraded)
    _WARNING(basis, warning)
    _GOOD(basis, good)
    return basis


def health_basis(status: AssetStatus, checks: tuple[CheckStatus, ...] = ()) -> HealthBasis:
    """The clock-free part of an asset's health (see ``HealthBasis``)."""
    mat = status.last_materialization
    bad_check = False
    for c in checks:
        if c.state is CheckState.FAILED or c.state is CheckState.WARN:
            bad_check = True
            break
    parts = status.partitions
    troubled = bool(status.status is MaterializationStatus.FAILED or status.status is MaterializationStatus.SKIPPED
                    or status.stale or bad_check
                    or (mat is not None and mat.ran_on_stale_inputs)
                    or (parts is not None and parts.missing and parts.materialized))
    degraded, warning = _trouble_reasons(status, checks, bad_check)
    unknown = ""
    if status.status in (MaterializationStatus.MISSING, MaterializationStatus.UNOBSERVED):
        unknown = "never observed" if status.is_source else "never materialized"
    elif status.status is MaterializationStatus.RUNNING and mat is None:
        unknown = "first materialization in progress"
    head = "observed" if status.is_source else "materialized and up to date"
    tail: tuple[str, ...] = _NONE
    if checks:
        good = []
        passed = sum(1 for c in checks if c.state is CheckState.PASSED)
        if passed:
            good.append(f"{passed} check(s) passed")
        not_run = [c.name for c in checks if c.state is CheckState.NOT_RUN]
        if not_run:
            good.append("not yet run: " + ", ".join(not_run))
        tail = tuple(good)
    return _basis(troubled, unknown, degraded, warning, (head, tail))


def health_at(basis: HealthBasis, freshness: FreshnessStatus | None) -> tuple[Health, tuple[str, ...]]:
    """The badge and its reasons, given freshness as evaluated now."""
    fstate = freshness.state if freshness is not None else None
    overdue = fstate is FreshnessState.OVERDUE
    late = fstate is FreshnessState.WARN
    if basis.troubled or overdue or late:
        (d1, d2), (w1, w2) = basis.degraded, basis.warning
        degraded = (*d1, f"overdue: {freshness.reason}", *d2) if overdue else d1 + d2  # type: ignore[union-attr]
        warning = (*w1, f"freshness warning: {freshness.reason}", *w2) if late else w1 + w2  # type: ignore[union-attr]
        if degraded:
            return Health.DEGRADED, degraded + warning
        return Health.WARNING, warning
    if basis.unknown:
        return Health.UNKNOWN, (basis.unknown,)
    head, tail = basis.good
    if fstate is FreshnessState.FRESH:
        return Health.HEALTHY, (head, "fresh: " + freshness.reason, *tail)  # type: ignore[union-attr]
    return Health.HEALTHY, (head, *tail)


def _trouble_reasons(status: AssetStatus, checks: tuple[CheckStatus, ...], bad_check: bool
                     ) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, ...], tuple[str, ...]]]:
    """Degraded and warning reasons but freshness's, each as (before, after) its place."""
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
    degraded_after: list[str] = []
    if bad_check:
        for c in checks:
            if c.state is CheckState.FAILED:
                degraded_after.append(f"check {c.name} failed" + (f": {c.detail}" if c.detail else ""))
            elif c.state is CheckState.WARN:
                warning.append(f"check {c.name} failed (warn)" + (f": {c.detail}" if c.detail else ""))
    if status.status is MaterializationStatus.SKIPPED:
        why = status.failure.message if status.failure else "something upstream of it failed"
        warning.append(f"skipped: {why}" + ("" if status.last_materialization else "; never materialized"))
    if status.stale:
        text = status.roots_summary()
        if parts is not None:
            text = f"{parts.stale} of {parts.total} partitions: {text}"
        warning.append(f"stale: {text}")
    mat = status.last_materialization
    after: tuple[str, ...] = _NONE
    if mat is not None and mat.ran_on_stale_inputs:
        after = ("last materialization ran on stale inputs: " + "; ".join(bad_inputs(mat)),)
    return ((tuple(degraded), tuple(degraded_after)), (tuple(warning), after))


def assess(graph: AssetGraph, statuses: Mapping[AssetKey, AssetStatus], check_specs: Iterable[CheckSpec],
           check_results: Mapping[AssetKey, Mapping[str, CheckEvaluated]], now: float) -> dict[AssetKey, AssetHealth]:
    """Health of every asset in one pass: freshness of its data time, its checks, its status."""
    return HealthPass().assess(graph, statuses, check_specs, check_results, now)


def each_health(graph: AssetGraph, statuses: Mapping[AssetKey, AssetStatus], check_specs: Iterable[CheckSpec],
                check_results: Mapping[AssetKey, Mapping[str, CheckEvaluated]], now: float) -> Iterator[AssetHealth]:
    """``assess``'s healths one at a time, in the order of ``statuses``, none kept: a caller
    that writes each out as it comes (``status`` rows of 100,000 assets) never holds them all."""
    groups = specs_by_asset(check_specs)
    spec_of = graph.spec
    for key, status in statuses.items():
        policy = spec_of(key).freshness
        fresh = policy.evaluate(status.data_time, now) if policy is not None else None
        group = groups.get(key)
        if group:
            found = check_results.get(key, _NO_RESULTS)
            mat = status.last_materialization
            yield derive_health(status, fresh, tuple([check_status(c, found.get(c.name), mat) for c in group]))
        else:
            yield derive_health(status, fresh)


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
