"""Materialization status and staleness, derived from stored facts (DESIGN.md §2).

Pure: (graph, latest facts) -> status per asset, in one pass in topological order, so
each asset's staleness is decided from its parents' already-decided statuses. Every
stale verdict carries its causes, and an ``upstream_stale`` cause carries the parent's
own causes, so ``why`` can walk down to the root.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized, ErrorInfo, InputState
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.specs import AssetSpec


class MaterializationStatus(StrEnum):
    MISSING = "missing"
    RUNNING = "running"
    FAILED = "failed"
    MATERIALIZED = "materialized"
    # Source assets are observed, never materialized.
    OBSERVED = "observed"
    UNOBSERVED = "unobserved"


class StaleCauseKind(StrEnum):
    CODE_CHANGED = "code_changed"
    UPSTREAM_UPDATED = "upstream_updated"
    UPSTREAM_STALE = "upstream_stale"
    DEPS_CHANGED = "deps_changed"


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
    # visit every path through the DAG, which grows exponentially with depth.
    roots: tuple[StaleCause, ...] = ()

    @property
    def ran_on_stale_inputs(self) -> bool:
        m = self.last_materialization
        return bool(m and m.ran_on_stale_inputs)

    @property
    def input_state(self) -> InputState:
        """How a step reading this asset right now should record it."""
        if self.status in (MaterializationStatus.MISSING,):
            return InputState.MISSING
        if self.status is MaterializationStatus.FAILED:
            return InputState.FAILED
        if self.stale:
            return InputState.STALE
        return InputState.OK

    def root_causes(self) -> list[StaleCause]:
        return list(self.roots)


_EMPTY = AssetFacts(key=AssetKey(("_",)))


def compute_statuses(graph: AssetGraph, facts: Mapping[AssetKey, AssetFacts]) -> dict[AssetKey, AssetStatus]:
    """Status of every asset in the graph, in one topological pass."""
    out: dict[AssetKey, AssetStatus] = {}
    for key in graph.keys:
        out[key] = derive_status(graph.spec(key), facts.get(key), out)
    return out


def derive_status(spec: AssetSpec, fact: AssetFacts | None, parents: Mapping[AssetKey, AssetStatus]) -> AssetStatus:
    """One asset's status given its parents' statuses (which must already be decided)."""
    fact = fact or _EMPTY
    if spec.is_source:
        obs = fact.last_observation
        return AssetStatus(
            key=spec.key,
            status=MaterializationStatus.OBSERVED if obs else MaterializationStatus.UNOBSERVED,
            is_source=True,
            data_version=obs.data_version if obs else None,
            data_time=obs.data_time if obs else None,
            last_updated_at=obs.timestamp if obs else None,
            last_run_id=obs.run_id if obs else None,
        )
    mat = fact.last_materialization
    attempt = fact.last_attempt_status
    if attempt is AttemptStatus.RUNNING:
        status = MaterializationStatus.RUNNING
    elif attempt in (AttemptStatus.FAILED, AttemptStatus.SKIPPED) and _attempt_after(fact, mat):
        status = MaterializationStatus.FAILED if attempt is AttemptStatus.FAILED else _base(mat)
    else:
        status = _base(mat)
    causes = _stale_causes(spec, mat, parents) if mat is not None else ()
    return AssetStatus(
        key=spec.key,
        status=status,
        stale=bool(causes),
        causes=causes,
        code_version=spec.code_version,
        last_materialization=mat,
        data_version=mat.data_version if mat else None,
        data_time=mat.data_time if mat else None,
        last_updated_at=mat.timestamp if mat else None,
        last_run_id=mat.run_id if mat else None,
        last_attempt_run_id=fact.last_attempt_run_id,
        failure=fact.last_failure if status is MaterializationStatus.FAILED else None,
        roots=_roots(causes, parents) if causes else (),
    )


def _roots(causes: tuple[StaleCause, ...], parents: Mapping[AssetKey, AssetStatus]) -> tuple[StaleCause, ...]:
    found: dict[int, StaleCause] = {}
    for c in causes:
        if c.kind is StaleCauseKind.UPSTREAM_STALE and c.dep is not None and c.dep in parents:
            for r in parents[c.dep].roots:
                found.setdefault(id(r), r)
        else:
            found.setdefault(id(c), c)
    return tuple(found.values())


def _base(mat: AssetMaterialized | None) -> MaterializationStatus:
    return MaterializationStatus.MATERIALIZED if mat is not None else MaterializationStatus.MISSING


def _attempt_after(fact: AssetFacts, mat: AssetMaterialized | None) -> bool:
    if mat is None:
        return True
    return fact.last_attempt_at is not None and fact.last_attempt_at >= mat.timestamp


def _stale_causes(spec: AssetSpec, mat: AssetMaterialized,
                  parents: Mapping[AssetKey, AssetStatus]) -> tuple[StaleCause, ...]:
    causes: list[StaleCause] = []
    if spec.code_version != mat.code_version:
        causes.append(StaleCause(
            StaleCauseKind.CODE_CHANGED, spec.key,
            detail=f"code version changed from {_v(mat.code_version)} to {_v(spec.code_version)}"))
    declared = spec.deps
    recorded = mat.deps
    if declared != recorded and set(declared) != set(recorded):
        added = [str(k) for k in declared if k not in recorded]
        removed = [str(k) for k in recorded if k not in declared]
        parts = []
        if added:
            parts.append("added " + ", ".join(added))
        if removed:
            parts.append("removed " + ", ".join(removed))
        causes.append(StaleCause(StaleCauseKind.DEPS_CHANGED, spec.key,
                                 detail="declared upstream assets changed: " + "; ".join(parts)))
    read = {i.key: i for i in mat.inputs}
    for dep in declared:
        parent = parents.get(dep)
        rec = read.get(dep)
        if parent is None or rec is None:
            continue
        if parent.data_version is not None and parent.data_version != rec.data_version:
            verb = "observed" if parent.is_source else "materialized"
            causes.append(StaleCause(
                StaleCauseKind.UPSTREAM_UPDATED, spec.key, dep,
                detail=f"{dep} has a new data version {parent.data_version} ({verb} in run "
                       f"{parent.last_run_id or '-'}); {spec.key} read {_v(rec.data_version)}"))
        if parent.stale:
            causes.append(StaleCause(StaleCauseKind.UPSTREAM_STALE, spec.key, dep,
                                     detail=f"{dep} is stale", children=parent.causes))
    return tuple(causes)


def _v(version: str | None) -> str:
    return repr(version) if version is not None else "none"
