"""Partition mappings: which partitions of a parent one partition of a child reads.

Staleness, data time, planning and backfills all ask the same question — "child partition
c reads which parent partitions?" — so it is answered once, here, exactly (no size cut-off),
and resolved at load time: a dependency whose mapping cannot fit (a static child reading a
daily parent with no mapping, an unknown dimension) is a ``DefinitionError`` naming both
assets. ``None`` stands for "not partitioned" on either side: an unpartitioned asset has the
one partition ``''``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from headwater.core.keys import AssetKey
from headwater.core.partitions import (
    DIMENSION_SEPARATOR,
    DynamicPartitions,
    MultiPartitions,
    PartitionContext,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
)
from headwater.errors import DefinitionError

UNPARTITIONED: tuple[str, ...] = ("",)


class PartitionMapping(ABC):
    """Subclasses are frozen dataclasses (plain data, hashable)."""

    @abstractmethod
    def upstream(self, child_key: str, child: PartitionsDefinition | None, parent: PartitionsDefinition | None,
                 ctx: PartitionContext) -> tuple[str, ...]:
        """The parent keys child partition ``child_key`` reads, in the parent's order."""

    def validate(self, child: PartitionsDefinition | None, parent: PartitionsDefinition | None) -> str | None:
        """Why this mapping cannot connect these definitions, or None when it can."""
        return None

    def describe(self) -> str:
        return type(self).__name__

    def reads_one(self, child: PartitionsDefinition | None, parent: PartitionsDefinition | None) -> bool:
        """Whether a child partition reads exactly one parent partition whatever its key: then
        an asset function gets the parent's value itself, else ``{partition: value}``."""
        return False


@dataclass(frozen=True, slots=True)
class IdentityMapping(PartitionMapping):
    """Child key k reads parent key k (the default between equal definitions)."""

    def upstream(self, child_key, child, parent, ctx):  # type: ignore[no-untyped-def]
        if parent is None:
            return UNPARTITIONED
        return (child_key,) if child_key in ctx.index(parent) else ()

    def validate(self, child, parent):  # type: ignore[no-untyped-def]
        if child is None or parent is None:
            return None if child is parent else "identity needs both assets partitioned"
        if child == parent:
            return None
        if isinstance(child, StaticPartitions) and isinstance(parent, StaticPartitions):
            return None if set(child.keys_) <= set(parent.keys_) else "the child has keys the parent does not"
        if isinstance(child, DynamicPartitions) and isinstance(parent, DynamicPartitions):
            return None if child.name == parent.name else "different dynamic partitions"
        return f"identity does not fit {child.describe()} reading {parent.describe()}"

    def reads_one(self, child, parent):  # type: ignore[no-untyped-def]
        return True


@dataclass(frozen=True, slots=True)
class TimeWindowMapping(PartitionMapping):
    """The parent windows that overlap the child's window, widened by ``start_offset`` and
    ``end_offset`` parent windows: ``start_offset=-6`` on daily assets is a rolling week,
    ``start_offset=-1, end_offset=-1`` the previous day."""

    start_offset: int = 0
    end_offset: int = 0

    def upstream(self, child_key, child, parent, ctx):  # type: ignore[no-untyped-def]
        if parent is None:
            return UNPARTITIONED
        if child is None:
            return ctx.keys(parent)
        c_dim, c_def = _time_dimension(child)
        p_keys = ctx.keys(parent)
        if c_def is None or not isinstance(parent, TimeWindowPartitions):
            return ()
        c_part = child_key.split(DIMENSION_SEPARATOR)[c_dim] if c_dim is not None else child_key
        i = ctx.index(c_def).get(c_part)
        if i is None:
            return ()
        if c_def == parent:
            lo, hi = i + self.start_offset, i + 1 + self.end_offset
        else:
            b = c_def.windows(ctx)
            r = parent.windows_overlapping(b[i], b[i + 1], ctx)
            if not r:
                return ()
            lo, hi = r.start + self.start_offset, r.stop + self.end_offset
        return p_keys[max(0, lo):max(0, min(hi, len(p_keys)))]

    def validate(self, child, parent):  # type: ignore[no-untyped-def]
        if parent is None:
            return None
        if not isinstance(parent, TimeWindowPartitions):
            return f"a time-window mapping needs a time-partitioned parent, not {parent.describe()}"
        if child is not None and _time_dimension(child)[1] is None:
            return f"a time-window mapping needs a time dimension in the child, not {child.describe()}"
        return None

    def describe(self) -> str:
        return f"TimeWindowMapping(start_offset={self.start_offset}, end_offset={self.end_offset})"

    def reads_one(self, child, parent):  # type: ignore[no-untyped-def]
        if self.start_offset != self.end_offset or child is None:
            return False
        sub = _time_dimension(child)[1]
        return sub is not None and isinstance(parent, TimeWindowPartitions) and sub.cron == parent.cron \
            and sub.timezone == parent.timezone


