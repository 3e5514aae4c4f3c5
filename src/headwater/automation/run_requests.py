"""What every trigger produces: a request to materialize assets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from headwater.core.keys import AssetKey


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Materialize ``selection`` (or exactly ``asset_keys`` when given, as automation does).

    ``run_key`` makes the request idempotent across ticks and daemon restarts: a key that
    was already queued is never queued again. ``mode`` is ``all``, ``stale`` or ``missing``.
    """

    selection: str = "*"
    run_key: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    asset_keys: tuple[AssetKey, ...] = ()
    mode: str = "all"
    # Partitioned assets build these keys (a key or several), or this (from, to) range; by
    # default their newest time window.
    partition: str | tuple[str, ...] | None = None
    partition_range: tuple[str | None, str | None] | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("all", "stale", "missing"):
            raise ValueError(f"run request mode must be all, stale or missing, not {self.mode!r}")


@dataclass(frozen=True, slots=True)
class SkipReason:
    """A trigger looked and decided there is nothing to do, and says why."""

    reason: str
