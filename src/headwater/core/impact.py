"""Impact analysis: what breaks downstream of an asset if it stays as it is, and when.

The question behind ``headwater impact X``: X is late (no new data), failed (its next
runs fail) or stale — what does that hold back, who owns it, and when does each freshness
policy downstream breach? The answer follows the data time (docs/design.md §2): a derived
asset's data time is the oldest among its inputs, so while X holds still at data time
``t``, nothing that reads X — directly or through others — can ever be newer than ``t``,
however often it is rebuilt. Each downstream policy is therefore evaluated at the best
data time it can reach, ``t`` (an asset behind X catches up to ``t`` when rebuilt, never
past it): the breach time is when the policy stops accepting ``t`` (``t + max_lag``; or
the first cron deadline whose required data time is past ``t``).

Pure: graph, data times, checks and triggers in; a report out; ``now`` is a parameter.
Partitions: a partitioned asset's data times are given per partition by the caller as
the *oldest* partition it would read (the roll-up of docs/design.md §5); the graph walk is the
same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from headwater.core.asset_graph import AssetGraph
from headwater.core.freshness import FreshnessPolicy, FreshnessState
from headwater.core.keys import AssetKey
from headwater.core.specs import CheckSpec

UNOWNED = "(no owner)"


class Scenario(StrEnum):
    FAILED = "failed"  # its next runs fail: downstream is skipped in runs, automation waits
    LATE = "late"  # no new data arrives: downstream runs, but on the same old data
    STALE = "stale"  # it stays stale: everything downstream is stale through it

    @property
    def effect(self) -> str:
        return {
            Scenario.FAILED: "skipped in every run that includes {root} (upstream failed); data frozen",
            Scenario.LATE: "rebuilt on data no newer than {root}'s; data frozen",
            Scenario.STALE: "stale through {root} (upstream_stale); data frozen",
        }[self]


@dataclass(frozen=True, slots=True)
class Trigger:
    """A schedule, sensor or automation condition, as plain data: what it would launch."""

    kind: str  # "schedule", "sensor" or "automation"
    name: str
    keys: frozenset[AssetKey]
    next_time: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ImpactedAsset:
    key: AssetKey
    path: tuple[AssetKey, ...]  # from the root to this asset, both included
    owners: tuple[str, ...]
    effect: str
    policy: str | None = None  # the freshness policy, described
    data_time: float | None = None  # its current data time
    reachable_data_time: float | None = None  # the newest it can get while the root holds still
    breach_at: float | None = None  # when its policy is (was) breached; None: no policy or never
    warn_at: float | None = None
    already_breached: bool = False

    @property
    def has_policy(self) -> bool:
        return self.policy is not None


@dataclass(frozen=True, slots=True)
class ImpactedCheck:
    asset: AssetKey
    name: str
    blocking: bool
    severity: str


@dataclass(frozen=True)
class ImpactReport:
    root: AssetKey
    scenario: Scenario
    now: float
    horizon: float
    root_data_time: float | None
    assets: tuple[ImpactedAsset, ...]  # ordered by time to breach, then by path length
    checks: tuple[ImpactedCheck, ...]
    triggers: tuple[Trigger, ...]
    by_owner: Mapping[str, tuple[AssetKey, ...]] = field(default_factory=dict)

    @property
    def breaches(self) -> tuple[ImpactedAsset, ...]:
        """Policies breached by ``now + horizon`` (already breached ones included), soonest first."""
        end = self.now + self.horizon
        return tuple(a for a in self.assets if a.breach_at is not None and a.breach_at <= end)

    @property
    def headline(self) -> str:
        hours = self.horizon / 3600
        span = f"{hours:g} h" if hours >= 1 else f"{self.horizon / 60:g} min"
        n = len(self.breaches)
        if not n:
            return f"Nothing breaches in the next {span} if {self.root} stays {self.scenario.value}."
        first = self.breaches[0]
        return (f"{n} freshness polic{'y breaches' if n == 1 else 'ies breach'} within {span} if {self.root} stays "
                f"{self.scenario.value}; the first: {first.key}")


def impact(graph: AssetGraph, root: AssetKey, scenario: Scenario | str, now: float, horizon: float,
           data_times: Mapping[AssetKey, float | None], checks: Iterable[CheckSpec] = (),
           triggers: Iterable[Trigger] = ()) -> ImpactReport:
    """Everything downstream of ``root`` (and ``root``'s own policy) if it stays as it is."""
    scenario = Scenario(scenario)
    if root not in graph:
        raise KeyError(root)
    paths = _paths(graph, root)
    frozen_at = data_times.get(root)
    effect = scenario.effect.format(root=root)
    assets = []
    for key, path in paths.items():
        spec = graph.spec(key)
        own_effect = "holds still (the asset in question)" if key == root else effect
        current = data_times.get(key)
        reachable = _reachable(frozen_at, current)
        breach, warn, already = _breach(spec.freshness, reachable, now)
        assets.append(ImpactedAsset(key, path, spec.owners, own_effect,
                                    spec.freshness.describe() if spec.freshness else None, current, reachable,
                                    breach, warn, already))
    assets.sort(key=lambda a: (a.breach_at is None, a.breach_at or 0.0, len(a.path), str(a.key)))
    affected = set(paths)
    wanted_checks = tuple(sorted((ImpactedCheck(c.asset, c.name, c.blocking, c.severity) for c in checks
                                  if c.asset in affected), key=lambda c: (str(c.asset), c.name)))
    hit = tuple(sorted((t for t in triggers if t.keys & affected),
                       key=lambda t: (t.next_time is None, t.next_time or 0.0, t.kind, t.name)))
    owners: dict[str, list[AssetKey]] = {}
    for a in assets:
        for owner in a.owners or (UNOWNED,):
            owners.setdefault(owner, []).append(a.key)
    return ImpactReport(root, scenario, now, horizon, frozen_at, tuple(assets), wanted_checks, hit,
                        {o: tuple(keys) for o, keys in sorted(owners.items())})


def _paths(graph: AssetGraph, root: AssetKey) -> dict[AssetKey, tuple[AssetKey, ...]]:
    """A shortest path from ``root`` to each asset downstream of it (breadth first)."""
    paths: dict[AssetKey, tuple[AssetKey, ...]] = {root: (root,)}
    todo: deque[AssetKey] = deque([root])
    while todo:
        key = todo.popleft()
        for child in sorted(graph.children(key), key=str):
            if child not in paths:
                paths[child] = (*paths[key], child)
                todo.append(child)
    return paths


def _reachable(frozen_at: float | None, current: float | None) -> float | None:
    """The newest data time an asset can reach while the root holds still at ``frozen_at``."""
    # None when the root never had data: nothing downstream can get any through it. Else the
    # root's: a derived data time is the oldest of its inputs', so ``current <= frozen_at``,
    # and rebuilt, an asset behind catches up to exactly ``frozen_at``.
    return frozen_at


def _breach(policy: FreshnessPolicy | None, reachable: float | None, now: float) -> tuple[float | None, float | None, bool]:
    """(breach time, warning time, already breached) for ``policy`` at the reachable data time."""
    if policy is None:
        return None, None, False
    if reachable is None:  # no data can arrive: unknown now, and it stays so
        return now, None, True
    if policy.max_lag is not None:
        breach = reachable + policy.max_lag
        warn = reachable + policy.warn_lag if policy.warn_lag is not None else None
        return breach, warn, breach <= now
    status = policy.evaluate(reachable, now)
    if status.state is FreshnessState.OVERDUE:
        return status.overdue_since, None, True
    breach = status.next_deadline
    warn = None
    if policy.warn_lag is not None and breach is not None:
        warn = _first_warning(policy, reachable, now, breach)
    return breach, warn, False


def _first_warning(policy: FreshnessPolicy, data_time: float, now: float, breach: float) -> float | None:
    """The first deadline tick before ``breach`` at which the data only just meets it."""
    assert policy.deadline is not None and policy.warn_lag is not None
    tick = policy.deadline.next(now)
    while tick < breach:
        if data_time < tick - policy.warn_lag:
            return tick
        tick = policy.deadline.next(tick)
    return None


def owners_of(assets: Sequence[ImpactedAsset]) -> list[str]:
    return sorted({o for a in assets for o in (a.owners or (UNOWNED,))})
