"""Planning with partitions: which partitions of each selected asset a run builds, and the
steps that build them.

How the user asks (``--partition``, ``--from/--to``, a backfill's exact list) becomes a set
of target partitions per asset:

* a partitioned asset that has the requested key (or range) builds it;
* one that does not (a multi-dimensional child of a daily parent, a weekly roll-up) builds
  the partitions that read what its selected parents build, through their mappings;
* with nothing requested, a time-partitioned asset builds its newest window and any other
  partitioned asset every key it has (a static list of regions is built whole);
* ``follow_mappings`` (backfills) derives every downstream asset's partitions through the
  mappings, so a changed day rebuilds exactly the rolling windows that read it.

Pure, like ``plan.py``: the clock and the dynamic keys come in through the context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.partitions import (
    DIMENSION_SEPARATOR,
    MultiPartitions,
    PartitionContext,
    PartitionError,
    PartitionsDefinition,
    TimeWindowPartitions,
)
from headwater.core.status import AssetStatus
from headwater.execution.plan import ExecutionPlan, PlanMode, Step, needs_run, ordered

UNPARTITIONED = ("",)


@dataclass(frozen=True)
class PartitionTargets:
    """Which partitions a run is asked to build."""

    ctx: PartitionContext
    keys: tuple[str, ...] = ()            # explicit keys (``--partition a,b``)
    start: str | None = None              # a range (``--from``/``--to``), either end open
    end: str | None = None
    exact: Mapping[AssetKey, tuple[str, ...]] = field(default_factory=dict)  # a backfill chunk
    follow_mappings: bool = False

    @property
    def asked(self) -> bool:
        return bool(self.keys) or self.start is not None or self.end is not None


def resolve_targets(graph: AssetGraph, chosen: set[AssetKey], req: PartitionTargets) -> dict[AssetKey, tuple[str, ...]]:
    """The partitions each chosen asset builds ('' for an unpartitioned one), upstream first."""
    ctx = req.ctx
    out: dict[AssetKey, tuple[str, ...]] = {}
    for key in graph.toposorted(chosen):
        spec = graph.spec(key)
        d = spec.partitions
        if d is None:
            out[key] = UNPARTITIONED
            continue
        if key in req.exact:
            keys = req.exact[key]
            for k in keys:
                d.validate_key(k, ctx, key)
            out[key] = keys
            continue
        derived = _derived(graph, key, d, out, ctx)
        if req.follow_mappings and derived is not None:
            out[key] = derived
        elif req.asked:
            own = _own(key, d, req, ctx, required=derived is None)
            out[key] = own if own is not None else derived  # type: ignore[assignment]
        elif derived is not None:
            out[key] = derived
        else:
            out[key] = default_partitions(d, ctx)
    return out


def default_partitions(d: PartitionsDefinition, ctx: PartitionContext) -> tuple[str, ...]:
    """What ``materialize`` builds of a partitioned asset when no partition is named: the
    newest time window (of every other dimension's keys), or every key without time."""
    keys = ctx.keys(d)
    if isinstance(d, TimeWindowPartitions):
        return keys[-1:]
    if isinstance(d, MultiPartitions):
        for i, (_n, sub) in enumerate(d.dims):
            if isinstance(sub, TimeWindowPartitions):
                newest = ctx.keys(sub)[-1:]
                return tuple(k for k in keys if k.split(DIMENSION_SEPARATOR)[i] in newest)
    return keys


def _own(key: AssetKey, d: PartitionsDefinition, req: PartitionTargets, ctx: PartitionContext,
         required: bool) -> tuple[str, ...] | None:
    """The requested keys in this asset's own definition; None when it has no such keys and
    may take them from its parents instead."""
    try:
        if req.keys:
            if isinstance(d, MultiPartitions):
                return tuple(dict.fromkeys(k for want in req.keys for k in _multi_keys(d, want, ctx, key)))
            for k in req.keys:
                d.validate_key(k, ctx, key)
            return req.keys
        return d.key_range(req.start, req.end, ctx, key)
    except PartitionError:
        if required:
            raise
        return None


def _multi_keys(d: MultiPartitions, want: str, ctx: PartitionContext, key: AssetKey) -> tuple[str, ...]:
    """A whole key, or one dimension's key standing for every key that has it
    (``--partition 2026-03-04`` on day × region: that day in every region)."""
    if DIMENSION_SEPARATOR in want:
        d.validate_key(want, ctx, key)
        return (want,)
    hits = [i for i, (_n, sub) in enumerate(d.dims) if want in ctx.index(sub)]
    if not hits:
        d.validate_key(want, ctx, key)  # raises, naming the dimensions
    return tuple(k for k in ctx.keys(d) if any(k.split(DIMENSION_SEPARATOR)[i] == want for i in hits))


def _derived(graph: AssetGraph, key: AssetKey, d: PartitionsDefinition, targets: Mapping[AssetKey, tuple[str, ...]],
             ctx: PartitionContext) -> tuple[str, ...] | None:
    """Partitions of ``key`` that read what its chosen partitioned parents build (None when no
    chosen parent is partitioned)."""
    parents = [p for p in graph.parents(key) if p in targets and graph.spec(p).partitions is not None]
    if not parents:
        return None
    wanted = {p: set(targets[p]) for p in parents}
    out = []
    for k in ctx.keys(d):
        for p in parents:
            mapping = graph.mapping(key, p)
            if mapping is not None and not wanted[p].isdisjoint(mapping.upstream(k, d, graph.spec(p).partitions, ctx)):
                out.append(k)
                break
    return tuple(out)


def build_partitioned_plan(graph: AssetGraph, selected, step_of: Callable[[AssetKey], str],  # type: ignore[no-untyped-def]
                           statuses: Mapping[AssetKey, AssetStatus] | None, mode: PlanMode,
                           subsettable: Callable[[str], bool], members: Callable[[str], tuple[AssetKey, ...]] | None,
                           req: PartitionTargets) -> ExecutionPlan:
    chosen = set(selected)
    sources = tuple(k for k in graph.toposorted(chosen) if graph.spec(k).is_source)
    chosen.difference_update(sources)
    if members is not None:
        for key in list(chosen):
            step = step_of(key)
            if not subsettable(step):
                chosen.update(members(step))
    targets = resolve_targets(graph, chosen, req)
    up_to_date: list[AssetKey] = []
    skipped_parts: dict[AssetKey, tuple[str, ...]] = {}
    if mode is not PlanMode.ALL:
        statuses = statuses or {}
        for key, parts in list(targets.items()):
            st = statuses.get(key)
            if st is not None and st.partitions is not None:
                keep = tuple(p for p in parts if needs_run(st.partitions.statuses.get(p), mode))
                if len(keep) < len(parts):
                    skipped_parts[key] = tuple(p for p in parts if p not in keep)
            else:
                keep = parts if needs_run(st, mode) else ()
            if keep:
                targets[key] = keep
            else:
                del targets[key]
                up_to_date.append(key)
    ctx = req.ctx
    # Group each step's assets and split their partitions into chunks.
    by_step: dict[str, list[AssetKey]] = {}
    for key in graph.toposorted(targets):
        by_step.setdefault(step_of(key), []).append(key)
    chunks: list[tuple[str, str, tuple[AssetKey, ...], tuple[str, ...]]] = []
    for name, keys in by_step.items():
        parts = tuple(dict.fromkeys(p for k in keys for p in targets[k]))
        if parts == UNPARTITIONED:
            chunks.append((name, name, tuple(keys), ()))
            continue
        sizes = [graph.spec(k).max_partitions_per_run for k in keys]
        size = min((s for s in sizes if s is not None), default=len(parts)) or 1
        for i in range(0, len(parts), size):
            part = parts[i:i + size]
            label = part[0] if len(part) == 1 else f"{part[0]}...{part[-1]}"
            chunks.append((f"{name}[{label}]", name, tuple(keys), part))
    where: dict[tuple[AssetKey, str], str] = {}
    for step_key, _name, keys, part in chunks:
        for k in keys:
            for p in part or UNPARTITIONED:
                where[(k, p)] = step_key
    steps: dict[str, Step] = {}
    deps: dict[str, set[str]] = {}
    for step_key, _name, keys, part in chunks:
        reads: dict[str, dict[AssetKey, tuple[str, ...]]] = {}
        need: set[str] = set()
        for k in keys:
            spec = graph.spec(k)
            for p in part or UNPARTITIONED:
                per = reads.setdefault(p, {})
                for dep in spec.deps:
                    mapping = graph.mapping(k, dep)
                    qs = (mapping.upstream(p, spec.partitions, graph.spec(dep).partitions, ctx)
                          if mapping is not None else UNPARTITIONED)
                    if mapping is not None:
                        per[dep] = tuple(dict.fromkeys((*per.get(dep, ()), *qs)))
                    for q in qs:
                        other = where.get((dep, q))
                        if other is not None and other != step_key:
                            need.add(other)
        deps[step_key] = need
        steps[step_key] = Step(step_key, keys, frozenset(need), part, {p: r for p, r in reads.items() if r})
    order = ordered(deps)
    return ExecutionPlan(steps=tuple(steps[k] for k in order), up_to_date=tuple(up_to_date), sources=sources,
                         up_to_date_partitions=skipped_parts)
