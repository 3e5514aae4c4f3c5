"""Status per partition, and the roll-up of a partitioned asset (docs/design.md §2, §5).

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

A partition whose status is *settled* (materialized or missing, nothing stale, failed or
running) is told from its stored row and its ``AssetStatus`` built only when asked
(``core.settled_partitions``): a cold roll-up of 365,000 partitions builds almost no
per-partition object.

Pure: (specs, facts, parents' statuses, a ``PartitionContext`` with the clock) -> statuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from operator import and_, is_, not_
from typing import Any

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized
from headwater.core.keys import AssetKey
from headwater.core.materialization_summary import SummarizedMaterialization
from headwater.core.partition_mappings import IdentityMapping
from headwater.core.partition_rows import ROW_DATA_TIME, ROW_MAT_AT, ROW_MAT_ID, PartitionRows
from headwater.core.partitions import PartitionContext, TimeWindowPartitions, format_partitioned_key
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.settled_partitions import (
    ABSENT,
    FAILED,
    MATERIALIZED,
    MISSING,
    NEVER,
    RUNNING,
    PartitionStatuses,
    SettledRows,
    recorded_version,
    tally,
)
from headwater.core.specs import AssetSpec
from headwater.core.status import (
    AssetStatus,
    StaleCause,
    StaleCauseKind,
    _attempt_after,
    _LazyRoots,
    own_causes,
)

SHOWN = 3  # partitions named in one cause's words; the count says how many more


@dataclass(slots=True)
class PartitionSet:
    """Every partition of one asset with its own status, in the definition's order."""

    keys: tuple[str, ...]
    statuses: PartitionStatuses
    materialized: int = 0
    time_ordered: bool = False  # the last key is the newest time window
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
        state = self.statuses.state
        out = []
        for k in self.keys:
            status, stale = state(k)
            if status.value in wanted or ("stale" in wanted and stale):
                out.append(k)
        return out


@dataclass(slots=True)
class _Dep:
    """What one dependency needs, decided once per asset instead of once per partition."""

    key: AssetKey
    parent: AssetStatus | None
    mapping: Any  # PartitionMapping | None
    statuses: PartitionStatuses | None  # the parent's partitions (None: unpartitioned parent)
    same_key: bool  # child partition p reads parent partition p (identity)
    unchanged: bool  # the parent's roll-up is the very object of the previous pass
    old_statuses: PartitionStatuses | None
    parent_def: Any  # the parent's PartitionsDefinition


@dataclass(slots=True)
class _Memo:
    """One partitioned asset's previous pass: what it was derived from, and what it gave."""

    spec: AssetSpec
    keys: tuple[str, ...]
    facts: Mapping[str, AssetFacts]
    parents: dict[AssetKey, AssetStatus | None]
    result: AssetStatus


