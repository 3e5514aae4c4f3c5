"""Read models handed out by storage: the latest facts per asset, runs and steps.

These are what status derivation consumes. Storage builds them from its derived
tables in one query for the whole graph; core never asks storage anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from headwater.core.events import AssetMaterialized, AssetObserved, ErrorInfo, Event, RunStatus
from headwater.core.keys import AssetKey


class AttemptStatus(StrEnum):
    """Outcome of the most recent attempt to materialize an asset."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class AssetFacts:
    """Everything stored that status needs about one asset (one partition)."""

    key: AssetKey
    partition: str = ""
    last_materialization: AssetMaterialized | None = None
    last_observation: AssetObserved | None = None
    last_attempt_run_id: str | None = None
    last_attempt_status: AttemptStatus | None = None
    last_attempt_at: float | None = None
    last_failure: ErrorInfo | None = None
    # When a source was last observed at all (an unchanged observation is not a new fact).
    last_observation_checked_at: float | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    selection: str = ""
    asset_keys: tuple[AssetKey, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    executor: str = ""
    created_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None
    host: str = ""
    location: str | None = None
    reason: str = ""
    run_key: str | None = None
    origin: str = ""
    mode: str = "all"
    # Someone asked to cancel the run while it ran (``run_cancel``); its coordinator ends it.
    cancel_requested_at: float | None = None
    cancel_reason: str = ""

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


class StepStatus(StrEnum):
    STARTED = "started"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class StepRecord:
    run_id: str
    step_key: str
    status: StepStatus
    asset_keys: tuple[AssetKey, ...] = ()
    attempt: int = 1
    started_at: float | None = None
    ended_at: float | None = None
    error: ErrorInfo | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event with its storage id: ids grow monotonically within a family, so a reader can
    follow a run's log by asking for everything after the last id it saw."""

    id: int
    event: Event
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstigatorState:
    """What the daemon remembers about a schedule, sensor or automation between ticks."""

    instigator: str
    enabled: bool | None = None      # None: never toggled, the definition's default applies
    last_tick_time: float | None = None
    last_status: str | None = None
    cursor: str | None = None
