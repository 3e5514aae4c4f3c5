"""The planner: a selection of assets -> ordered steps, and what is skipped up front.

Pure. One step per asset, or one per multi-asset (all its selected outputs run as one
call, as a dbt invocation must). ``stale``/``missing`` modes drop assets that are already
current before anything runs; those are reported, not silently forgotten.

A partitioned asset gets one step per partition (or per range of ``max_partitions_per_run``
partitions), each depending on the steps that build the parent partitions it reads; a
step carries, per partition, which parent partitions it reads (``reads``), so the worker
records exactly those inputs without knowing the clock or the mappings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from headwater.core.asset_graph import AssetGraph
from headwater.core.dag import Dag
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, MaterializationStatus
from headwater.errors import CycleError, DefinitionError

if TYPE_CHECKING:
    from headwater.execution.partition_plan import PartitionTargets


class PlanMode(StrEnum):
    ALL = "all"
    STALE = "stale"      # missing, failed or stale
    MISSING = "missing"  # never materialized


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    asset_keys: tuple[AssetKey, ...]
    deps: frozenset[str]
    partitions: tuple[str, ...] = ()  # () when unpartitioned
    # partition -> parent -> the parent partitions it reads (partition-aware steps only)
    reads: Mapping[str, Mapping[AssetKey, tuple[str, ...]]] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    steps: tuple[Step, ...]                     # topological order
    up_to_date: tuple[AssetKey, ...] = ()       # selected but skipped by the mode
    sources: tuple[AssetKey, ...] = ()          # selected source assets (observed, never run)
    # partitions skipped by the mode, per partitioned asset
    up_to_date_partitions: Mapping[AssetKey, tuple[str, ...]] = field(default_factory=dict)

    @property
    def asset_keys(self) -> tuple[AssetKey, ...]:
        return tuple(k for s in self.steps for k in s.asset_keys)

    def downstream_of(self, step_key: str) -> set[str]:
        children: dict[str, list[str]] = {}
        for s in self.steps:
            for d in s.deps:
                children.setdefault(d, []).append(s.key)
        out: set[str] = set()
        stack = [step_key]
        while stack:
            for c in children.get(stack.pop(), ()):
                if c not in out:
                    out.add(c)
                    stack.append(c)
        return out


def needs_run(status: AssetStatus | None, mode: PlanMode) -> bool:
    if mode is PlanMode.ALL or status is None:
        return True
    if status.partitions is not None:  # a partitioned roll-up: any partition that needs it
        return any(needs_run(s, mode) for s in status.partitions.statuses.values())
    if mode is PlanMode.MISSING:
        return status.last_materialization is None
    return (status.last_materialization is None or status.stale
            or status.status is MaterializationStatus.FAILED)


def build_plan(
    graph: AssetGraph,
    selected: Iterable[AssetKey],
    step_of: Callable[[AssetKey], str],
    statuses: Mapping[AssetKey, AssetStatus] | None = None,
    mode: PlanMode = PlanMode.ALL,
    subsettable: Callable[[str], bool] = lambda step: True,
    members: Callable[[str], tuple[AssetKey, ...]] | None = None,
    partitions: PartitionTargets | None = None,
) -> ExecutionPlan:
    if partitions is not None and any(k in graph.partition_aware for k in selected):
        return build_partitioned_plan(graph, selected, step_of, statuses, mode, subsettable, members, partitions)
    chosen = set(selected)
    sources = tuple(k for k in graph.toposorted(chosen) if graph.spec(k).is_source)
    chosen.difference_update(sources)
    up_to_date: list[AssetKey] = []
    if mode is not PlanMode.ALL:
        statuses = statuses or {}
        for key in graph.toposorted(chosen):
            if not needs_run(statuses.get(key), mode):
                up_to_date.append(key)
        chosen.difference_update(up_to_date)
    # A multi-asset that cannot subset must produce all of its outputs.
    if members is not None:
        for key in list(chosen):
            step = step_of(key)
            if not subsettable(step):
                chosen.update(members(step))
    by_step: dict[str, list[AssetKey]] = {}
    for key in graph.toposorted(chosen):
        by_step.setdefault(step_of(key), []).append(key)
    deps: dict[str, set[str]] = {s: set() for s in by_step}
    for step, keys in by_step.items():
        for key in keys:
            for parent in graph.parents(key):
                if parent in chosen:
                    other = step_of(parent)
                    if other != step:
                        deps[step].add(other)
    steps = tuple(Step(s, tuple(by_step[s]), frozenset(deps[s])) for s in ordered(deps))
    return ExecutionPlan(steps=steps, up_to_date=tuple(up_to_date), sources=sources)


def build_partitioned_plan(*args, **kwargs) -> ExecutionPlan:  # type: ignore[no-untyped-def]
    from headwater.execution.partition_plan import build_partitioned_plan as build

    return build(*args, **kwargs)


def ordered(deps: Mapping[str, set[str]]) -> tuple[str, ...]:
    """Step keys in an order that runs parents first; a cycle between steps is a definition error."""
    try:
        return Dag(deps).nodes
    except CycleError as exc:
        raise DefinitionError(
            "the selected assets cannot be ordered into steps: " + " -> ".join(exc.path)
            + " (a multi-asset's outputs depend on each other through another step)") from exc
