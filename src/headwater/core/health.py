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

from headwater.core.asset_graph import AssetGraph
from headwater.core.checks import CheckState, CheckStatus, check_statuses
from headwater.core.events import CheckEvaluated
from headwater.core.freshness import FreshnessState, FreshnessStatus
from headwater.core.keys import AssetKey
from headwater.core.specs import CheckSpec
from headwater.core.status import AssetStatus, MaterializationStatus

# Deep in a much-rebuilt graph an asset can have hundreds of root causes; listing them all
# in every such asset's reason made health for 10,000 assets 170 MB of text and 40% of its
# time. The first few, and that there are more (``why`` and ``status.root_causes()`` give
# all; counting them would mean deriving them all).
MAX_ROOTS_IN_REASON = 5


class Health(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AssetHealth:
    key: AssetKey
    health: Health
    reasons: tuple[str, ...]
    status: AssetStatus
    freshness: FreshnessStatus | None = None
    checks: tuple[CheckStatus, ...] = ()


def derive_health(status: AssetStatus, freshness: FreshnessStatus | None,
                  checks: tuple[CheckStatus, ...] = ()) -> AssetHealth:
    degraded: list[str] = []
    warning: list[str] = []
    if status.status is MaterializationStatus.FAILED:
        msg = status.failure.message if status.failure else "unknown error"
        degraded.append(f"the latest materialization attempt failed: {msg}")
    if freshness is not None and freshness.state is FreshnessState.OVERDUE:
        degraded.append(f"overdue: {freshness.reason}")
    for c in checks:
        if c.state is CheckState.FAILED:
            degraded.append(f"check {c.name} failed" + (f": {c.detail}" if c.detail else ""))
        elif c.state is CheckState.WARN:
            warning.append(f"check {c.name} failed (warn)" + (f": {c.detail}" if c.detail else ""))
    if status.stale:
        first = status.roots[:MAX_ROOTS_IN_REASON + 1]
        text = "; ".join(f"{r.key}: {r.detail}" for r in first[:MAX_ROOTS_IN_REASON])
        if len(first) > MAX_ROOTS_IN_REASON:
            text += f"; and more (headwater why {status.key} lists every root cause)"
        warning.append(f"stale: {text}")
    if freshness is not None and freshness.state is FreshnessState.WARN:
        warning.append(f"freshness warning: {freshness.reason}")
    if status.ran_on_stale_inputs and status.last_materialization is not None:
        bad = ", ".join(f"{i.key} ({i.state.value})" for i in status.last_materialization.inputs
                        if i.state.value != "ok")
        warning.append(f"last materialization ran on stale inputs: {bad}")
    if degraded:
        return AssetHealth(status.key, Health.DEGRADED, tuple(degraded + warning), status, freshness, checks)
    if warning:
        return AssetHealth(status.key, Health.WARNING, tuple(warning), status, freshness, checks)
    if status.status in (MaterializationStatus.MISSING, MaterializationStatus.UNOBSERVED):
        what = "never observed" if status.is_source else "never materialized"
        return AssetHealth(status.key, Health.UNKNOWN, (what,), status, freshness, checks)
    if status.status is MaterializationStatus.RUNNING and status.last_materialization is None:
        return AssetHealth(status.key, Health.UNKNOWN, ("first materialization in progress",), status,
                           freshness, checks)
    good = ["observed" if status.is_source else "materialized and up to date"]
    if freshness is not None and freshness.state is FreshnessState.FRESH:
        good.append("fresh: " + freshness.reason)
    passed = [c for c in checks if c.state is CheckState.PASSED]
    if passed:
        good.append(f"{len(passed)} check(s) passed")
    not_run = [c for c in checks if c.state is CheckState.NOT_RUN]
    if not_run:
        good.append("not yet run: " + ", ".join(c.name for c in not_run))
    return AssetHealth(status.key, Health.HEALTHY, tuple(good), status, freshness, checks)


def assess(graph: AssetGraph, statuses: Mapping[AssetKey, AssetStatus], check_specs: Iterable[CheckSpec],
           check_results: Mapping[AssetKey, Mapping[str, CheckEvaluated]], now: float) -> dict[AssetKey, AssetHealth]:
    """Health of every asset in one pass: freshness of its data time, its checks, its status."""
    mats = {k: s.last_materialization for k, s in statuses.items()}
    checks = check_statuses(check_specs, check_results, mats)
    out: dict[AssetKey, AssetHealth] = {}
    for key, status in statuses.items():
        policy = graph.spec(key).freshness
        fresh = policy.evaluate(status.data_time, now) if policy is not None else None
        out[key] = derive_health(status, fresh, checks.get(key, ()))
    return out
