"""Materialization status and staleness, derived from stored facts (docs/design.md §2).

Pure: (graph, latest facts) -> status per asset, in one pass in topological order, so
each asset's staleness is decided from its parents' already-decided statuses. Every
stale verdict carries its causes, and an ``upstream_stale`` cause carries the parent's
own causes, so ``why`` can walk down to the root.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, overload

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized, ErrorInfo, InputState
from headwater.core.keys import AssetKey, known_key
from headwater.core.materialization_summary import SummarizedMaterialization
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.specs import AssetSpec


class MaterializationStatus(StrEnum):
    MISSING = "missing"
    RUNNING = "running"
    FAILED = "failed"
    # The latest attempt after the latest success was skipped: something upstream of it failed
    # in that run (or the run was canceled). Its own state, not "missing" nor "failed": the
    # asset did nothing wrong, and ``failure`` says why it was skipped.
    SKIPPED = "skipped"
    MATERIALIZED = "materialized"
    # Source assets are observed, never materialized.
    OBSERVED = "observed"
    UNOBSERVED = "unobserved"


class StaleCauseKind(StrEnum):
    CODE_CHANGED = "code_changed"
    UPSTREAM_UPDATED = "upstream_updated"
    UPSTREAM_STALE = "upstream_stale"
    DEPS_CHANGED = "deps_changed"


@dataclass(slots=True, unsafe_hash=True)  # a derived value, not frozen: see AssetStatus
class StaleCause:
    kind: StaleCauseKind
    key: AssetKey
    dep: AssetKey | None = None
    detail: str = ""
    children: tuple[StaleCause, ...] = ()

    def roots(self) -> list[StaleCause]:
        """The causes at the bottom of the chain (code changed, upstream updated, deps changed)."""
        if self.kind is not StaleCauseKind.UPSTREAM_STALE or not self.children:
            return [self]
        out: list[StaleCause] = []
        for child in self.children:
            out.extend(child.roots())
        return out


# A derived result, rebuilt for every asset on every read: not frozen, because a frozen
# dataclass's __init__ (object.__setattr__ per field) costs five times a plain one's, a
# fifth of a 10,000-asset health read. Nothing mutates it; treat it as a value.
@dataclass(slots=True, unsafe_hash=True)
class AssetStatus:
    key: AssetKey
    status: MaterializationStatus
    stale: bool = False
    causes: tuple[StaleCause, ...] = ()
    is_source: bool = False
    code_version: str | None = None
    last_materialization: AssetMaterialized | None = None
    data_version: str | None = None
    data_time: float | None = None
    last_updated_at: float | None = None  # materialized (or, for a source, observed) at
    last_run_id: str | None = None
    last_attempt_run_id: str | None = None
    failure: ErrorInfo | None = None
    # Root causes, derived once from the parents' roots: walking the cause tree instead would
    # visit every path through the DAG, which grows exponentially with depth. ``derive_status``
    # leaves a ``_LazyRoots``, derived on first use and kept: most reads of a whole graph's
    # status never look, and deriving every asset's roots costs as much as the rest of the
    # status together (their total size grows with the depth of the graph).
    roots: Sequence[StaleCause] = ()
    # A partitioned asset's roll-up carries its partitions (``core.partition_status``); a
    # partition's own status says which one it is.
    partitions: Any = None
    partition: str = ""

    @property
    def ran_on_stale_inputs(self) -> bool:
        m = self.last_materialization
        return bool(m and m.ran_on_stale_inputs)

    @property
    def input_state(self) -> InputState:
        """How a step reading this asset right now should record it."""
        if self.status is MaterializationStatus.MISSING or (
                self.status is MaterializationStatus.SKIPPED and self.last_materialization is None):
            return InputState.MISSING
        if self.status is MaterializationStatus.FAILED:
            return InputState.FAILED
        if self.stale:
            return InputState.STALE
        return InputState.OK

    def root_causes(self) -> list[StaleCause]:
        return list(self.roots)

    def roots_summary(self) -> str:
        """What a stale asset's health reason says of its root causes: a lone one with its
        detail (``"raw: code version changed from '1' to '2'"``), else the assets of the first
        ``SUMMARY_ROOTS`` by kind and where to read the rest (``"code of raw changed; upstream
        orders updated (headwater why revenue)"``). Kept with the lazy roots, so a status that
        ``StatusPass`` keeps is not summarized again on the next read."""
        roots = self.roots
        if type(roots) is _LazyRoots:
            if roots._summary is None:
                roots._summary = _summarize(self.key, roots[:SUMMARY_ROOTS + 1])
            return roots._summary
        return _summarize(self.key, tuple(roots[:SUMMARY_ROOTS + 1]))

    def forget_summary(self) -> None:
        """Drop the ``roots_summary`` kept for the next read: a reader that reads each once
        (``status`` rows written one at a time) would otherwise keep ~100 bytes per stale
        asset, 10 MB at 100,000 assets. Derived again if asked."""
        roots = self.roots
        if type(roots) is _LazyRoots:
            roots._summary = None


SUMMARY_ROOTS = 3
"""How many root causes a stale asset's health reason (and its ``status --json`` row) names:
deep in a much-rebuilt graph an asset has hundreds, and naming a few keeps every row a few
hundred bytes; ``headwater why`` gives them all, in words."""


def _summarize(key: AssetKey, first: tuple[StaleCause, ...]) -> str:
    if len(first) == 1:  # the usual on a small project, and its detail is what one wants to read
        return f"{first[0].key._str}: {first[0].detail}"
    named: dict[StaleCauseKind, list[str]] = {}  # by kind, in the order met
    for r in first[:SUMMARY_ROOTS]:
        names = named.setdefault(r.kind, [])
        name = r.dep._str if r.dep is not None and r.kind in _THROUGH_DEP else r.key._str
        if name not in names:
            names.append(name)
    text = "; ".join([_WORDS[kind].format(", ".join(names)) for kind, names in named.items()])
    return text + (", and more" if len(first) > SUMMARY_ROOTS else "") + f" (headwater why {key._str})"


_THROUGH_DEP = (StaleCauseKind.UPSTREAM_UPDATED, StaleCauseKind.UPSTREAM_STALE)
_WORDS = {StaleCauseKind.CODE_CHANGED: "code of {} changed",
          StaleCauseKind.DEPS_CHANGED: "declared upstream assets of {} changed",
          StaleCauseKind.UPSTREAM_UPDATED: "upstream {} updated",
          StaleCauseKind.UPSTREAM_STALE: "upstream {} stale"}


HEAD = 6
"""How many root causes ``roots[:n]`` (n <= HEAD) derives without deriving them all."""


class _LazyRoots(Sequence[StaleCause]):
    """The root causes of one stale status as a sequence that is derived when first read:
    from its own causes and its stale parents' roots (the parents' statuses as they were
    when it was derived). Each source is either a root cause or the status of the stale
    parent a cause came through."""

    __slots__ = ("_sources", "_value", "_head", "_summary")

    def __init__(self, sources: tuple[StaleCause | AssetStatus, ...]) -> None:
        self._sources = sources
        self._value: tuple[StaleCause, ...] | None = None
        self._head: tuple[StaleCause, ...] | None = None  # the first HEAD roots, if only those were asked
        self._summary: str | None = None  # see AssetStatus.roots_summary

    def head(self) -> tuple[StaleCause, ...]:
        """The first ``HEAD`` roots, without deriving the rest: they are the first ``HEAD``
        distinct ones among the sources' own first ``HEAD`` (a root further down a source's
        list has ``HEAD`` distinct roots before it), so a graph's heads cost a few steps per
        asset where all roots cost their total size."""
        if self._value is not None:
            return self._value[:HEAD]
        head = self._head
        if head is None:
            # Read upstream first (status rows), every stale parent's head is known: one step.
            head = self._derive_head()
            if head is None:
                stack: list[_LazyRoots] = [self]
                while stack:
                    top = stack[-1]
                    if top._head is not None or top._value is not None:
                        stack.pop()
                        continue
                    pending = [s.roots for s in top._sources if type(s) is AssetStatus
                               and type(s.roots) is _LazyRoots and s.roots._head is None
                               and s.roots._value is None]
                    if pending:
                        stack.extend(pending)  # type: ignore[arg-type]
                        continue
                    stack.pop()
                    top._head = top._derive_head()
                return self._head  # type: ignore[return-value]
            self._head = head
        return head

    def _derive_head(self) -> tuple[StaleCause, ...] | None:
        """None while the head of a stale parent it needs is not derived yet."""
        found: dict[int, StaleCause] = {}
        for source in self._sources:
            if type(source) is AssetStatus:
                roots = source.roots
                if type(roots) is _LazyRoots:
                    first = roots._value[:HEAD] if roots._value is not None else roots._head  # type: ignore[attr-defined]
                    if first is None:
                        return None
                else:
                    first = roots[:HEAD]
                for r in first:
                    found.setdefault(id(r), r)
                    if len(found) == HEAD:
                        return tuple(found.values())
            else:
                found.setdefault(id(source), source)  # type: ignore[arg-type]
                if len(found) == HEAD:
                    return tuple(found.values())
        return tuple(found.values())

    def _get(self) -> tuple[StaleCause, ...]:
        if self._value is None:
            # Parents first, without recursion (a graph may be thousands of levels deep).
            stack: list[_LazyRoots] = [self]
            while stack:
                top = stack[-1]
                if top._value is not None:
                    stack.pop()
                    continue
                pending = [s.roots for s in top._sources if type(s) is AssetStatus
                           and type(s.roots) is _LazyRoots and s.roots._value is None]
                if pending:
                    stack.extend(pending)  # type: ignore[arg-type]
                    continue
                stack.pop()
                top._value = top._derive()
        return self._value  # type: ignore[return-value]

    def _derive(self) -> tuple[StaleCause, ...]:
        found: dict[int, StaleCause] = {}
        for source in self._sources:
            if type(source) is AssetStatus:
                roots = source.roots
                for r in roots._get() if type(roots) is _LazyRoots else roots:  # type: ignore[attr-defined]
                    found.setdefault(id(r), r)
            else:
                found.setdefault(id(source), source)  # type: ignore[arg-type]
        return tuple(found.values())

    def __len__(self) -> int:
        return len(self._get())

    @overload
    def __getitem__(self, index: int) -> StaleCause: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[StaleCause, ...]: ...

    def __getitem__(self, index: int | slice) -> StaleCause | tuple[StaleCause, ...]:
        if (type(index) is slice and self._value is None and not index.start and index.step is None
                and index.stop is not None and 0 <= index.stop <= HEAD):
            return self.head()[index]  # roots[:n]: the first few, not all of them
        return self._get()[index]

    def __iter__(self) -> Iterator[StaleCause]:
        return iter(self._get())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, _LazyRoots)):
            return self._get() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


_EMPTY = AssetFacts(key=AssetKey(("_",)))


@dataclass(frozen=True, slots=True)
class PartitionInputs:
    """What partition-aware assets need besides the unpartitioned facts: every stored
    partition's facts, and the context (clock, dynamic keys) that says which keys exist."""

    facts: Mapping[AssetKey, Mapping[str, AssetFacts]]
    ctx: Any  # core.partitions.PartitionContext


