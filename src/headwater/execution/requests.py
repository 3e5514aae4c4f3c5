"""Steps addressed by data: what a worker is asked to do, and what it reports back.

Everything here is plain, picklable data, so a step can be handed to another process
(or, later, another machine) which loads the definitions itself and writes its own
events to the shared store.
"""

from __future__ import annotations

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
    partition: str = ""


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
    # Failed blocking checks: the step succeeded, but its downstream must not run.
    blocked: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
