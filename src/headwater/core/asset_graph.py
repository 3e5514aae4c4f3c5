"""The dependency graph between assets, validated once at load time.

Built from specs alone. Every question that walks the graph (selection, planning,
status, lineage) goes through here so that validation happens exactly once: unknown
upstream keys, duplicate keys and cycles are load-time errors that name the culprit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from headwater.core.dag import Dag
from headwater.core.keys import AssetKey
from headwater.core.partition_mappings import PartitionMapping, resolve_mapping
from headwater.core.specs import AssetSpec
from headwater.errors import DefinitionError, DuplicateKeyError, UnknownKeyError


class AssetGraph:
    __slots__ = ("_specs", "dag", "_by_group", "_mappings", "partitioned", "partition_aware")

    def __init__(self, specs: Iterable[AssetSpec]) -> None:
        by_key: dict[AssetKey, AssetSpec] = {}
        for spec in specs:
            prior = by_key.get(spec.key)
            if prior is not None:
                raise DuplicateKeyError(str(spec.key), [prior.where, spec.where])
            by_key[spec.key] = spec
        for spec in by_key.values():
            for dep in spec.deps:
                if dep not in by_key:
                    raise UnknownKeyError(str(dep), str(spec.key), _suggest(dep, by_key))
        self.dag: Dag[AssetKey] = Dag({k: s.deps for k, s in by_key.items()})
        self._specs = {k: by_key[k] for k in self.dag.nodes}
        groups: dict[str, list[AssetKey]] = {}
        for key, spec in self._specs.items():
            groups.setdefault(spec.group, []).append(key)
        self._by_group = groups
        self._mappings = _resolve_mappings(self._specs)
        # Assets whose state is kept per partition, and those (partitioned or not) that read one.
        self.partitioned: frozenset[AssetKey] = frozenset(k for k, s in self._specs.items() if s.partitions)
        self.partition_aware: frozenset[AssetKey] = frozenset(
            k for k in self._specs if k in self.partitioned or any(p in self.partitioned for p in self.dag.parents(k)))

    def __contains__(self, key: object) -> bool:
        return key in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[AssetKey]:
        return iter(self._specs)

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """All keys, upstream first."""
        return self.dag.nodes

    @property
    def specs(self) -> Iterable[AssetSpec]:
        return self._specs.values()

    def spec(self, key: AssetKey) -> AssetSpec:
        return self._specs[key]

    def get(self, key: AssetKey) -> AssetSpec | None:
        return self._specs.get(key)

    def parents(self, key: AssetKey) -> tuple[AssetKey, ...]:
        return self.dag.parents(key)

    def children(self, key: AssetKey) -> tuple[AssetKey, ...]:
        return self.dag.children(key)

    def upstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self.dag.upstream(keys, depth)

    def downstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self.dag.downstream(keys, depth)

    def groups(self) -> dict[str, list[AssetKey]]:
        return self._by_group

    def toposorted(self, keys: Iterable[AssetKey]) -> list[AssetKey]:
        return self.dag.sorted(keys)

    def mapping(self, child: AssetKey, parent: AssetKey) -> PartitionMapping | None:
        """How ``child`` reads ``parent``'s partitions; None when neither is partitioned."""
        return self._mappings.get((child, parent))



def _resolve_mappings(specs: dict[AssetKey, AssetSpec]) -> dict[tuple[AssetKey, AssetKey], PartitionMapping]:
    """Every dependency touching a partitioned asset gets its mapping now: a misfit is a
    load-time error naming both assets, never a surprise in the middle of a backfill."""
    out: dict[tuple[AssetKey, AssetKey], PartitionMapping] = {}
    for spec in specs.values():
        for dep in spec.dep_mappings:
            if dep not in spec.deps:
                raise DefinitionError(f"asset {spec.key} declares a partition mapping for {dep}, which it does "
                                      "not depend on")
        for dep in spec.deps:
            parent = specs[dep]
            declared = spec.dep_mappings.get(dep)
            if spec.partitions is None and parent.partitions is None:
                if declared is not None:
                    raise DefinitionError(f"asset {spec.key} declares a partition mapping for {dep}, but neither "
                                          "asset is partitioned")
                continue
            out[(spec.key, dep)] = resolve_mapping(spec.key, spec.partitions, dep, parent.partitions, declared)
    return out


def _suggest(missing: AssetKey, known: dict[AssetKey, AssetSpec]) -> str:
    same_name = sorted(str(k) for k in known if k.name == missing.name)
    if same_name:
        return "did you mean " + " or ".join(repr(s) for s in same_name[:3]) + "?"
    return ""