def compute_statuses(graph: AssetGraph, facts: Mapping[AssetKey, AssetFacts],
                     partitions: PartitionInputs | None = None,
                     memo: dict[AssetKey, Any] | None = None,
                     only: Collection[AssetKey] | None = None) -> dict[AssetKey, AssetStatus]:
    """Status of every asset in the graph, in one topological pass (``memo``: where partitioned
    assets keep their derivation for the next pass, see ``core.partition_status``). ``only``:
    of these alone, which must hold their ancestors (a status reads its parents')."""
    out: dict[AssetKey, AssetStatus] = {}
    aware = graph.partition_aware
    for key in graph.keys if only is None else [k for k in graph.keys if k in only]:
        if key in aware:
            out[key] = _derive_aware(graph, key, facts, partitions, out, memo)
        else:
            out[key] = derive_status(graph.spec(key), facts.get(key), out)
    return out


def _derive_aware(graph: AssetGraph, key: AssetKey, facts: Mapping[AssetKey, AssetFacts],
                  partitions: PartitionInputs | None, out: Mapping[AssetKey, AssetStatus],
                  memo: dict[AssetKey, Any] | None = None) -> AssetStatus:
    from headwater.core.partition_status import derive_partitioned  # builds on this module

    if partitions is None:
        raise ValueError(f"asset {key} is partitioned (or reads a partitioned asset): its status needs the "
                         "partitions' facts and a partition context")
    return derive_partitioned(graph, graph.spec(key), partitions.facts.get(key) or _NO_PARTITIONS, facts.get(key),
                              out, partitions.ctx, memo)


