"""Asset specifications: what an asset *is*, as plain data.

A spec carries no function: the producing code lives beside it in the definitions
layer. Keeping specs pure data lets the planner, status, selection and storage work
from them without importing user code, and lets a worker in another process rebuild
them by loading the same definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey, to_key
from headwater.core.partition_mappings import PartitionMapping
from headwater.core.partitions import PartitionsDefinition

DEFAULT_GROUP = "default"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failing step is tried again, and how long to wait between tries.

    The wait before retry ``n`` (1-based) is ``delay * backoff ** (n - 1)``, capped by
    ``max_delay``; retries exist for flaky infrastructure, not for bad code.
    """

    max_retries: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 300.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.delay < 0 or self.backoff < 1 or self.max_delay < 0:
            raise ValueError("delay and max_delay must be >= 0 and backoff >= 1")

    def wait_before(self, retry_number: int) -> float:
        return min(self.max_delay, self.delay * self.backoff ** max(0, retry_number - 1))


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


_NO_ENTRIES: Mapping[Any, Any] = MappingProxyType({})
_NO_KINDS: frozenset[str] = frozenset()


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # Most assets have no tags and no metadata: one shared read-only empty mapping, instead
    # of a dict and a proxy per spec (an eighth of what 100,000 definitions hold).
    return MappingProxyType(dict(value)) if value else _NO_ENTRIES


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """Everything known about an asset without running it.

    ``deps`` lists every upstream asset, whether its value is passed in or it is only an
    ordering/lineage dependency; ``is_source`` marks assets Headwater observes but does
    not produce.
    """

    key: AssetKey
    deps: tuple[AssetKey, ...] = ()
    group: str = DEFAULT_GROUP
    tags: Mapping[str, str] = field(default_factory=lambda: _NO_ENTRIES)
    owners: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset()
    description: str | None = None
    code_version: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: _NO_ENTRIES)
    is_source: bool = False
    retry: RetryPolicy | None = None
    timeout: float | None = None
    location: SourceLocation | None = None
    freshness: FreshnessPolicy | None = None
    # An automation condition (headwater.automation.conditions); opaque to core.
    automation: Any = None
    # For sources: observe every N seconds when the daemon runs.
    observe_interval: float | None = None
    # The slices it is built in (None: one piece, the partition ''), the mapping declared for
    # each partitioned dependency (others get the default, resolved by the graph), and how many
    # partitions one step may build at once (1: a step per partition; None: any range).
    partitions: PartitionsDefinition | None = None
    dep_mappings: Mapping[AssetKey, PartitionMapping] = field(default_factory=lambda: _NO_ENTRIES)
    max_partitions_per_run: int | None = 1
    # What a step needs from the machine that runs it ({"memory": "8GB", "GPU": "1"}): the
    # Dask executor maps it to worker resources; executors on one host ignore it.
    executor_tags: Mapping[str, str] = field(default_factory=lambda: _NO_ENTRIES)
    # The workspace code location that defines it (docs/workspaces.md); None in a single-location project.
    code_location: str | None = None

    def __post_init__(self) -> None:
        # Coerce what users naturally write ("a/b", ["x"]) so multi-asset specs read well.
        # (What is already as stored is left in place: a set per field is a tenth of loading.)
        if type(self.key) is not AssetKey:
            object.__setattr__(self, "key", to_key(self.key))
        deps = self.deps
        if type(deps) is not tuple or not all([type(d) is AssetKey for d in deps]):
            object.__setattr__(self, "deps", tuple([to_key(d) for d in deps]))
        if type(self.owners) is not tuple:
            object.__setattr__(self, "owners", tuple(self.owners))
        # An empty frozenset is a new object each time (~200 bytes): most assets share one.
        object.__setattr__(self, "kinds", frozenset(self.kinds) if self.kinds else _NO_KINDS)
        object.__setattr__(self, "tags", _frozen_mapping(self.tags))
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))
        object.__setattr__(self, "dep_mappings", MappingProxyType({to_key(k): m for k, m in self.dep_mappings.items()})
                           if self.dep_mappings else _NO_ENTRIES)
        if self.partitions is not None and not isinstance(self.partitions, PartitionsDefinition):
            raise ValueError(f"asset {self.key}: partitions must be a partitions definition such as "
                             f"hw.DailyPartitions(...), not {type(self.partitions).__name__}")
        if self.max_partitions_per_run is not None and self.max_partitions_per_run < 1:
            raise ValueError(f"asset {self.key}: max_partitions_per_run must be at least 1 (or None for any range)")
        object.__setattr__(self, "executor_tags", _frozen_mapping(self.executor_tags))
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"asset {self.key}: timeout must be a positive number of seconds")

    @property
    def where(self) -> str:
        return str(self.location) if self.location else "unknown location"


