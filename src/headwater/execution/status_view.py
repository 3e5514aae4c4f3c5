"""Statuses kept current in memory while a run progresses.

The coordinator must know, when it dispatches a step, the state of every input at that
moment ("ran on stale inputs"). Re-reading the store and recomputing the whole graph per
step would be quadratic, so this view applies each new materialization to its cached
facts and lazily re-derives only the assets downstream of what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.status import AssetStatus, compute_statuses, derive_status
from headwater.gc_pause import paused_gc


class StatusView:
    def __init__(self, graph: AssetGraph, facts: Mapping[AssetKey, AssetFacts]) -> None:
        self._graph = graph
        self._facts = dict(facts)
        # Tens of thousands of small frozen objects: the cyclic GC would rescan them over and
        # over for nothing (none of them form cycles), doubling the time of a cold status.
        with paused_gc():
            self._status: dict[AssetKey, AssetStatus] = compute_statuses(graph, self._facts)
        self._dirty: set[AssetKey] = set()

    def all(self) -> dict[AssetKey, AssetStatus]:
        for key in list(self._dirty):
            if key in self._dirty:
                self._refresh(key)
        return self._status

    def facts(self, key: AssetKey) -> AssetFacts | None:
        return self._facts.get(key)

    def status(self, key: AssetKey) -> AssetStatus:
        if key in self._dirty:
            self._refresh(key)
        return self._status[key]

    def _refresh(self, key: AssetKey) -> None:
        # Iterative in topological order: parents first, without deep recursion.
        order = [key]
        stack = [key]
        seen = {key}
        while stack:
            for parent in self._graph.parents(stack.pop()):
                if parent in self._dirty and parent not in seen:
                    seen.add(parent)
                    order.append(parent)
                    stack.append(parent)
        for k in self._graph.toposorted(order):
            self._status[k] = derive_status(self._graph.spec(k), self._facts.get(k), self._status)
            self._dirty.discard(k)

    def record(self, mat: AssetMaterialized) -> None:
        prior = self._facts.get(mat.key) or AssetFacts(key=mat.key)
        self._facts[mat.key] = replace(prior, last_materialization=mat, last_attempt_run_id=mat.run_id,
                                       last_attempt_status=AttemptStatus.SUCCEEDED,
                                       last_attempt_at=mat.timestamp, last_failure=None)
        self._invalidate(mat.key)

    def record_failure(self, key: AssetKey, run_id: str, at: float) -> None:
        prior = self._facts.get(key) or AssetFacts(key=key)
        self._facts[key] = replace(prior, last_attempt_run_id=run_id, last_attempt_status=AttemptStatus.FAILED,
                                   last_attempt_at=at)
        self._invalidate(key)

    def _invalidate(self, key: AssetKey) -> None:
        stack = [key]
        self._dirty.add(key)
        while stack:
            for child in self._graph.children(stack.pop()):
                if child not in self._dirty:
                    self._dirty.add(child)
                    stack.append(child)