def derive_partitioned(graph: AssetGraph, spec: AssetSpec, facts: Mapping[str, AssetFacts],
                       unpartitioned: AssetFacts | None, parents: Mapping[AssetKey, AssetStatus],
                       ctx: PartitionContext, memo: dict[AssetKey, Any] | None = None) -> AssetStatus:
    """The status of an asset that is partitioned or reads a partitioned parent.

    With ``memo`` (kept by ``StatusPass`` between reads), a partition keeps its previous status
    when its facts are the same object and every parent partition it reads kept its status:
    after a run that wrote ten partitions, only those and what reads them are derived again.
    """
    key = spec.key
    prev: _Memo | None = memo.get(key) if memo is not None else None
    if prev is not None and prev.spec is not spec:
        prev = None
    deps = _deps(graph, spec, parents, prev)
    if spec.partitions is None:
        if prev is not None and prev.facts.get("") is unpartitioned and all(d.unchanged for d in deps):
            return prev.result
        st = _derive_one(spec, "", unpartitioned, deps, ctx)
        if memo is not None:
            memo[key] = _Memo(spec, UNPARTITIONED_KEYS, {"": unpartitioned} if unpartitioned else {},
                              {d.key: d.parent for d in deps}, st)
        return st
    keys = ctx.keys(spec.partitions)
    if prev is not None and prev.keys != keys:
        prev = None
    if prev is not None and prev.facts is facts and all(d.unchanged for d in deps):
        return prev.result  # nothing it depends on changed: not one partition to look at
    old_cells = prev.result.partitions.statuses.cells if prev is not None else None
    raw, old_raw = _raw(facts, prev.facts if prev is not None else None)
    statuses = PartitionStatuses(partial(_settled_status, spec, facts, ctx))
    cells = statuses.cells
    counts = PartitionSet(keys, statuses, time_ordered=isinstance(spec.partitions, TimeWindowPartitions))
    # Settled partitions can be told from their rows when the facts are rows and every
    # partitioned parent's statuses say which of theirs are settled.
    settle = SettledRows(spec, deps, facts, ctx) if type(facts) is PartitionRows or not facts else None
    ends = _window_ends(spec, keys, ctx)
    all_kept = prev is not None
    changed = [(d.statuses.cells, d.old_statuses.cells) if d.same_key and d.statuses is not None
               and d.old_statuses is not None else None for d in deps if not d.unchanged]
    if old_cells is not None and None not in changed:
        # Derive again only the partitions whose facts changed, or a same-key parent partition
        # they read (told apart at C speed): a run records one partition at a time.
        kept: Any = map(is_, map(raw, keys), map(old_raw, keys))
        for now, then in changed:
            kept = map(and_, kept, map(is_, map(now.get, keys, repeat(ABSENT)), map(then.get, keys, repeat(ABSENT))))
        todo = list(compress(range(len(keys)), map(not_, kept)))
        if todo:
            old_set = prev.result.partitions  # type: ignore[union-attr]
            cells.update(old_cells)
            counts.materialized, counts.missing, counts.failed, counts.running, counts.stale = (
                old_set.materialized, old_set.missing, old_set.failed, old_set.running, old_set.stale)
            for i in todo:
                p = keys[i]
                tally(counts, cells[p], -1)
                row = raw(p)
                if settle is not None and settle.settled(p, row):
                    cell = row
                else:
                    cell = _derive_one(spec, p, facts.get(p), deps, ctx)
                    if ends is not None and cell.data_time is not None and cell.data_time > ends[i]:
                        cell.data_time = ends[i]
                cells[p] = cell
                tally(counts, cell, 1)
            result = _roll_up(spec, key, counts, [c for c in cells.values() if type(c) is AssetStatus])
        else:
            result = prev.result  # type: ignore[union-attr]
        if memo is not None:
            memo[key] = _Memo(spec, keys, facts, {d.key: d.parent for d in deps}, result)
        return result
    built: list[AssetStatus] = []  # the statuses of this pass that are built, in key order
    materialized = missing = 0
    for i, p in enumerate(keys):
        row = raw(p)
        cell: Any = ABSENT
        if old_cells is not None and row is old_raw(p):  # type: ignore[misc]
            cell = old_cells.get(p, ABSENT)
            for c in changed:
                if c is None or c[0].get(p, ABSENT) is not c[1].get(p, ABSENT):
                    cell = ABSENT
                    break
        if cell is ABSENT:
            all_kept = False
            if settle is not None and settle.settled(p, row):
                cell = row
            else:
                cell = _derive_one(spec, p, facts.get(p), deps, ctx)
                if ends is not None and cell.data_time is not None and cell.data_time > ends[i]:
                    cell.data_time = ends[i]  # a day's slice holds data as of the day's end, whenever it was built
        cells[p] = cell
        if type(cell) is AssetStatus:
            built.append(cell)
            state = cell.status
            if state is MATERIALIZED:
                materialized += 1
            elif state is MISSING:
                missing += 1
            elif state is FAILED:
                counts.failed += 1
            elif state is RUNNING:
                counts.running += 1
            if cell.stale:
                counts.stale += 1
        elif cell is None or cell[ROW_MAT_ID] is None:
            missing += 1
        else:
            materialized += 1
    counts.materialized = materialized
    counts.missing = missing
    result = prev.result if all_kept and prev is not None else _roll_up(spec, key, counts, built)
    if memo is not None:
        memo[key] = _Memo(spec, keys, facts, {d.key: d.parent for d in deps}, result)
    return result


def _raw(facts: Mapping[str, AssetFacts], old: Mapping[str, AssetFacts] | None) -> tuple[Any, Any]:
    """What tells whether a partition's facts changed since the previous pass, now and then:
    its row, or its ``AssetFacts`` (a run's status view copies the store's rows into a dict
    of the facts they built, and those keep their identity)."""
    if old is None:
        return _raw_of(facts), None
    if type(old) is PartitionRows and type(facts) is not PartitionRows:
        return facts.get, old.built
    return _raw_of(facts), _raw_of(old)


def _raw_of(facts: Mapping[str, AssetFacts]) -> Any:
    return facts.rows.get if type(facts) is PartitionRows else facts.get


UNPARTITIONED_KEYS = ("",)


def _deps(graph: AssetGraph, spec: AssetSpec, parents: Mapping[AssetKey, AssetStatus], prev: _Memo | None) -> list[_Dep]:
    out = []
    for dep in spec.deps:
        parent = parents.get(dep)
        mapping = graph.mapping(spec.key, dep)
        pset = parent.partitions if parent is not None else None
        before = prev.parents.get(dep) if prev is not None else None
        out.append(_Dep(dep, parent, mapping, pset.statuses if pset is not None else None,
                        pset is not None and type(mapping) is IdentityMapping,
                        prev is not None and before is parent,
                        before.partitions.statuses if before is not None and before.partitions is not None else None,
                        graph.spec(dep).partitions))
    return out