_NO_PARTITIONS: Mapping[str, AssetFacts] = {}


class StatusPass:
    """Status of every asset of a graph, re-derived only where its inputs changed.

    The store hands back the very same fact objects for assets whose stored state did not
    change since its previous read (it keeps what it decoded). An asset whose facts are the
    same object as on the previous pass, whose spec is too (same definitions), and whose
    parents all kept their statuses, would be derived to an equal status: it keeps its
    previous one, with the root causes already derived for it. Exact, not a cache with an
    expiry: anything that can change a status changes one of those identities. Holds the
    last pass only; safe to share between threads (a pass swaps in one tuple).
    """

    __slots__ = ("_last", "_partitions")

    def __init__(self) -> None:
        self._last: tuple[Mapping[AssetKey, AssetFacts], dict[AssetKey, tuple[AssetSpec, AssetStatus]]] = ({}, {})
        self._partitions: dict[AssetKey, Any] = {}  # partition-aware assets' previous passes

    def compute(self, graph: AssetGraph, facts: Mapping[AssetKey, AssetFacts],
                partitions: PartitionInputs | None = None) -> dict[AssetKey, AssetStatus]:
        old_facts, old = self._last
        out: dict[AssetKey, AssetStatus] = {}
        kept: dict[AssetKey, tuple[AssetSpec, AssetStatus]] = {}
        spec_of = graph.spec
        aware = graph.partition_aware
        for key in graph.keys:
            spec = spec_of(key)
            fact = facts.get(key)
            previous = old.get(key)
            if key in aware:
                status = _derive_aware(graph, key, facts, partitions, out, self._partitions)
            elif (previous is not None and previous[0] is spec and old_facts.get(key) is fact
                    and all(out.get(d) is _status_of(old.get(d)) for d in spec.deps)):
                status = previous[1]
            else:
                status = derive_status(spec, fact, out)
            out[key] = status
            kept[key] = (spec, status)
        self._last = (facts, kept)
        return out


