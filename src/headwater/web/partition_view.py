"""What the UI and ``/api/assets/{key}/partitions`` show about the partitions of an asset, and
about one partition: its state, why, what it reads, its history and its checks.

Every partition's status comes from the UI's health snapshot (one status pass for the whole
graph, ``state.py``): a partitioned asset's ``AssetStatus.partitions`` holds them all. A
partition's page adds what only it needs, read from the store for that one partition: its
materializations and check results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from headwater.core.checks import CheckStatus, check_status
from headwater.core.events import CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.core.partition_status import PartitionSet
from headwater.core.partitions import (
    DIMENSION_SEPARATOR,
    MultiPartitions,
    PartitionContext,
    PartitionError,
    PartitionsDefinition,
    TimeWindowPartitions,
    format_partitioned_key,
    parse_partitioned_key,
)
from headwater.core.status import AssetStatus
from headwater.errors import HeadwaterError
from headwater.reports import cause_to_dict, check_to_dict, iso
from headwater.web.asset_view import NoSuchAsset, known_key
from headwater.web.context import WebContext
from headwater.web.formatting import when
from headwater.web.partition_strip import STATES, as_data, build_strip, cell_state, partition_href, reason
from headwater.web.shapes import event_row

PAGE = 100
MAX_PAGE = 5000
HISTORY = 50
UPSTREAM_SHOWN = 12
FILTERS = ("materialized", "missing", "failed", "running", "stale", "fresh")  # fresh: materialized, not stale


class NoSuchPartition(NoSuchAsset):
    """A partition the asset does not have (shown as 404, with the asset's range)."""


class NotPartitioned(HeadwaterError):
    """Partitions were asked of an asset that has none (a 400 naming the asset)."""


def partitioned(ctx: WebContext, text: str) -> tuple[AssetKey, PartitionsDefinition, AssetStatus, PartitionSet]:
    """The asset, its definition, its roll-up and its partitions, from the snapshot."""
    key = known_key(ctx, text)
    d = ctx.graph.spec(key).partitions
    if d is None:
        raise NotPartitioned(f"asset {key} is not partitioned")
    st = ctx.cache.get().healths[key].status
    pset = st.partitions
    if pset is None:  # pragma: no cover - a partitioned asset's status always carries them
        raise NotPartitioned(f"asset {key} has no partition status")
    return key, d, st, pset


def parse_states(text: str | None) -> tuple[str, ...]:
    """``failed,missing`` -> ('failed', 'missing'); an unknown word is a one-line error."""
    if not text:
        return ()
    words = tuple(w.strip() for w in text.split(",") if w.strip())
    for w in words:
        if w not in FILTERS:
            raise HeadwaterError(f"unknown partition state {w!r}; one of {', '.join(FILTERS)}")
    return words


def matching(pset: PartitionSet, states: Sequence[str]) -> list[str]:
    """The keys in any of ``states`` (all of them when none is given), in the definition's order."""
    if not states:
        return list(pset.keys)
    wanted = set(states)
    out = []
    for k in pset.keys:
        st = pset.statuses[k]
        value = st.status._value_
        if value in wanted or (st.stale and "stale" in wanted) or (
                "fresh" in wanted and value == "materialized" and not st.stale):
            out.append(k)
    return out


def dimensions(d: PartitionsDefinition, partition: str) -> dict[str, str]:
    if isinstance(d, MultiPartitions):
        return dict(zip((n for n, _ in d.dims), partition.split(DIMENSION_SEPARATOR)))
    return {}


def time_window(d: PartitionsDefinition, partition: str, pctx: PartitionContext) -> dict[str, str | None] | None:
    sub, part = d, partition
    if isinstance(d, MultiPartitions):
        found = next(((i, s) for i, (_n, s) in enumerate(d.dims) if isinstance(s, TimeWindowPartitions)), None)
        if found is None:
            return None
        sub, part = found[1], partition.split(DIMENSION_SEPARATOR)[found[0]]
    if not isinstance(sub, TimeWindowPartitions):
        return None
    i = pctx.index(sub).get(part)
    if i is None:
        return None
    b = sub.windows(pctx)
    return {"start": iso(b[i]), "end": iso(b[i + 1])}


def partition_row(key: AssetKey, d: PartitionsDefinition, st: AssetStatus) -> dict[str, Any]:
    """One partition, as ``/api/assets/{key}/partitions`` lists it."""
    mat = st.last_materialization
    return {
        "partition": st.partition,
        "address": format_partitioned_key(key, st.partition),
        "dimensions": dimensions(d, st.partition),
        "status": st.status._value_,
        "state": cell_state(st),
        "stale": st.stale,
        "stale_causes": [cause_to_dict(c) for c in st.causes],
        "reason": reason(st),
        "error": st.failure.message if st.failure else None,
        "last_materialized_at": iso(mat.timestamp) if mat else None,
        "run_id": st.last_run_id,
        "last_attempt_run_id": st.last_attempt_run_id,
        "data_version": st.data_version,
        "data_time": iso(st.data_time),
        "ran_on_stale_inputs": bool(mat is not None and mat.ran_on_stale_inputs),
    }


def definition_row(d: PartitionsDefinition, pctx: PartitionContext) -> dict[str, Any]:
    return {"description": d.describe(),
            "dimensions": [{"name": n, "description": s.describe(), "kind": _kind(s), "count": len(pctx.keys(s))}
                           for n, s in d.dimensions]}


def _kind(d: PartitionsDefinition) -> str:
    return {"TimeWindowPartitions": "time", "StaticPartitions": "static",
            "DynamicPartitions": "dynamic"}.get(type(d).__name__, type(d).__name__)


def partitions_page(ctx: WebContext, text: str, states: str | None, offset: int, limit: int) -> dict[str, Any]:
    """The ``/api/assets/{key}/partitions`` document."""
    key, d, st, pset = partitioned(ctx, text)
    chosen = matching(pset, parse_states(states))
    pctx = ctx.instance.partition_context(ctx.defs)
    page = chosen[offset:offset + limit]
    return {
        "key": str(key),
        "definition": definition_row(d, pctx),
        "counts": pset.counts(),
        "summary": pset.summary(),
        "status": st.status._value_,
        "matching": len(chosen),
        "offset": offset,
        "limit": limit,
        "partitions": [partition_row(key, d, pset.statuses[p]) for p in page],
        "as_of": iso(ctx.cache.get().taken_at),
    }


def strip_data(ctx: WebContext, text: str, start: str | None, end: str | None) -> dict[str, Any]:
    """The strip's cells as data (``?strip=true``): what the UI draws, for other front ends."""
    key, d, _st, pset = partitioned(ctx, text)
    base = "/partitions/" + str(key)
    strip = build_strip(str(key), d, pset.keys, pset.statuses, ctx.instance.partition_context(ctx.defs), start, end,
                        base=base)
    return as_data(strip)


# -- one partition ----------------------------------------------------------------------------


@dataclass
class UpstreamRead:
    """What the partition reads of one parent: its partitions and their states."""

    dep: AssetKey
    mapping: str
    partitions: list[tuple[str, str, str]]   # (address, state, href) of the first shown
    total: int
    counts: dict[str, int]

    def summary(self) -> str:
        if self.total == 1 and self.partitions:
            return f"{self.partitions[0][0]} ({self.partitions[0][1]})"
        mix = ", ".join(f"{n} {s}" for s in reversed(STATES) if (n := self.counts.get(s)))
        return f"{self.total} partition(s) of {self.dep}: {mix or 'none'}"


@dataclass
class PartitionDetail:
    key: AssetKey
    partition: str
    definition: PartitionsDefinition
    status: AssetStatus
    state: str
    why: list[str]
    upstream: list[UpstreamRead]
    materializations: list[Any]          # StoredEvent
    checks: list[CheckStatus]
    check_history: dict[str, list[Any]]  # name -> StoredEvent
    window: dict[str, str | None] | None
    neighbours: tuple[str | None, str | None]
    asset_status: AssetStatus
    counts: dict[str, int]
    snapshot: Any

    @property
    def address(self) -> str:
        return format_partitioned_key(self.key, self.partition)


def resolve(ctx: WebContext, text: str, partition: str | None = None) -> tuple[AssetKey, str]:
    """``events[2026-03-04]`` (or key and partition apart) -> (key, partition), checked."""
    if partition is None:
        name, part = parse_partitioned_key(text)
        if part is None:
            raise PartitionError(f"{text!r} names no partition; write it as asset[partition], e.g. "
                                 f"{text}[2026-03-04]")
        text, partition = name, part
    key, d, _st, pset = partitioned(ctx, text)
    if partition not in pset.statuses:
        try:
            d.validate_key(partition, ctx.instance.partition_context(ctx.defs), key)
        except PartitionError as exc:
            raise NoSuchPartition(str(exc)) from None
        raise NoSuchPartition(f"partition {partition!r} of asset {key} is newer than the status shown; reload")
    return key, partition


def partition_detail(ctx: WebContext, key: AssetKey, partition: str) -> PartitionDetail:
    snap = ctx.cache.get()
    h = snap.healths[key]
    pset: PartitionSet = h.status.partitions
    st = pset.statuses[partition]
    d = ctx.graph.spec(key).partitions
    assert d is not None
    pctx = ctx.instance.partition_context(ctx.defs)
    store = ctx.instance.store
    mats = store.materializations(key, partition=partition, limit=HISTORY)
    history: dict[str, list[Any]] = {c.spec.name: [] for c in ctx.defs.checks_for(key)}
    for stored in store.check_history(key, partition=partition, limit=200):
        ev = stored.event
        assert isinstance(ev, CheckEvaluated)
        history.setdefault(ev.check_name, []).append(stored)
    mat = st.last_materialization
    checks = [check_status(c.spec, history[c.spec.name][0].event if history.get(c.spec.name) else None, mat)
              for c in ctx.defs.checks_for(key)]
    upstream = upstream_reads(ctx, key, partition, snap.healths, pctx)
    i = pset.keys.index(partition)
    neighbours = (pset.keys[i - 1] if i > 0 else None, pset.keys[i + 1] if i + 1 < len(pset.keys) else None)
    return PartitionDetail(key, partition, d, st, cell_state(st), explain(key, st, upstream, checks), upstream,
                           mats, checks, history, time_window(d, partition, pctx), neighbours, h.status,
                           pset.counts(), snap)


def upstream_reads(ctx: WebContext, key: AssetKey, partition: str, healths: Mapping[AssetKey, Any],
                   pctx: PartitionContext) -> list[UpstreamRead]:
    graph = ctx.graph
    spec = graph.spec(key)
    out = []
    for dep in spec.deps:
        if dep not in healths:
            continue
        parent = healths[dep].status
        mapping = graph.mapping(key, dep)
        pset = parent.partitions
        if mapping is None or pset is None:
            reads: list[tuple[str, AssetStatus]] = [("", parent)]
            label = "whole asset"
        else:
            keys = mapping.upstream(partition, spec.partitions, graph.spec(dep).partitions, pctx)
            reads = [(q, pset.statuses[q]) for q in keys if q in pset.statuses]
            label = type(mapping).__name__
        counts: dict[str, int] = {}
        shown = []
        for _q, s in reads:
            state = cell_state(s)
            counts[state] = counts.get(state, 0) + 1
        # The troubled ones first: they are why this partition cannot be built or is stale.
        ordered = sorted(reads, key=lambda r: STATES.index(cell_state(r[1])))
        for q, s in ordered[:UPSTREAM_SHOWN]:
            shown.append((format_partitioned_key(dep, q), cell_state(s),
                          partition_href(str(dep), q) if q else f"/assets/{dep}"))
        out.append(UpstreamRead(dep, label, shown, len(reads), counts))
    return out


def explain(key: AssetKey, st: AssetStatus, upstream: list[UpstreamRead], checks: list[CheckStatus]) -> list[str]:
    """The partition's ``why``: its state in words, then what it reads and its checks."""
    me = format_partitioned_key(key, st.partition)
    state = cell_state(st)
    mat = st.last_materialization
    lines = [f"{me}: {state}"]
    if state == "failed":
        lines.append(f"the latest attempt (run {st.last_attempt_run_id or '-'}) failed"
                     + (" after its last success" if mat is not None else "; it was never materialized"))
        if st.failure is not None:
            lines.append(f"  error: {st.failure.message}")
    elif state == "running":
        lines.append(f"run {st.last_attempt_run_id or '-'} is building it now")
    elif state == "missing":
        lines.append("it was never materialized")
        blocked = [u for u in upstream if any(u.counts.get(s) for s in ("missing", "failed"))]
        for u in blocked:
            bad = [a for a, s, _h in u.partitions if s in ("missing", "failed")]
            lines.append(f"  it reads {u.summary()}; not there yet: {', '.join(bad)}"
                         + (" …" if len(bad) < sum(u.counts.get(s, 0) for s in ("missing", "failed")) else ""))
    if mat is not None:
        lines.append(f"last materialized at {when(mat.timestamp)} by run {mat.run_id} "
                     f"(data version {mat.data_version})")
    if st.stale:
        lines.append("stale:")
        for c in st.causes:
            lines.append(f"  {c.kind._value_}: {c.detail}")
            for child in c.children[:5]:
                lines.append(f"    {child.kind._value_}: {child.detail}")
    elif mat is not None and state == "materialized":
        lines.append("up to date: every partition it reads has the version it read")
    if mat is not None:
        bad = [i for i in mat.inputs if i.state._value_ != "ok"]
        for i in bad:
            lines.append(f"ran on stale inputs: {format_partitioned_key(i.key, i.partition)} was {i.state._value_}"
                         + (f" ({i.detail})" if i.detail else ""))
    for c in checks:
        lines.append(f"check {c.name} ({c.severity}): {c.state._value_}" + (f": {c.detail}" if c.detail else ""))
    return lines


def detail_document(d: PartitionDetail) -> dict[str, Any]:
    """The ``/api/assets/{key}/partitions/{partition}`` document."""
    return {
        "key": str(d.key),
        "partition": partition_row(d.key, d.definition, d.status),
        "time_window": d.window,
        "why": d.why,
        "upstream": [{"key": str(u.dep), "mapping": u.mapping, "total": u.total, "counts": u.counts,
                      "partitions": [{"address": a, "state": s} for a, s, _h in u.partitions]} for u in d.upstream],
        "materializations": [event_row(e) for e in d.materializations],
        "checks": [check_to_dict(c) for c in d.checks],
        "check_history": {name: [event_row(e) for e in events] for name, events in d.check_history.items()},
        "previous": d.neighbours[0],
        "next": d.neighbours[1],
        "asset_summary": d.asset_status.partitions.summary() if d.asset_status.partitions is not None else None,
        "as_of": iso(d.snapshot.taken_at),
    }
