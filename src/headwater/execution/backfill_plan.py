"""Planning a backfill once, and cutting what is left of it into runs.

``plan_backfill`` turns selection × partition range × mode into the exact, ordered list of
(asset, partition) targets stored with the backfill: the selected roots build the keys of
the range, every downstream asset the partitions that read them through its mappings (a
rolling week rebuilds the seven windows that read a changed day; an ``AllPartitions``
summary builds once). A mode (missing / failed / stale) keeps the targets in that state,
*and* every target that reads a kept one: rebuilding a day makes its readers stale, so a
"missing only" backfill still leaves its downstream current.

``next_runs`` decides, from the derived state of every target, which runs to launch now:
a target is launchable when each of its parent targets is done or launched in the same
run; roots are grouped ``chunk_size`` partition keys to a run, and a child rides in the run
of its parents (a child whose parents fall in different runs waits until they are done).
So a run never waits on another run, and the run queue's concurrency limits apply to runs
that can all proceed.

Pure, like the planner: the clock and the dynamic keys come in through the context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from headwater.core.asset_graph import AssetGraph
from headwater.core.backfills import MODES, Target, TargetState
from headwater.core.keys import AssetKey
from headwater.core.partitions import PartitionContext
from headwater.core.status import AssetStatus, MaterializationStatus
from headwater.errors import HeadwaterError
from headwater.execution.partition_plan import UNPARTITIONED, PartitionTargets, resolve_targets

Targets = tuple[tuple[AssetKey, tuple[str, ...]], ...]


def parse_modes(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"missing,failed"`` -> ("missing", "failed"); "" / None / "all" -> () (everything)."""
    items = text.split(",") if isinstance(text, str) else list(text or ())
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item or item == "all":
            continue
        if item not in MODES:
            raise HeadwaterError(f"unknown backfill mode {item!r}; use all or any of {', '.join(MODES)}")
        if item not in out:
            out.append(item)
    return tuple(out)


def plan_backfill(graph: AssetGraph, chosen: set[AssetKey], req: PartitionTargets, modes: Sequence[str] = (),
                  statuses: Mapping[AssetKey, AssetStatus] | None = None) -> Targets:
    """The ordered (asset, partitions) a backfill builds, upstream first."""
    keys = {k for k in chosen if not graph.spec(k).is_source}
    if not keys:
        raise HeadwaterError("the selection has no asset to build (only source assets, or nothing)")
    if not any(graph.spec(k).partitions is not None for k in keys):
        raise HeadwaterError("no selected asset is partitioned: use headwater materialize for unpartitioned assets")
    targets = resolve_targets(graph, keys, PartitionTargets(req.ctx, req.keys, req.start, req.end,
                                                            follow_mappings=True))
    ordered = tuple((k, tuple(ps)) for k, ps in targets.items() if ps)
    if modes:
        ordered = _filter_modes(graph, ordered, modes, statuses or {}, req.ctx)
    if not ordered:
        what = " or ".join(modes) if modes else "selected"
        raise HeadwaterError(f"nothing to backfill: no partition in the range is {what}")
    return ordered


def _filter_modes(graph: AssetGraph, targets: Targets, modes: Sequence[str],
                  statuses: Mapping[AssetKey, AssetStatus], ctx: PartitionContext) -> Targets:
    parents = target_parents(graph, targets, ctx)
    kept: set[Target] = set()
    out: list[tuple[AssetKey, tuple[str, ...]]] = []
    for key, parts in targets:
        status = statuses.get(key)
        per = status.partitions.statuses if status is not None and status.partitions is not None else {}
        keep = []
        for p in parts:
            st = per.get(p) if p else status
            if _in_mode(st, modes) or any(q in kept for q in parents.get((key, p), ())):
                kept.add((key, p))
                keep.append(p)
        if keep:
            out.append((key, tuple(keep)))
    return tuple(out)


def _in_mode(status: AssetStatus | None, modes: Sequence[str]) -> bool:
    if status is None:
        return "missing" in modes
    s = status.status
    return (("missing" in modes and s is MaterializationStatus.MISSING)
            or ("failed" in modes and s is MaterializationStatus.FAILED)
            or ("stale" in modes and s is MaterializationStatus.MATERIALIZED and status.stale))


def target_parents(graph: AssetGraph, targets: Targets, ctx: PartitionContext) -> dict[Target, tuple[Target, ...]]:
    """For every target, the targets of the same backfill that it reads (through mappings)."""
    sets = {k: set(ps) for k, ps in targets}
    out: dict[Target, tuple[Target, ...]] = {}
    for key, parts in targets:
        spec = graph.spec(key)
        deps = [d for d in spec.deps if d in sets]
        if not deps:
            continue
        for p in parts:
            found: list[Target] = []
            for dep in deps:
                mapping = graph.mapping(key, dep)
                if mapping is None:
                    qs: Sequence[str] = UNPARTITIONED
                else:
                    qs = mapping.upstream(p, spec.partitions, graph.spec(dep).partitions, ctx)
                have = sets[dep]
                found.extend((dep, q) for q in qs if q in have)
            if found:
                out[(key, p)] = tuple(found)
    return out


def next_runs(order: Sequence[Target], states: Mapping[Target, TargetState],
              parents: Mapping[Target, Sequence[Target]], chunk_size: int, max_runs: int
              ) -> list[dict[AssetKey, tuple[str, ...]]]:
    """Up to ``max_runs`` runs to launch now, each {asset: partitions}, in backfill order."""
    if max_runs <= 0:
        return []
    size = max(1, chunk_size)
    chunk_of: dict[Target, int] = {}
    key_chunk: dict[str, int] = {}
    chunks: dict[int, dict[AssetKey, list[str]]] = {}
    next_chunk = 0
    keys_in_chunk = 0
    for target in order:
        if states.get(target) is not TargetState.REMAINING:
            continue
        waiting = [q for q in parents.get(target, ()) if states.get(q) is not TargetState.DONE]
        if waiting:
            homes = {chunk_of.get(q) for q in waiting}
            if None in homes or len(homes) != 1:
                continue  # a parent is in flight, deferred, or in another run: wait for it
            chunk = homes.pop()
        else:
            part = target[1]
            chunk = key_chunk.get(part)  # type: ignore[assignment]
            if chunk is None:
                if keys_in_chunk >= size:
                    next_chunk += 1
                    keys_in_chunk = 0
                if next_chunk >= max_runs:
                    continue
                chunk = key_chunk[part] = next_chunk
                keys_in_chunk += 1
        assert chunk is not None
        chunk_of[target] = chunk
        chunks.setdefault(chunk, {}).setdefault(target[0], []).append(target[1])
    return [{k: tuple(ps) for k, ps in chunks[i].items()} for i in sorted(chunks)]