# ``@asset``'s spec, built as the dataclass's ``__init__`` builds it but through each slot's own
# setter: a frozen dataclass's ``__init__`` looks every one of the 23 attributes up by name
# (``object.__setattr__``), three times the cost of the setter, and loading 10,000 assets
# builds 10,000 specs. The fields must be these, in this order (checked here, at import).
_SPEC_FIELDS = ("key", "deps", "group", "tags", "owners", "kinds", "description", "code_version", "metadata",
                "is_source", "retry", "timeout", "location", "freshness", "automation", "observe_interval",
                "partitions", "dep_mappings", "max_partitions_per_run", "executor_tags", "code_location")
if tuple(AssetSpec.__dataclass_fields__) != _SPEC_FIELDS:  # pragma: no cover - a field was added or moved
    raise ImportError("AssetSpec's fields changed: update core.specs.asset_spec")
(_KEY, _DEPS, _GROUP, _TAGS, _OWNERS, _KINDS, _DESCRIPTION, _CODE_VERSION, _METADATA, _IS_SOURCE, _RETRY, _TIMEOUT,
 _LOCATION, _FRESHNESS, _AUTOMATION, _OBSERVE_INTERVAL, _PARTITIONS, _DEP_MAPPINGS, _MAX_PER_RUN, _EXECUTOR_TAGS,
 _CODE_LOCATION) = (getattr(AssetSpec, name).__set__ for name in _SPEC_FIELDS)


def asset_spec(key: AssetKey, deps: tuple[AssetKey, ...], group: str, tags: Mapping[str, str],
               owners: tuple[str, ...], kinds: frozenset[str], description: str | None, code_version: str | None,
               metadata: Mapping[str, Any], retry: RetryPolicy | None, timeout: float | None,
               location: SourceLocation | None, freshness: FreshnessPolicy | None, automation: Any,
               partitions: PartitionsDefinition | None, dep_mappings: Mapping[AssetKey, PartitionMapping],
               max_partitions_per_run: int | None, executor_tags: Mapping[str, str]) -> AssetSpec:
    """``AssetSpec(...)`` of an asset Headwater produces (not a source), every other field its
    default; validated and coerced by the same ``__post_init__``."""
    spec = object.__new__(AssetSpec)
    _KEY(spec, key)
    _DEPS(spec, deps)
    _GROUP(spec, group)
    _TAGS(spec, tags)
    _OWNERS(spec, owners)
    _KINDS(spec, kinds)
    _DESCRIPTION(spec, description)
    _CODE_VERSION(spec, code_version)
    _METADATA(spec, metadata)
    _IS_SOURCE(spec, False)
    _RETRY(spec, retry)
    _TIMEOUT(spec, timeout)
    _LOCATION(spec, location)
    _FRESHNESS(spec, freshness)
    _AUTOMATION(spec, automation)
    _OBSERVE_INTERVAL(spec, None)
    _PARTITIONS(spec, partitions)
    _DEP_MAPPINGS(spec, dep_mappings)
    _MAX_PER_RUN(spec, max_partitions_per_run)
    _EXECUTOR_TAGS(spec, executor_tags)
    _CODE_LOCATION(spec, None)
    spec.__post_init__()
    return spec


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A test of an asset's content. ``severity`` says how bad a failure is (``warn`` or
    ``error``); ``blocking`` stops the asset's downstream in the same run when it fails."""

    asset: AssetKey
    name: str
    severity: str = "error"
    blocking: bool = False
    description: str | None = None
    location: SourceLocation | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "asset", to_key(self.asset))
        if self.severity not in ("warn", "error"):
            raise ValueError(f"check {self.name} on {self.asset}: severity must be 'warn' or 'error', "
                             f"not {self.severity!r}")