@dataclass(frozen=True, slots=True)
class AllPartitions(PartitionMapping):
    """Every partition of the parent (the default for an unpartitioned child)."""

    def upstream(self, child_key, child, parent, ctx):  # type: ignore[no-untyped-def]
        return UNPARTITIONED if parent is None else ctx.keys(parent)


@dataclass(frozen=True, slots=True)
class LastPartitions(PartitionMapping):
    """The newest ``n`` partitions of the parent, whatever the child's partition."""

    n: int = 1

    def __post_init__(self) -> None:
        if self.n < 1:
            raise DefinitionError("LastPartitions(n): n must be at least 1")

    def upstream(self, child_key, child, parent, ctx):  # type: ignore[no-untyped-def]
        return UNPARTITIONED if parent is None else ctx.keys(parent)[-self.n:]

    def reads_one(self, child, parent):  # type: ignore[no-untyped-def]
        return self.n == 1


@dataclass(frozen=True, slots=True)
class StaticMapping(PartitionMapping):
    """An explicit map from parent keys to the child keys that read them (as Dagster's)."""

    mapping: tuple[tuple[str, tuple[str, ...]], ...]

    def __init__(self, mapping: Mapping[str, str | tuple[str, ...] | list[str] | set[str]]) -> None:
        items = tuple((p, (c,) if isinstance(c, str) else tuple(sorted(c))) for p, c in mapping.items())
        object.__setattr__(self, "mapping", items)

    def upstream(self, child_key, child, parent, ctx):  # type: ignore[no-untyped-def]
        if parent is None:
            return UNPARTITIONED
        known = ctx.index(parent)
        return tuple(p for p, cs in self.mapping if child_key in cs and p in known)

    def validate(self, child, parent):  # type: ignore[no-untyped-def]
        if isinstance(parent, StaticPartitions):
            unknown = [p for p, _ in self.mapping if p not in parent.keys_]
            if unknown:
                return f"the mapping names parent keys the parent does not have: {', '.join(unknown)}"
        if isinstance(child, StaticPartitions):
            unknown = sorted({c for _, cs in self.mapping for c in cs if c not in child.keys_})
            if unknown:
                return f"the mapping names child keys the child does not have: {', '.join(unknown)}"
        return None


@dataclass(frozen=True, slots=True)
class DimensionMapping(PartitionMapping):
    """Between a multi-dimensional asset and a one-dimensional one (either way round): the
    named dimension of the multi side maps to the other side through ``inner``; the other
    dimensions are free (a child reads every key of them)."""

    dimension: str
    inner: PartitionMapping = IdentityMapping()

    def upstream(self, child_key, child, parent, ctx):  # type: ignore[no-untyped-def]
        if parent is None:
            return UNPARTITIONED
        if isinstance(child, MultiPartitions) and not isinstance(parent, MultiPartitions):
            i, sub = child.dimension(self.dimension)
            return self.inner.upstream(child_key.split(DIMENSION_SEPARATOR)[i], sub, parent, ctx)
        if isinstance(parent, MultiPartitions):
            i, sub = parent.dimension(self.dimension)
            wanted = set(self.inner.upstream(child_key, child, sub, ctx)) if child is not None else None
            return tuple(k for k in ctx.keys(parent)
                         if wanted is None or k.split(DIMENSION_SEPARATOR)[i] in wanted)
        return ()

    def validate(self, child, parent):  # type: ignore[no-untyped-def]
        multi = child if isinstance(child, MultiPartitions) else parent
        other = parent if multi is child else child
        if not isinstance(multi, MultiPartitions):
            return "a dimension mapping needs a multi-partitioned asset on one side"
        if isinstance(other, MultiPartitions):
            return "a dimension mapping joins a multi-partitioned asset and a one-dimensional one"
        names = [n for n, _ in multi.dims]
        if self.dimension not in names:
            return f"unknown dimension {self.dimension!r} (dimensions: {', '.join(names)})"
        sub = multi.dimension(self.dimension)[1]
        return self.inner.validate(sub, other) if multi is child else self.inner.validate(other, sub)

    def describe(self) -> str:
        return f"DimensionMapping({self.dimension!r}, {self.inner.describe()})"

    def reads_one(self, child, parent):  # type: ignore[no-untyped-def]
        if isinstance(child, MultiPartitions) and not isinstance(parent, MultiPartitions):
            return self.inner.reads_one(child.dimension(self.dimension)[1], parent)
        return False


