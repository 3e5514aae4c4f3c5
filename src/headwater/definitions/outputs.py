"""What an asset function may return besides a bare value.

A bare return value is the asset's value. ``Output`` adds metadata and an explicit data
version to a value; ``MaterializeResult`` reports a materialization whose data lives
elsewhere (a table written by dbt, a refreshed dashboard) and so stores no value.
Multi-assets name the asset each result is for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from headwater.core.keys import AssetKey, CoercibleToKey, to_key


@dataclass(frozen=True, slots=True)
class Output:
    value: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)
    data_version: str | None = None
    key: AssetKey | None = None

    def __init__(self, value: Any, metadata: Mapping[str, Any] | None = None,
                 data_version: str | None = None, key: CoercibleToKey | None = None) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "data_version", data_version)
        object.__setattr__(self, "key", to_key(key) if key is not None else None)


@dataclass(frozen=True, slots=True)
class MaterializeResult:
    key: AssetKey | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    data_version: str | None = None

    def __init__(self, key: CoercibleToKey | None = None, metadata: Mapping[str, Any] | None = None,
                 data_version: str | None = None) -> None:
        object.__setattr__(self, "key", to_key(key) if key is not None else None)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "data_version", data_version)


@dataclass(frozen=True, slots=True)
class Observation:
    """What a source's ``observe`` function returns: its current version and data time.

    ``data_time`` is POSIX seconds or an aware ``datetime``: how current the content is
    (for a landed table, typically ``max(loaded_at)``), not when it was observed.
    """

    data_version: str | None = None
    data_time: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
