"""Status per partition, and the roll-up of a partitioned asset (DESIGN.md §2, §5).

The unit of state is (asset, partition). For an asset that is partitioned, or that reads a
partitioned parent, every partition's status is derived like an unpartitioned asset's —
missing / running / failed / materialized, stale with its causes — except that its inputs
are the parent partitions its mapping names (``core.partition_mappings``), each compared
with the version that partition recorded when it read it. No size cut-off: a child that
reads 365 days compares 365 versions.

The asset-level ``AssetStatus`` of a partitioned asset is a roll-up: counts by state, the
worst materialization state, stale when any partition is, and the data time of its newest
time window (a time-partitioned asset is as fresh as the latest slice it has; a static or
dynamic one as its oldest slice). Its ``partitions`` holds every partition's own status.

Pure: (specs, facts, parents' statuses, a ``PartitionContext`` with the clock) -> statuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.partitions import PartitionContext, TimeWindowPartitions, format_partitioned_key
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.specs import AssetSpec
from headwater.core.status import (
    AssetStatus,
    MaterializationStatus,
    StaleCause,
    StaleCauseKind,
    _attempt_after,
    _LazyRoots,
    own_causes,
)

MATERIALIZED = MaterializationStatus.MATERIALIZED
MISSING = MaterializationStatus.MISSING
FAILED = MaterializationStatus.FAILED
RUNNING = MaterializationStatus.RUNNING
SHOWN = 3  # partitions named in one cause's words; the count says how many more


@dataclass(slots=True)
class PartitionSet:
    """Every partition of one asset with its own status, in the definition's order."""

    keys: tuple[str, ...]
    statuses: dict[str, AssetStatus]
    materialized: int = 0
    missing: int = 0
    failed: int = 0
    running: int = 0
    stale: int = 0

    @property
    def total(self) -> int:
        return len(self.keys)

    def counts(self) -> dict[str, int]:
        return {"total": self.total, "materialized": self.materialized, "missing": self.missing,
                "failed": self.failed, "running": self.running, "stale": self.stale}

    def summary(self) -> str:
        """``331/338 materialized · 2 failed · 5 missing · 1 stale``"""
        parts = [f"{self.materialized}/{self.total} materialized"]
        for name in ("failed", "running", "missing", "stale"):
            n = getattr(self, name)
            if n:
                parts.append(f"{n} {name}")
        return " · ".join(parts)

    def with_state(self, *states: str) -> list[str]:
        """Keys whose state is one of ``states`` (missing, failed, running, materialized, stale)."""
        wanted = set(states)
        out = []
        for k in self.keys:
            st = self.statuses[k]
            if st.status.value in wanted or ("stale" in wanted and st.stale):
                out.append(k)
        return out


_EMPTY_FACTS: dict[str, AssetFacts] = {}


def derive_partitioned(graph: AssetGraph, spec: AssetSpec, facts: Mapping[str, AssetFacts],
                       unpartitioned: AssetFacts | None, parents: Mapping[AssetKey, AssetStatus],
                       ctx: PartitionContext) -> AssetStatus:
    """The status of an asset that is partitioned or reads a partitioned parent."""
    key = spec.key
    if spec.partitions is None:
        return _derive_one(graph, spec, "", unpartitioned, parents, ctx)
    keys = ctx.keys(spec.partitions)
    statuses: dict[str, AssetStatus] = {}
    counts = PartitionSet(keys, statuses)
    get = facts.get
    ends = _window_ends(spec, keys, ctx)
    for i, p in enumerate(keys):
        st = _derive_one(graph, spec, p, get(p), parents, ctx)
        if ends is not None and st.data_time is not None and st.data_time > ends[i]:
            st.data_time = ends[i]  # a day's slice holds data as of the day's end, whenever it was built
        statuses[p] = st
        state = st.status
        if state is MATERIALIZED:
            counts.materialized += 1
        elif state is MISSING:
            counts.missing += 1
        elif state is FAILED:
            counts.failed += 1
        elif state is RUNNING:
            counts.running += 1
        if st.stale:
            counts.stale += 1
    return _roll_up(spec, key, counts)


def _derive_one(graph: AssetGraph, spec: AssetSpec, partition: str, fact: AssetFacts | None,
                parents: Mapping[AssetKey, AssetStatus], ctx: PartitionContext) -> AssetStatus:
    key = spec.key
    mat = fact.last_materialization if fact is not None else None
    attempt = fact.last_attempt_status if fact is not None else None
    if attempt is AttemptStatus.RUNNING:
        status = RUNNING
    elif fact is not None and attempt in (AttemptStatus.FAILED, AttemptStatus.SKIPPED) and _attempt_after(fact, mat):
        status = FAILED if attempt is AttemptStatus.FAILED else (MATERIALIZED if mat is not None else MISSING)
    else:
        status = MATERIALIZED if mat is not None else MISSING
    failure = fact.last_failure if status is FAILED and fact is not None else None
    run = fact.last_attempt_run_id if fact is not None else None
    if mat is None:
        return AssetStatus(key, status, False, (), False, spec.code_version, None, None, None, None, None, run,
                           failure, (), None, partition)
    causes, sources = _causes(graph, spec, partition, mat, parents, ctx)
    return AssetStatus(key, status, bool(causes), causes, False, spec.code_version, mat, mat.data_version,
                       mat.data_time, mat.timestamp, mat.run_id, run, failure,
                       _LazyRoots(sources) if causes else (), None, partition)