@dataclass(frozen=True, slots=True)
class MultiIdentityMapping(PartitionMapping):
    """Between two multi-dimensional assets: dimensions with the same name and definition
    match key for key; the parent's other dimensions are read whole."""

    def upstream(self, child_key, child, parent, ctx):  # type: ignore[no-untyped-def]
        assert isinstance(child, MultiPartitions) and isinstance(parent, MultiPartitions)
        parts = dict(zip((n for n, _ in child.dims), child_key.split(DIMENSION_SEPARATOR)))
        fixed = [(i, parts[n]) for i, (n, d) in enumerate(parent.dims) if n in parts]
        return tuple(k for k in ctx.keys(parent)
                     if all(k.split(DIMENSION_SEPARATOR)[i] == v for i, v in fixed))

    def validate(self, child, parent):  # type: ignore[no-untyped-def]
        if not (isinstance(child, MultiPartitions) and isinstance(parent, MultiPartitions)):
            return "needs two multi-partitioned assets"
        child_dims = dict(child.dims)
        shared = [n for n, d in parent.dims if child_dims.get(n) == d]
        return None if shared else "the two assets share no dimension"


def _time_dimension(d: PartitionsDefinition) -> tuple[int | None, TimeWindowPartitions | None]:
    if isinstance(d, TimeWindowPartitions):
        return None, d
    if isinstance(d, MultiPartitions):
        for i, (_n, sub) in enumerate(d.dims):
            if isinstance(sub, TimeWindowPartitions):
                return i, sub
    return None, None


def default_mapping(child: PartitionsDefinition | None, parent: PartitionsDefinition | None
                    ) -> PartitionMapping | None:
    """What a dependency with no declared mapping means, or None when nothing fits."""
    if parent is None or child is None:
        return AllPartitions()  # unpartitioned parent: its one partition; unpartitioned child: all
    if child == parent:
        return IdentityMapping()
    if isinstance(parent, TimeWindowPartitions) and _time_dimension(child)[1] is not None:
        if isinstance(child, MultiPartitions):
            for name, sub in child.dims:
                if sub == parent:
                    return DimensionMapping(name)
            return DimensionMapping(next(n for n, s in child.dims if isinstance(s, TimeWindowPartitions)),
                                    TimeWindowMapping())
        return TimeWindowMapping()
    if isinstance(child, MultiPartitions) and not isinstance(parent, MultiPartitions):
        for name, sub in child.dims:
            if sub == parent:
                return DimensionMapping(name)
        return None
    if isinstance(parent, MultiPartitions) and not isinstance(child, MultiPartitions):
        for name, sub in parent.dims:
            if sub == child:
                return DimensionMapping(name)
        return None
    if isinstance(child, MultiPartitions) and isinstance(parent, MultiPartitions):
        return MultiIdentityMapping() if MultiIdentityMapping().validate(child, parent) is None else None
    if IdentityMapping().validate(child, parent) is None:
        return IdentityMapping()
    return None


def resolve_mapping(child_key: AssetKey, child: PartitionsDefinition | None, parent_key: AssetKey,
                    parent: PartitionsDefinition | None, declared: PartitionMapping | None) -> PartitionMapping:
    """The mapping a dependency uses, checked now so a misfit fails at load time."""
    mapping = declared if declared is not None else default_mapping(child, parent)
    if mapping is None:
        raise DefinitionError(
            f"asset {child_key} ({child.describe() if child else 'unpartitioned'}) reads {parent_key} "
            f"({parent.describe() if parent else 'unpartitioned'}), and no partition mapping fits; declare one: "
            f"hw.Dep({str(parent_key)!r}, mapping=hw.TimeWindowMapping(...) / hw.AllPartitions() / "
            "hw.StaticMapping({...}) / hw.DimensionMapping(...))")
    problem = mapping.validate(child, parent)
    if problem:
        raise DefinitionError(f"asset {child_key} reads {parent_key} through {mapping.describe()}: {problem}")
    return mapping
