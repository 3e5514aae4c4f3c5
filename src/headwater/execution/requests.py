"""Steps addressed by data: what a worker is asked to do, and what it reports back.

Everything here is plain, picklable data, so a step can be handed to another process
(or, later, another machine) which loads the definitions itself and writes its own
events to the shared store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from headwater.core.events import AssetMaterialized, ErrorInfo, InputRecord
from headwater.core.keys import AssetKey


@dataclass(frozen=True, slots=True)
class InputSnapshot:
    """An upstream as the coordinator saw it when it dispatched the step."""

    record: InputRecord
    value_ref: str | None


@dataclass(frozen=True, slots=True)
class StepRequest:
    run_id: str
    step_key: str
    asset_keys: tuple[AssetKey, ...]
    inputs: dict[AssetKey, InputSnapshot]
    attempt: int = 1
    max_attempts: int = 1
    timeout: float | None = None
    partition: str = ""  # the one partition built, or the first of ``partitions``
    tags: Mapping[str, str] = field(default_factory=dict)  # the run's tags, for ``context.tags``
    partitions: tuple[str, ...] = ()  # every partition this step builds (() when unpartitioned)
    # Parent partitions as the coordinator saw them: parent -> its partition -> snapshot, and
    # per partition built, which parent partitions it reads (what its materialization records).
    partition_inputs: Mapping[AssetKey, Mapping[str, InputSnapshot]] = field(default_factory=dict)
    reads: Mapping[str, Mapping[AssetKey, tuple[str, ...]]] = field(default_factory=dict)
    time_window: tuple[float, float] | None = None  # the span of a time-partitioned step's windows
    # (run id, timestamp) of the current materialization of each asset of a multi-asset that
    # may report check results on assets it does not materialize (``CheckReport``).
    current: Mapping[AssetKey, tuple[str | None, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    step_key: str
    attempt: int
    ok: bool
    materializations: tuple[AssetMaterialized, ...] = ()
    failed_keys: tuple[AssetKey, ...] = ()
    error: ErrorInfo | None = None
    duration: float = 0.0
    # True when the worker itself recorded the step's end (False: the coordinator must).
    recorded: bool = True
    # Failed blocking checks: the step succeeded, but what reads these assets must not run.
    blocked: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    # Assets the step reported one by one as not produced while it went on (AssetSkip), and
    # the assets whose blocking checks failed: the coordinator holds back what reads them.
    skipped_keys: tuple[AssetKey, ...] = ()
    blocked_by: dict[AssetKey, str] = field(default_factory=dict)
    # Why each failed key failed, when the step said so per asset (AssetFailure).
    reasons: dict[AssetKey, str] = field(default_factory=dict)
