"""What ``Instance`` answers about partitions: which keys exist now, every partition's facts
for the status pass, the targets of a run, and the keys of dynamic partitions.

A mixin, like ``AutomationViews``, so ``Instance`` stays a thin facade: this module owns the
partition concern and reaches the store and the clock through the instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from headwater.core.backfills import TARGETS_TAG  # JSON {asset: [partitions]}: exactly these
from headwater.core.events import CheckEvaluated, DynamicPartitionsChanged
from headwater.core.keys import AssetKey, CoercibleToKey, to_key
from headwater.core.partition_status import PartitionSet
from headwater.core.partitions import (
    DynamicPartitions,
    MultiPartitions,
    PartitionContext,
    PartitionError,
    PartitionsDefinition,
    parse_partitioned_key,
)
from headwater.core.records import RunRecord
from headwater.core.status import AssetStatus, PartitionInputs
from headwater.definitions.definitions import Definitions
from headwater.errors import HeadwaterError, UnknownKeyError
from headwater.execution.partition_plan import PartitionTargets

if TYPE_CHECKING:
    from collections.abc import Callable

    from headwater.storage.interfaces import EventStore

# Run tags that carry a run's partitions, so a queued run (daemon, UI, backfill) is planned
# by its worker exactly as it was asked.
PARTITION_TAG = "headwater/partition"
RANGE_START_TAG = "headwater/partition_range_start"
RANGE_END_TAG = "headwater/partition_range_end"


def _uses_dynamic(d: PartitionsDefinition | None) -> bool:
    if isinstance(d, DynamicPartitions):
        return True
    return isinstance(d, MultiPartitions) and any(isinstance(s, DynamicPartitions) for _n, s in d.dims)


class PartitionViews:
    store: EventStore
    clock: Callable[[], float]

    def partition_context(self, defs: Definitions) -> PartitionContext:
        """The keys that exist now: the clock, and the dynamic keys in the store."""
        dynamic = (self.store.dynamic_partitions()
                   if any(_uses_dynamic(defs.graph.spec(k).partitions) for k in defs.graph.partitioned) else {})
        return PartitionContext(self.clock(), dynamic)

    def partition_inputs(self, defs: Definitions, ctx: PartitionContext | None = None) -> PartitionInputs | None:
        """Every stored partition's facts, for the status of partition-aware assets."""
        graph = defs.graph
        if not graph.partition_aware:
            return None
        return PartitionInputs(self.store.partition_facts(graph.partitioned), ctx or self.partition_context(defs))

    def partition_targets(self, defs: Definitions, partition: str | Sequence[str] | None = None,
                          start: str | None = None, end: str | None = None, *,
                          exact: dict[AssetKey, tuple[str, ...]] | None = None, follow_mappings: bool = False,
                          ctx: PartitionContext | None = None) -> PartitionTargets:
        keys = (partition,) if isinstance(partition, str) else tuple(partition or ())
        return PartitionTargets(ctx or self.partition_context(defs), tuple(k.strip() for k in keys),
                                start or None, end or None, exact or {}, follow_mappings)

    def partition_set(self, defs: Definitions, key: CoercibleToKey) -> tuple[AssetStatus, PartitionSet]:
        """A partitioned asset's roll-up and every partition's status."""
        k = to_key(key)
        if k not in defs.graph:
            raise UnknownKeyError(str(k), "your request", "no asset has this key")
        status = self.statuses(defs)[k]  # type: ignore[attr-defined]
        if status.partitions is None:
            raise HeadwaterError(f"asset {k} is not partitioned")
        return status, status.partitions

    def partition_status(self, defs: Definitions, address: str) -> AssetStatus:
        """The status of ``asset[partition]`` (or of an unpartitioned asset)."""
        text, partition = parse_partitioned_key(address)
        key = to_key(text)
        if key not in defs.graph:
            raise UnknownKeyError(str(key), "your request", "no asset has this key")
        status = self.statuses(defs)[key]  # type: ignore[attr-defined]
        if partition is None:
            return status
        d = defs.graph.spec(key).partitions
        if d is None:
            raise PartitionError(f"asset {key} is not partitioned; address it as {key}")
        if status.partitions is None or partition not in status.partitions.statuses:
            d.validate_key(partition, self.partition_context(defs), key)
        return status.partitions.statuses[partition]  # type: ignore[union-attr]

    def with_partition_checks(self, defs: Definitions, statuses: Mapping[AssetKey, AssetStatus],
                              results: Mapping[AssetKey, Mapping[str, CheckEvaluated]]
                              ) -> Mapping[AssetKey, Mapping[str, CheckEvaluated]]:
        """Check results as health reads them: a partitioned asset's checks are those of its
        newest materialized partition (each partition's own are in ``why 'asset[p]'``)."""
        wanted: dict[str, list[AssetKey]] = {}
        for key in defs.graph.partitioned:
            mat = statuses[key].last_materialization if key in statuses else None
            if mat is not None and defs.checks_for(key):
                wanted.setdefault(mat.partition, []).append(key)
        if not wanted:
            return results
        merged = dict(results)
        for partition, keys in wanted.items():
            found = self.store.latest_check_results(partition)
            for key in keys:
                if key in found:
                    merged[key] = found[key]
        return merged

    @staticmethod
    def _backfill_exact(run: RunRecord) -> dict[AssetKey, tuple[str, ...]]:
        """The exact partitions per asset a queued run was planned with, if it says so."""
        text = run.tags.get(TARGETS_TAG)
        if not text:
            return {}
        import json

        return {to_key(k): tuple(v) for k, v in json.loads(text).items()}

    def why_partition(self, defs: Definitions, address: str) -> list[str]:
        """``why 'sales[2026-03-04|eu]'``: one partition's state, causes and checks in words."""
        from headwater.core.explain import explain_status, format_time

        status = self.partition_status(defs, address)
        statuses = self.statuses(defs)  # type: ignore[attr-defined]
        lines = explain_status(status, statuses)
        if status.failure is not None and status.status.value != "failed":
            lines.append(f"its latest attempt (run {status.last_attempt_run_id}) was skipped: {status.failure.message}")
        results = self.store.latest_check_results(status.partition)
        for name, result in sorted((results.get(status.key) or {}).items()):
            mat = status.last_materialization
            current = mat is not None and result.target_timestamp == mat.timestamp
            state = ("passed" if result.passed else result.severity.value if result.severity.value == "warn"
                     else "failed") if current else "not run on the current materialization"
            lines.append(f"check {name}: {state} at {format_time(result.timestamp)}"
                         + (f": {result.description}" if result.description else ""))
        return lines

    # -- dynamic partitions ----------------------------------------------------------------

    def dynamic_partition_keys(self, name: str) -> tuple[str, ...]:
        return self.store.dynamic_partitions().get(name, ())

    def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> tuple[str, ...]:
        """Add keys (those already there are left as they are); returns the ones added."""
        DynamicPartitions(name)  # validates the name
        from headwater.core.partitions import _check_key_text

        wanted = [_check_key_text(k, f"dynamic partitions {name!r}") for k in dict.fromkeys(keys)]
        have = set(self.dynamic_partition_keys(name))
        new = tuple(k for k in wanted if k not in have)
        if new:
            self.store.write([DynamicPartitionsChanged(run_id=None, timestamp=self.clock(), name=name, added=new)])
        return new

    def remove_dynamic_partitions(self, defs: Definitions, name: str, keys: Iterable[str],
                                  force: bool = False) -> tuple[str, ...]:
        """Remove keys; one that any asset materialized is refused unless ``force``."""
        keys = tuple(dict.fromkeys(keys))
        have = set(self.dynamic_partition_keys(name))
        unknown = [k for k in keys if k not in have]
        if unknown:
            raise PartitionError(f"dynamic partitions {name!r} have no key {unknown[0]!r}")
        if not force:
            users = [k for k in defs.graph.partitioned if _uses_dynamic(defs.graph.spec(k).partitions)]
            facts = self.store.partition_facts(users)
            for asset, per in facts.items():
                for partition, fact in per.items():
                    parts = partition.split("|")
                    hit = next((k for k in keys if k in parts), None)
                    if hit is not None and fact.last_materialization is not None:
                        raise PartitionError(
                            f"dynamic partition {hit!r} of {name!r} has materializations ({asset}[{partition}]); "
                            "removing it hides them from status: pass --force to remove it anyway")
        if keys:
            self.store.write([DynamicPartitionsChanged(run_id=None, timestamp=self.clock(), name=name, removed=keys)])
        return keys


def partition_tags(partition: str | Sequence[str] | None, start: str | None, end: str | None) -> dict[str, str]:
    """The run tags that record which partitions a run was asked to build."""
    tags: dict[str, str] = {}
    if partition:
        tags[PARTITION_TAG] = partition if isinstance(partition, str) else ",".join(partition)
    if start:
        tags[RANGE_START_TAG] = start
    if end:
        tags[RANGE_END_TAG] = end
    return tags