def _settled_status(spec: AssetSpec, facts: Mapping[str, AssetFacts], ctx: PartitionContext,
                    partition: str) -> AssetStatus:
    """A settled partition's status, as ``derive_partitioned`` would have derived it."""
    st = _derive_one(spec, partition, facts.get(partition), None, ctx)
    d = spec.partitions
    if isinstance(d, TimeWindowPartitions) and st.data_time is not None:
        end = d.windows(ctx)[ctx.index(d)[partition] + 1]
        if st.data_time > end:
            st.data_time = end  # as the pass does: see derive_partitioned
    return st


def _derive_one(spec: AssetSpec, partition: str, fact: AssetFacts | None, deps: list[_Dep] | None,
                ctx: PartitionContext) -> AssetStatus:
    """One partition's status (``deps`` None: known to be settled, no cause to look for)."""
    key = spec.key
    if fact is None:
        return AssetStatus(key, MISSING, False, (), False, spec.code_version, None, None, None, None, None, None,
                           None, (), None, partition)
    mat = fact.last_materialization
    attempt = fact.last_attempt_status
    if attempt is AttemptStatus.RUNNING:
        status = RUNNING
    elif (attempt is AttemptStatus.FAILED or attempt is AttemptStatus.SKIPPED) and _attempt_after(fact, mat):
        status = FAILED if attempt is AttemptStatus.FAILED else (MATERIALIZED if mat is not None else MISSING)
    else:
        status = MATERIALIZED if mat is not None else MISSING
    failure = fact.last_failure if status is FAILED else None
    run = fact.last_attempt_run_id
    if mat is None:
        return AssetStatus(key, status, False, (), False, spec.code_version, None, None, None, None, None, run,
                           failure, (), None, partition)
    causes, sources = _causes(spec, partition, mat, deps, ctx) if deps is not None else ((), ())
    return AssetStatus(key, status, bool(causes), causes, False, spec.code_version, mat, mat.data_version,
                       mat.data_time, mat.timestamp, mat.run_id, run, failure,
                       _LazyRoots(sources) if causes else (), None, partition)


def _input_versions(mat: AssetMaterialized) -> Sequence[Sequence[Any]]:
    """``[key text, partition, data version, ...]`` per recorded input: from the summary
    columns when the store gave a summary (no event decoded), else from the event."""
    if type(mat) is SummarizedMaterialization:
        return mat.input_versions()
    return [(i.key._str, i.partition, i.data_version) for i in mat.inputs]


def _causes(spec: AssetSpec, partition: str, mat, deps: list[_Dep],  # type: ignore[no-untyped-def]
            ctx: PartitionContext) -> tuple[tuple[StaleCause, ...], tuple[StaleCause | AssetStatus, ...]]:
    if spec.code_version != mat.code_version or spec.deps != mat.deps:
        own, _inputs = own_causes(spec, mat)
        causes: list[StaleCause] = list(own or ())
    else:
        causes = []
    versions = _input_versions(mat)
    recorded = {(i[0], i[1]): i[2] for i in versions} if len(versions) > 8 else None
    me: str | None = None
    for d in deps:
        parent = d.parent
        if parent is None:
            continue
        dep = d.key
        dep_text = dep._str
        if d.statuses is None or d.mapping is None:
            read: Any = (("", parent),)
        elif d.same_key:
            st = d.statuses.get(partition)
            read = ((partition, st),) if st is not None else ()
        else:
            pstat = d.statuses
            read = [(q, pstat[q]) for q in d.mapping.upstream(partition, spec.partitions, d.parent_def, ctx)
                    if q in pstat]
        updated: list[str] = []
        stale: list[AssetStatus] = []
        for q, st in read:
            version = st.data_version
            if version is not None:
                seen = recorded.get((dep_text, q), NEVER) if recorded is not None else recorded_version(versions, dep_text, q)
                if version != seen:
                    updated.append(q)
            if st.stale:
                stale.append(st)
        if not updated and not stale:
            continue
        if me is None:
            me = format_partitioned_key(spec.key, partition)
        if updated:
            first = read_status(read, updated[0])
            if len(updated) == 1:
                q = updated[0]
                seen = recorded.get((dep_text, q), None) if recorded is not None else recorded_version(versions, dep_text, q)
                detail = (f"{format_partitioned_key(dep, q)} has a new data version {first.data_version} "
                          f"({'observed' if first.is_source else 'materialized'} in run {first.last_run_id or '-'}); "
                          f"{me} read {_v(None if seen is NEVER else seen)}")
            else:
                named = ", ".join(format_partitioned_key(dep, q) for q in updated[:SHOWN])
                more = f" and {len(updated) - SHOWN} more" if len(updated) > SHOWN else ""
                detail = f"{len(updated)} partitions of {dep._str} have data {me} did not read: {named}{more}"
            causes.append(StaleCause(StaleCauseKind.UPSTREAM_UPDATED, spec.key, dep, detail))
        if stale:
            named = ", ".join(format_partitioned_key(dep, s.partition) for s in stale[:SHOWN])
            more = f" and {len(stale) - SHOWN} more" if len(stale) > SHOWN else ""
            causes.append(StaleCause(StaleCauseKind.UPSTREAM_STALE, spec.key, dep, f"{named}{more} is stale"
                                     if len(stale) == 1 else f"{named}{more} are stale",
                                     tuple(c for s in stale[:SHOWN] for c in s.causes)))
    if not causes:
        return (), ()
    sources: list[StaleCause | AssetStatus] = []
    for c in causes:
        if c.kind is StaleCauseKind.UPSTREAM_STALE:
            d = next(x for x in deps if x.key is c.dep)
            sources.extend(_stale_read(spec, partition, d, ctx))
        else:
            sources.append(c)
    return tuple(causes), tuple(sources)


