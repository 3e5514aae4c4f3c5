"""What an asset function may return besides a bare value.

A bare return value is the asset's value. ``Output`` adds metadata and an explicit data
version to a value; ``MaterializeResult`` reports a materialization whose data lives
elsewhere (a table written by dbt, a refreshed dashboard) and so stores no value.
Multi-assets name the asset each result is for.

A multi-asset that runs an external tool (one ``dbt build`` for many models) learns, one
asset at a time, that some of them did not work out while the rest go on. ``AssetFailure``
and ``AssetSkip`` report exactly that, so only what depends on those assets is held back,
not everything downstream of the step.
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
    """``duration``: seconds the asset itself took, when the producer knows (dbt reports each
    model's execution time); else the time since the step started."""

    key: AssetKey | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    data_version: str | None = None
    duration: float | None = None

    def __init__(self, key: CoercibleToKey | None = None, metadata: Mapping[str, Any] | None = None,
                 data_version: str | None = None, duration: float | None = None) -> None:
        object.__setattr__(self, "key", to_key(key) if key is not None else None)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "data_version", data_version)
        object.__setattr__(self, "duration", duration)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The result of a check of an asset the step did not materialize, learned while it ran.

    ``dbt build`` runs tests Headwater did not ask a check for: a test selected through
    another model it reads (eager indirect selection), a unit test that failed so its model
    was skipped. Their results are facts about the asset's current data (or code): recorded
    against its current materialization, as ``headwater check`` would. ``result`` is a
    ``CheckResult``; ``check_name`` one of the asset's checks.
    """

    key: AssetKey
    check_name: str
    result: Any

    def __init__(self, key: CoercibleToKey, check_name: str, result: Any) -> None:
        object.__setattr__(self, "key", to_key(key))
        object.__setattr__(self, "check_name", check_name)
        object.__setattr__(self, "result", result)


@dataclass(frozen=True, slots=True)
class AssetFailure:
    """One asset of the step failed; the step goes on with its other assets.

    The asset's status becomes ``failed`` with ``error`` (a message or the exception) as
    its reason, and the step, once done, fails: the run is not a success. Steps that read
    this asset are skipped; those that read only the step's other assets still run.
    """

    key: AssetKey | None = None
    error: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error_type: str = ""

    def __init__(self, key: CoercibleToKey | None = None, error: str | BaseException = "",
                 metadata: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "key", to_key(key) if key is not None else None)
        if isinstance(error, BaseException):
            object.__setattr__(self, "error", str(error) or type(error).__name__)
            object.__setattr__(self, "error_type", type(error).__name__)
        else:
            object.__setattr__(self, "error", str(error) or "failed")
            object.__setattr__(self, "error_type", "AssetFailure")
        object.__setattr__(self, "metadata", dict(metadata or {}))


@dataclass(frozen=True, slots=True)
class AssetSkip:
    """One asset of the step was not attempted (typically: something it depends on, in the
    same step, failed). Not a failure of its own: the asset keeps its last materialization
    and status, and the steps that read it are skipped with ``reason``."""

    key: AssetKey | None = None
    reason: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, key: CoercibleToKey | None = None, reason: str = "",
                 metadata: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "key", to_key(key) if key is not None else None)
        object.__setattr__(self, "reason", reason or "skipped by its step")
        object.__setattr__(self, "metadata", dict(metadata or {}))


@dataclass(frozen=True, slots=True)
class Observation:
    """What a source's ``observe`` function returns: its current version and data time.

    ``data_time`` is POSIX seconds or an aware ``datetime``: how current the content is
    (for a landed table, typically ``max(loaded_at)``), not when it was observed.
    """

    data_version: str | None = None
    data_time: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