def _status_of(entry: tuple[AssetSpec, AssetStatus] | None) -> AssetStatus | None:
    return entry[1] if entry is not None else None


def derive_status(spec: AssetSpec, fact: AssetFacts | None, parents: Mapping[AssetKey, AssetStatus]) -> AssetStatus:
    """One asset's status given its parents' statuses (which must already be decided)."""
    # Positional construction below, in AssetStatus's field order: this runs once per asset
    # of the graph on every status read, and keyword calls cost a third more.
    fact = fact or _EMPTY
    if spec.is_source:
        obs = fact.last_observation
        if obs is None:
            return AssetStatus(spec.key, MaterializationStatus.UNOBSERVED, False, (), True)
        return AssetStatus(spec.key, MaterializationStatus.OBSERVED, False, (), True, None, None, obs.data_version,
                           obs.data_time, obs.timestamp, obs.run_id)
    mat = fact.last_materialization
    attempt = fact.last_attempt_status
    if attempt is AttemptStatus.RUNNING:
        status = MaterializationStatus.RUNNING
    elif attempt in (AttemptStatus.FAILED, AttemptStatus.SKIPPED) and _attempt_after(fact, mat):
        status = MaterializationStatus.FAILED if attempt is AttemptStatus.FAILED else MaterializationStatus.SKIPPED
    else:
        status = _base(mat)
    failure = fact.last_failure if status is MaterializationStatus.FAILED or status is _SKIPPED else None
    if mat is None:
        return AssetStatus(spec.key, status, False, (), False, spec.code_version, None, None, None, None, None,
                           fact.last_attempt_run_id, failure)
    causes = _stale_causes(spec, mat, parents)
    return AssetStatus(spec.key, status, bool(causes), causes, False, spec.code_version, mat, mat.data_version,
                       mat.data_time, mat.timestamp, mat.run_id, fact.last_attempt_run_id, failure,
                       _LazyRoots(_root_sources(causes, parents)) if causes else ())


def _root_sources(causes: tuple[StaleCause, ...],
                  parents: Mapping[AssetKey, AssetStatus]) -> tuple[StaleCause | AssetStatus, ...]:
    """Each cause, or for one that came through a stale parent, that parent's status."""
    return tuple(parents[c.dep] if c.kind is StaleCauseKind.UPSTREAM_STALE and c.dep is not None
                 and c.dep in parents else c for c in causes)


_SKIPPED = MaterializationStatus.SKIPPED


def _base(mat: AssetMaterialized | None) -> MaterializationStatus:
    return MaterializationStatus.MATERIALIZED if mat is not None else MaterializationStatus.MISSING


def _attempt_after(fact: AssetFacts, mat: AssetMaterialized | None) -> bool:
    if mat is None:
        return True
    return fact.last_attempt_at is not None and fact.last_attempt_at >= mat.timestamp


_NO_CAUSES: tuple[StaleCause, ...] = ()
# "``dep`` is stale", one text per stale parent shared by all its children's causes (160,000
# causes at 100,000 assets: 7 MB held once instead of 12 MB).
_IS_STALE: dict[AssetKey, str] = {}


