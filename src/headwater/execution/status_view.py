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
from headwater.core.status import AssetStatus, PartitionInputs, _derive_aware, compute_statuses, derive_status
from headwater.gc_pause import paused_gc


class StatusView:
    def __init__(self, graph: AssetGraph, facts: Mapping[AssetKey, AssetFacts],
                 partitions: PartitionInputs | None = None) -> None:
        self._graph = graph
        self._facts = dict(facts)
        # Partition facts are copied per asset when a run records into them (copy on write).
        self._partitions = partitions
        self._pfacts: dict[AssetKey, dict[str, AssetFacts]] = {}
        # Each partitioned asset's previous derivation: recording one partition re-derives that
        # partition (and what reads it), not all of them.
        self._memo: dict[AssetKey, object] = {}
        # Tens of thousands of small frozen objects: the cyclic GC would rescan them over and
        # over for nothing (none of them form cycles), doubling the time of a cold status.
        with paused_gc():
            self._status: dict[AssetKey, AssetStatus] = compute_statuses(graph, self._facts, partitions, self._memo)
        self._dirty: set[AssetKey] = set()

    def all(self) -> dict[AssetKey, AssetStatus]:
        for key in list(self._dirty):
            if key in self._dirty:
                self._refresh(key)
        return self._status

    def facts(self, key: AssetKey, partition: str = "") -> AssetFacts | None:
        if partition:
            return self._partition_facts(key).get(partition)
        return self._facts.get(key)

    @property
    def partition_inputs(self) -> PartitionInputs | None:
        return self._partitions

    def partition_status(self, key: AssetKey, partition: str) -> AssetStatus:
        """One partition's status ('' for an unpartitioned asset: its own status)."""
        status = self.status(key)
        if not partition or status.partitions is None:
            return status
        found = status.partitions.statuses.get(partition)
        if found is None:
            raise KeyError(f"{key}[{partition}]")
        return found

    def _partition_facts(self, key: AssetKey) -> dict[str, AssetFacts]:
        own = self._pfacts.get(key)
        if own is None:
            stored = self._partitions.facts.get(key) if self._partitions is not None else None
            own = self._pfacts[key] = dict(stored or {})
        return own

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
        aware = self._graph.partition_aware
        for k in self._graph.toposorted(order):
            if k in aware:
                self._status[k] = _derive_aware(self._graph, k, self._facts, self._current_partitions(), self._status,
                                                self._memo)  # type: ignore[arg-type]
            else:
                self._status[k] = derive_status(self._graph.spec(k), self._facts.get(k), self._status)
            self._dirty.discard(k)

    def _current_partitions(self) -> PartitionInputs | None:
        if self._partitions is None or not self._pfacts:
            return self._partitions
        merged = {**self._partitions.facts, **self._pfacts}
        return PartitionInputs(merged, self._partitions.ctx)

    def _changing_partition_facts(self, key: AssetKey) -> dict[str, AssetFacts]:
        """A new mapping of ``key``'s partition facts, to record into: the previous derivation
        keeps the one it read, and a mapping that is the same object means unchanged facts."""
        own = self._pfacts[key] = dict(self._partition_facts(key))
        return own

    def record(self, mat: AssetMaterialized) -> None:
        facts = self._changing_partition_facts(mat.key) if mat.partition else self._facts
        at = mat.partition if mat.partition else mat.key
        prior = facts.get(at) or AssetFacts(key=mat.key, partition=mat.partition)  # type: ignore[call-overload]
        facts[at] = replace(prior, last_materialization=mat, last_attempt_run_id=mat.run_id,  # type: ignore[index]
                            last_attempt_status=AttemptStatus.SUCCEEDED, last_attempt_at=mat.timestamp,
                            last_failure=None)
        self._invalidate(mat.key)

    def record_failure(self, key: AssetKey, run_id: str, at: float, partitions: tuple[str, ...] = ()) -> None:
        for partition in partitions or ("",):
            facts = self._changing_partition_facts(key) if partition else self._facts
            slot = partition if partition else key
            prior = facts.get(slot) or AssetFacts(key=key, partition=partition)  # type: ignore[call-overload]
            facts[slot] = replace(prior, last_attempt_run_id=run_id,  # type: ignore[index]
                                  last_attempt_status=AttemptStatus.FAILED, last_attempt_at=at)
        self._invalidate(key)

    def _invalidate(self, key: AssetKey) -> None:
        stack = [key]
        self._dirty.add(key)
        while stack:
            for child in self._graph.children(stack.pop()):
                if child not in self._dirty:
                    self._dirty.add(child)
                    stack.append(child)