def _stale_read(spec: AssetSpec, partition: str, d: _Dep, ctx: PartitionContext) -> list[AssetStatus]:
    if d.statuses is None or d.mapping is None:
        return [d.parent] if d.parent is not None and d.parent.stale else []
    if d.same_key:
        st = d.statuses.get(partition)
        return [st] if st is not None and st.stale else []
    return [d.statuses[q] for q in d.mapping.upstream(partition, spec.partitions, d.parent_def, ctx)
            if q in d.statuses and d.statuses[q].stale]


def read_status(read: Sequence[tuple[str, AssetStatus]], q: str) -> AssetStatus:
    for k, st in read:
        if k == q:
            return st
    raise KeyError(q)


def _v(version: str | None) -> str:
    return repr(version) if version is not None else "none"


def _roll_up(spec: AssetSpec, key: AssetKey, counts: PartitionSet, built: list[AssetStatus]) -> AssetStatus:
    """``built``: the partitions' statuses the pass built, in key order; every other partition
    is settled (no failure, not stale)."""
    statuses = counts.statuses
    cells = statuses.cells
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
    newest: AssetStatus | None = None
    time_ordered = isinstance(spec.partitions, TimeWindowPartitions)
    if time_ordered:
        for p in reversed(counts.keys):
            c = cells[p]
            if c is not None and ((c.last_materialization is not None) if type(c) is AssetStatus
                                  else c[ROW_MAT_ID] is not None):
                newest = statuses[p]
                break
    else:
        chosen: str | None = None
        best: Any = None
        for p, c in cells.items():
            if c is None:
                continue
            if type(c) is AssetStatus:
                if c.last_materialization is None:
                    continue
                at = c.last_materialization.timestamp
            elif c[ROW_MAT_ID] is None:
                continue
            else:
                at = c[ROW_MAT_AT]
            if chosen is None or at > best:
                chosen, best = p, at
        newest = statuses[chosen] if chosen is not None else None
    failure = next((st.failure for st in built if st.failure is not None), None)
    stale = [st for st in built if st.stale]
    # The newest stale partition's causes speak for the asset; ``explain_partitions`` names the rest.
    causes: tuple[StaleCause, ...] = tuple(
        StaleCause(c.kind, c.key, c.dep, f"[{stale[-1].partition}] {c.detail}", c.children)
        for c in stale[-1].causes) if stale else ()
    # A time-partitioned asset is as current as its newest materialized window (its end, or
    # the data time it read if older); any other as its oldest materialized slice.
    if time_ordered and counts.keys:
        data_time = newest.data_time if newest is not None else None
    else:
        data_time = _oldest_data_time(cells)
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


def _oldest_data_time(cells: Mapping[str, Any]) -> float | None:
    times = []
    for c in cells.values():
        if c is None:
            continue
        t = c.data_time if type(c) is AssetStatus else (c[ROW_DATA_TIME] if c[ROW_MAT_ID] is not None else None)
        if t is not None:
            times.append(t)
    return min(times) if times else None


def newest_partition_view(statuses: Mapping[AssetKey, AssetStatus]) -> dict[AssetKey, AssetStatus]:
    """Statuses where a time-partitioned asset stands for its newest window (what automation
    keeps current); other assets, and partitioned ones without a time window, as they are."""
    out = dict(statuses)
    for key, st in statuses.items():
        ps = st.partitions
        if ps is not None and ps.keys and ps.time_ordered:
            out[key] = ps.statuses[ps.keys[-1]]
    return out
