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


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


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
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    owners: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset()
    description: str | None = None
    code_version: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    is_source: bool = False
    retry: RetryPolicy | None = None
    timeout: float | None = None
    location: SourceLocation | None = None
    freshness: FreshnessPolicy | None = None
    # An automation condition (headwater.automation.conditions); opaque to core.
    automation: Any = None
    # For sources: observe every N seconds when the daemon runs.
    observe_interval: float | None = None
    # What a step needs from the machine that runs it ({"memory": "8GB", "GPU": "1"}): the
    # Dask executor maps it to worker resources; executors on one host ignore it.
    executor_tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        # Coerce what users naturally write ("a/b", ["x"]) so multi-asset specs read well.
        object.__setattr__(self, "key", to_key(self.key))
        object.__setattr__(self, "deps", tuple(to_key(d) for d in self.deps))
        object.__setattr__(self, "owners", tuple(self.owners))
        object.__setattr__(self, "kinds", frozenset(self.kinds))
        object.__setattr__(self, "tags", _frozen_mapping(self.tags))
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))
        object.__setattr__(self, "executor_tags", _frozen_mapping(self.executor_tags))
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"asset {self.key}: timeout must be a positive number of seconds")

    @property
    def where(self) -> str:
        return str(self.location) if self.location else "unknown location"


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