def _causes(graph: AssetGraph, spec: AssetSpec, partition: str, mat, parents: Mapping[AssetKey, AssetStatus],  # type: ignore[no-untyped-def]
            ctx: PartitionContext) -> tuple[tuple[StaleCause, ...], tuple[StaleCause | AssetStatus, ...]]:
    own, _inputs = own_causes(spec, mat)
    causes: list[StaleCause] = list(own or ())
    sources: list[StaleCause | AssetStatus] = list(causes)
    recorded: dict[tuple[AssetKey, str], str | None] = {(i.key, i.partition): i.data_version for i in mat.inputs}
    me = format_partitioned_key(spec.key, partition)
    for dep in spec.deps:
        parent = parents.get(dep)
        if parent is None:
            continue
        mapping = graph.mapping(spec.key, dep)
        pset: PartitionSet | None = parent.partitions
        if mapping is None or pset is None:
            read = [("", parent)]
        else:
            pstat = pset.statuses
            read = [(q, pstat[q]) for q in mapping.upstream(partition, spec.partitions,
                                                             graph.spec(dep).partitions, ctx) if q in pstat]
        updated: list[str] = []
        stale: list[AssetStatus] = []
        for q, st in read:
            version = st.data_version
            if version is not None and version != recorded.get((dep, q), _NEVER):
                updated.append(q)
            if st.stale:
                stale.append(st)
        if updated:
            first = read_status(read, updated[0])
            if len(updated) == 1:
                q = updated[0]
                detail = (f"{format_partitioned_key(dep, q)} has a new data version {first.data_version} "
                          f"({'observed' if first.is_source else 'materialized'} in run {first.last_run_id or '-'}); "
                          f"{me} read {_v(recorded.get((dep, q), None))}")  # type: ignore[arg-type]
            else:
                named = ", ".join(format_partitioned_key(dep, q) for q in updated[:SHOWN])
                more = f" and {len(updated) - SHOWN} more" if len(updated) > SHOWN else ""
                detail = f"{len(updated)} partitions of {dep._str} have data {me} did not read: {named}{more}"
            cause = StaleCause(StaleCauseKind.UPSTREAM_UPDATED, spec.key, dep, detail)
            causes.append(cause)
            sources.append(cause)
        if stale:
            named = ", ".join(format_partitioned_key(dep, s.partition) for s in stale[:SHOWN])
            more = f" and {len(stale) - SHOWN} more" if len(stale) > SHOWN else ""
            causes.append(StaleCause(StaleCauseKind.UPSTREAM_STALE, spec.key, dep, f"{named}{more} is stale"
                                     if len(stale) == 1 else f"{named}{more} are stale",
                                     tuple(c for s in stale[:SHOWN] for c in s.causes)))
            sources.extend(stale)
    return tuple(causes), tuple(sources)


_NEVER = object()


def read_status(read: Sequence[tuple[str, AssetStatus]], q: str) -> AssetStatus:
    for k, st in read:
        if k == q:
            return st
    raise KeyError(q)


def _v(version: str | None) -> str:
    return repr(version) if version is not None else "none"


def _roll_up(spec: AssetSpec, key: AssetKey, counts: PartitionSet) -> AssetStatus:
    statuses = counts.statuses
    if counts.running:
        status = RUNNING
    elif counts.failed:
        status = FAILED
    elif counts.materialized == 0 and counts.missing:
        status = MISSING
    else:
        status = MATERIALIZED if counts.materialized else MISSING
    # The partition that speaks for the asset: the newest time window built, or else the
    # latest materialized slice.
    newest = None
    if isinstance(spec.partitions, TimeWindowPartitions):
        newest = next((statuses[p] for p in reversed(counts.keys) if statuses[p].last_materialization is not None),
                      None)
    else:
        for st in statuses.values():
            m = st.last_materialization
            if m is not None and (newest is None or m.timestamp > newest.last_materialization.timestamp):  # type: ignore[union-attr]
                newest = st
    failure = next((st.failure for st in statuses.values() if st.failure is not None), None)
    stale = [st for st in statuses.values() if st.stale]
    # The newest stale partition's causes speak for the asset; ``explain_partitions`` names the rest.
    causes: tuple[StaleCause, ...] = tuple(
        StaleCause(c.kind, c.key, c.dep, f"[{stale[-1].partition}] {c.detail}", c.children)
        for c in stale[-1].causes) if stale else ()
    data_time = _data_time(spec, counts)
    mat = newest.last_materialization if newest is not None else None
    return AssetStatus(
        key, status, bool(stale), causes, False, spec.code_version, mat,
        mat.data_version if mat is not None else None, data_time,
        mat.timestamp if mat is not None else None, mat.run_id if mat is not None else None,
        newest.last_attempt_run_id if newest is not None else None, failure,
        _LazyRoots(tuple(stale)) if stale else (), counts, "")


def _window_ends(spec: AssetSpec, keys: tuple[str, ...], ctx: PartitionContext) -> list[float] | None:
    d = spec.partitions
    if not isinstance(d, TimeWindowPartitions):
        return None
    b = d.windows(ctx)
    return list(b[1:len(keys) + 1])


def _data_time(spec: AssetSpec, counts: PartitionSet) -> float | None:
    """A time-partitioned asset is as current as its newest materialized window (its end, or
    the data time it read if older); any other as its oldest materialized slice."""
    statuses = counts.statuses
    if isinstance(spec.partitions, TimeWindowPartitions) and counts.keys:
        for p in reversed(counts.keys):
            st = statuses[p]
            if st.last_materialization is not None:
                return st.data_time
        return None
    times = [st.data_time for st in statuses.values() if st.data_time is not None]
    return min(times) if times else None