def _stale_causes(spec: AssetSpec, mat: AssetMaterialized,
                  parents: Mapping[AssetKey, AssetStatus]) -> tuple[StaleCause, ...]:
    causes, inputs = own_causes(spec, mat)
    for dep, read in inputs:
        parent = parents.get(dep)
        if parent is None:
            continue
        version = parent.data_version
        if version is not None and version != read:
            verb = "observed" if parent.is_source else "materialized"
            causes = causes or []
            causes.append(StaleCause(
                StaleCauseKind.UPSTREAM_UPDATED, spec.key, dep,
                f"{dep._str} has a new data version {version} ({verb} in run "
                f"{parent.last_run_id or '-'}); {spec.key._str} read {_v(read)}"))
        if parent.stale:
            causes = causes or []
            text = _IS_STALE.get(dep)
            if text is None:
                if len(_IS_STALE) >= 200_000:
                    _IS_STALE.clear()
                text = _IS_STALE[dep] = f"{dep._str} is stale"
            causes.append(StaleCause(StaleCauseKind.UPSTREAM_STALE, spec.key, dep, text, parent.causes))
    return tuple(causes) if causes else _NO_CAUSES


def recorded_inputs(mat: AssetMaterialized) -> list[tuple[AssetKey, str | None]]:
    """``(key, data version)`` of every input ``mat`` recorded, in recorded order: from the
    summary columns when the store gave a summary (``core.materialization_summary``: no
    event decoded), else from the event."""
    if type(mat) is SummarizedMaterialization:
        known = known_key  # interned keys: one lookup for a key already known, no call
        return [(known(i[0]) or _key(i[0]), i[2]) for i in mat.input_versions()]
    return [(i.key, i.data_version) for i in mat.inputs]


_key = AssetKey.parse  # interned: a dict lookup for a key already known


def own_causes(spec: AssetSpec, mat: AssetMaterialized
               ) -> tuple[list[StaleCause] | None, Sequence[tuple[AssetKey, str | None]]]:
    """The causes that need no parent (code changed, declared deps changed), and the
    recorded inputs that still matter, as ``(key, data version read)``: those of deps still
    declared, in declared order."""
    causes: list[StaleCause] | None = None
    if spec.code_version != mat.code_version:
        causes = [StaleCause(
            StaleCauseKind.CODE_CHANGED, spec.key,
            detail=f"code version changed from {_v(mat.code_version)} to {_v(spec.code_version)}")]
    declared = spec.deps
    inputs: Sequence[tuple[AssetKey, str | None]] = recorded_inputs(mat)
    if declared != mat.deps:
        recorded = mat.deps
        if set(declared) != set(recorded):
            added = [str(k) for k in declared if k not in recorded]
            removed = [str(k) for k in recorded if k not in declared]
            parts = []
            if added:
                parts.append("added " + ", ".join(added))
            if removed:
                parts.append("removed " + ", ".join(removed))
            causes = causes or []
            causes.append(StaleCause(StaleCauseKind.DEPS_CHANGED, spec.key,
                                     detail="declared upstream assets changed: " + "; ".join(parts)))
        read = dict(inputs)  # the last input read of a key, as for events
        inputs = [(d, read[d]) for d in declared if d in read]
    # else every recorded input is one of the declared deps, recorded in their order.
    return causes, inputs


def bad_inputs(mat: AssetMaterialized, shown: int = 3) -> list[str]:
    """The inputs a materialization read while they were missing, failed or stale, one line
    per upstream asset and state: ``sales (missing): 2026-11-27|eu, 2026-11-27|us, … (18 partitions)``."""
    grouped: dict[tuple[str, str], list[str]] = {}
    if type(mat) is SummarizedMaterialization:  # from the summary columns: no event decoded
        for item in mat.input_versions():
            if len(item) > 3:  # a state is recorded only when it was not ok
                grouped.setdefault((item[0], item[3]), []).append(item[1])
    else:
        for i in mat.inputs:
            if i.state is not InputState.OK:
                grouped.setdefault((i.key._str, i.state.value), []).append(i.partition)
    out = []
    for (key, state), partitions in grouped.items():
        parts = [p for p in partitions if p]
        if not parts:
            out.append(f"{key} ({state})")  # `why` gives the detail; a health reason stays short
            continue
        more = f", … ({len(parts)} partitions)" if len(parts) > shown else ""
        out.append(f"{key} ({state}): " + ", ".join(parts[:shown]) + more)
    return out


def _v(version: str | None) -> str:
    return repr(version) if version is not None else "none"
