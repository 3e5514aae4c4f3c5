"""Stored events: one frozen dataclass per event type, serialized to JSON.

Events are the truth; every derived table is rebuilt from them. Each stored event
carries its type name and a schema version so that old logs stay readable after the
classes evolve; nothing is pickled and no class path is stored.

Two families are kept apart so that operational noise can be compacted without touching
facts about data (docs/design.md "Retention"):

* run events — run and step lifecycle, log lines (``RUN_EVENT_TYPES``)
* asset events — materializations and observations (``ASSET_EVENT_TYPES``)

Times are POSIX seconds (float, UTC): cheap to compare, store and serialize.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from headwater.core.keys import AssetKey

SCHEMA_VERSION = 1


class RunStatus(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)


class InputState(StrEnum):
    """The state of an input at the moment a step read it ("ran on stale inputs")."""

    OK = "ok"
    MISSING = "missing"
    FAILED = "failed"
    STALE = "stale"


class SkipReason(StrEnum):
    UPSTREAM_FAILED = "upstream_failed"
    UP_TO_DATE = "up_to_date"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    message: str
    type_name: str = ""
    traceback: str = ""

    @staticmethod
    def from_exception(exc: BaseException, traceback_text: str = "") -> ErrorInfo:
        return ErrorInfo(message=str(exc) or type(exc).__name__, type_name=type(exc).__name__,
                         traceback=traceback_text)


@dataclass(frozen=True, slots=True)
class InputRecord:
    """What a materialization read from one upstream asset, and in what state it was."""

    key: AssetKey
    data_version: str | None
    data_time: float | None
    state: InputState = InputState.OK
    detail: str = ""
    produced_in_run: bool = False
    partition: str = ""  # which partition of the upstream asset was read ('' when unpartitioned)


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class Event:
    type_name: ClassVar[str] = ""
    run_id: str | None
    timestamp: float


# --- run events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    type_name: ClassVar[str] = "run_started"
    selection: str = ""
    asset_keys: tuple[AssetKey, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    executor: str = ""
    pid: int | None = None
    host: str = ""
    location: str | None = None


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    """Ends a run. Writing it for a run that already ended changes nothing (first one wins),
    so that a worker and a reaper that both notice a death cannot overwrite each other."""

    type_name: ClassVar[str] = "run_finished"
    status: RunStatus = RunStatus.SUCCEEDED
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RunCancelRequested(Event):
    """Someone asked to stop a started run (``headwater run cancel``, the UI, the API).

    A request, not an end: the process coordinating the run reads it from the store, stops
    launching steps, stops those in flight, and then ends the run ``canceled`` itself, so
    that a run reads canceled only once nothing of it runs any more. Dropped for a run that
    has already ended; a second request for the same run keeps the first one's time."""

    type_name: ClassVar[str] = "run_cancel_requested"
    reason: str = ""
    requested_by: str = ""


@dataclass(frozen=True, slots=True)
class StepStarted(Event):
    type_name: ClassVar[str] = "step_started"
    step_key: str = ""
    asset_keys: tuple[AssetKey, ...] = ()
    partitions: tuple[str, ...] = ()  # the partitions of those assets the step covers; () = ('',)
    attempt: int = 1
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class StepSucceeded(Event):
    type_name: ClassVar[str] = "step_succeeded"
    step_key: str = ""
    asset_keys: tuple[AssetKey, ...] = ()
    partitions: tuple[str, ...] = ()  # the partitions of those assets the step covers; () = ('',)
    attempt: int = 1
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class StepFailed(Event):
    """``asset_keys`` are the assets this failure leaves unmaterialized (a multi-asset may
    have produced some outputs before failing), except those the step already reported as
    failed or skipped one by one (``AssetFailed``/``AssetSkipped``), whose own reasons stand;
    ``will_retry`` means another attempt follows."""

    type_name: ClassVar[str] = "step_failed"
    step_key: str = ""
    asset_keys: tuple[AssetKey, ...] = ()
    partitions: tuple[str, ...] = ()  # the partitions of those assets the step covers; () = ('',)
    attempt: int = 1
    error: ErrorInfo = ErrorInfo("")
    will_retry: bool = False
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class StepSkipped(Event):
    type_name: ClassVar[str] = "step_skipped"
    step_key: str = ""
    asset_keys: tuple[AssetKey, ...] = ()
    partitions: tuple[str, ...] = ()  # the partitions of those assets the step covers; () = ('',)
    reason: SkipReason = SkipReason.UPSTREAM_FAILED
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AssetFailed(Event):
    """One asset of a running step failed while the step goes on (e.g. one dbt model)."""

    type_name: ClassVar[str] = "asset_failed"
    step_key: str = ""
    key: AssetKey = AssetKey(("_",))
    partition: str = ""
    error: ErrorInfo = ErrorInfo("")
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AssetSkipped(Event):
    """One asset of a running step was not attempted while the step goes on (e.g. a dbt model
    dbt skipped because a model upstream of it, in the same build, failed). Not a failure:
    the asset keeps its last materialization and status; only its latest attempt is skipped."""

    type_name: ClassVar[str] = "asset_skipped"
    step_key: str = ""
    key: AssetKey = AssetKey(("_",))
    partition: str = ""
    reason: SkipReason = SkipReason.UPSTREAM_FAILED
    detail: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogMessage(Event):
    type_name: ClassVar[str] = "log"
    step_key: str | None = None
    level: str = "info"
    message: str = ""


# --- asset events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssetMaterialized(Event):
    """One successful production of an asset, with everything needed to judge it later:
    the code version it ran, what it read (and in what state), and what it produced."""

    type_name: ClassVar[str] = "materialization"
    step_key: str = ""
    key: AssetKey = AssetKey(("_",))
    partition: str = ""
    code_version: str | None = None
    data_version: str | None = None
    data_time: float | None = None
    inputs: tuple[InputRecord, ...] = ()
    deps: tuple[AssetKey, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    value_ref: str | None = None
    duration: float | None = None

    @property
    def ran_on_stale_inputs(self) -> bool:
        return any(i.state is not InputState.OK for i in self.inputs)


@dataclass(frozen=True, slots=True)
class AssetObserved(Event):
    type_name: ClassVar[str] = "observation"
    key: AssetKey = AssetKey(("_",))
    partition: str = ""
    data_version: str | None = None
    data_time: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class CheckSeverity(StrEnum):
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CheckEvaluated(Event):
    """One evaluation of a check against one materialization of its asset.

    ``target_run_id``/``target_timestamp`` identify the materialization evaluated (None
    when the asset had none), so a result stops counting once the asset is re-materialized.
    """

    type_name: ClassVar[str] = "check_evaluation"
    step_key: str = ""
    key: AssetKey = AssetKey(("_",))
    partition: str = ""
    check_name: str = ""
    passed: bool = False
    severity: CheckSeverity = CheckSeverity.ERROR
    blocking: bool = False
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    target_run_id: str | None = None
    target_timestamp: float | None = None
    error: ErrorInfo | None = None  # the check itself crashed (counts as failed)


@dataclass(frozen=True, slots=True)
class ObservationUnchanged(Event):
    """A source was observed and nothing had changed: recorded as an operational event (and
    the source's ``last checked`` time) instead of another observation fact."""

    type_name: ClassVar[str] = "observation_unchanged"
    key: AssetKey = AssetKey(("_",))
    partition: str = ""
    data_version: str | None = None


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertTransition(Event):
    """An alert rule's condition changed for one asset (deduplication key: rule + asset)."""

    type_name: ClassVar[str] = "alert_transition"
    rule: str = ""
    key: AssetKey = AssetKey(("_",))
    state: AlertState = AlertState.FIRING
    condition: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AlertDeliveryAttempt(Event):
    """One try at delivering one transition through one channel (secrets never recorded)."""

    type_name: ClassVar[str] = "alert_delivery"
    rule: str = ""
    key: AssetKey = AssetKey(("_",))
    state: AlertState = AlertState.FIRING
    channel: str = ""
    attempt: int = 1
    ok: bool = False
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RunQueued(Event):
    """A run requested (by a schedule, a sensor, automation, the UI) and waiting for a worker.

    A ``run_key`` makes the request idempotent: the store keeps the first run queued under a
    key and drops any later one, so a restarted daemon cannot launch the same run twice.
    """

    type_name: ClassVar[str] = "run_queued"
    selection: str = "*"
    asset_keys: tuple[AssetKey, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    run_key: str | None = None
    origin: str = ""
    mode: str = "all"
    location: str | None = None
    parent_run_id: str | None = None


class TickStatus(StrEnum):
    SUCCESS = "success"   # evaluated; may have requested runs
    SKIPPED = "skipped"   # evaluated; nothing to do, with a reason
    FAILED = "failed"     # the evaluation raised or timed out; retried next interval


@dataclass(frozen=True, slots=True)
class TickRecorded(Event):
    """One evaluation of an instigator (``schedule:NAME``, ``sensor:NAME``, ``automation``,
    ``observe:KEY``). ``tick_time`` is the moment evaluated (a schedule's cron tick);
    ``cursor`` is what a sensor wants back next time; ``evaluations`` holds per-asset
    explanations for automation (what ``automation explain`` shows)."""

    type_name: ClassVar[str] = "tick"
    instigator: str = ""
    status: TickStatus = TickStatus.SUCCESS
    tick_time: float | None = None
    run_keys: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    cursor: str | None = None
    skip_reason: str = ""
    error: ErrorInfo | None = None
    evaluations: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstigatorToggled(Event):
    """A schedule or sensor turned on or off (``headwater schedule on/off``)."""

    type_name: ClassVar[str] = "instigator_toggled"
    instigator: str = ""
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class DynamicPartitionsChanged(Event):
    """Keys added to or removed from a dynamic partitions definition: the keys are facts in
    the store (docs/design.md §5), so every process sees the same set."""

    type_name: ClassVar[str] = "dynamic_partitions_changed"
    name: str = ""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BackfillRequested(Event):
    """A backfill, planned once: every (asset, partition) it will build, in the order its runs
    take them. Its progress is derived from the runs it launches (tagged with its id), so a
    crash of whoever drives it loses nothing and a resume builds nothing twice."""

    type_name: ClassVar[str] = "backfill_requested"
    backfill_id: str = ""
    selection: str = ""
    mode: str = "all"
    partition_range: tuple[str, ...] = ()  # (from, to) as asked, '' for an open end
    targets: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (asset key, partitions), upstream first
    tags: Mapping[str, str] = field(default_factory=dict)
    chunk_size: int = 1


@dataclass(frozen=True, slots=True)
class BackfillUpdated(Event):
    """A backfill was canceled, resumed, or finished."""

    type_name: ClassVar[str] = "backfill_updated"
    backfill_id: str = ""
    status: str = ""
    reason: str = ""


RUN_EVENT_TYPES: tuple[type[Event], ...] = (
    RunStarted, RunFinished, StepStarted, StepSucceeded, StepFailed, StepSkipped, AssetFailed, AssetSkipped,
    LogMessage,
    ObservationUnchanged, AlertTransition, AlertDeliveryAttempt, RunQueued, TickRecorded, InstigatorToggled,
    DynamicPartitionsChanged, BackfillRequested, BackfillUpdated, RunCancelRequested,
)
ASSET_EVENT_TYPES: tuple[type[Event], ...] = (AssetMaterialized, AssetObserved, CheckEvaluated)
EVENT_TYPES: dict[str, type[Event]] = {cls.type_name: cls for cls in RUN_EVENT_TYPES + ASSET_EVENT_TYPES}


def is_asset_event(event: Event) -> bool:
    return isinstance(event, ASSET_EVENT_TYPES)


# --- serialization ----------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, AssetKey):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (InputRecord, ErrorInfo)):
        # An unpartitioned input leaves its partition out: payloads stay as they were before.
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)
                if not (f.name == "partition" and value.partition == "")}  # type: ignore[union-attr]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def event_to_dict(event: Event) -> dict[str, Any]:
    return {f.name: _encode(getattr(event, f.name)) for f in fields(event)}


def event_to_json(event: Event) -> str:
    return json.dumps(event_to_dict(event), separators=(",", ":"), default=str)


def _keys(values: Any) -> tuple[AssetKey, ...]:
    return tuple(AssetKey.parse(v) for v in values or ())


def _input(d: Mapping[str, Any]) -> InputRecord:
    return InputRecord(
        key=AssetKey.parse(d["key"]), data_version=d.get("data_version"), data_time=d.get("data_time"),
        state=InputState(d.get("state", "ok")), detail=d.get("detail", ""),
        produced_in_run=bool(d.get("produced_in_run", False)), partition=d.get("partition", ""),
    )


def _error(d: Mapping[str, Any] | None) -> ErrorInfo:
    d = d or {}
    return ErrorInfo(message=d.get("message", ""), type_name=d.get("type_name", ""),
                     traceback=d.get("traceback", ""))


_DECODERS: dict[str, Any] = {
    "asset_keys": _keys,
    "deps": _keys,
    "key": AssetKey.parse,
    "inputs": lambda v: tuple(_input(i) for i in v or ()),
    "error": _error,
    "status": RunStatus,
    "reason": lambda v: v,
    "tags": _frozen,
    "metadata": _frozen,
    "severity": CheckSeverity,
    "evaluations": _frozen,
}


def event_from_dict(type_name: str, data: Mapping[str, Any], schema_version: int = SCHEMA_VERSION) -> Event:
    """Rebuild an event; unknown fields (from a newer writer) are ignored, missing ones defaulted."""
    if schema_version > SCHEMA_VERSION:
        raise ValueError(f"event schema version {schema_version} is newer than this Headwater ({SCHEMA_VERSION})")
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise ValueError(f"unknown event type {type_name!r}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        raw = data[f.name]
        if f.name == "reason" and cls in (StepSkipped, AssetSkipped):
            kwargs[f.name] = SkipReason(raw)
        elif f.name == "state" and raw is not None:
            kwargs[f.name] = AlertState(raw)
        elif f.name == "status" and cls is BackfillUpdated:
            kwargs[f.name] = raw
        elif f.name in ("partitions", "added", "removed", "partition_range"):
            kwargs[f.name] = tuple(raw)
        elif f.name == "targets":
            kwargs[f.name] = tuple((k, tuple(ps)) for k, ps in raw)
        elif f.name == "status" and cls is TickRecorded:
            kwargs[f.name] = TickStatus(raw)
        elif f.name in ("run_keys", "run_ids"):
            kwargs[f.name] = tuple(raw)
        elif f.name in _DECODERS and raw is not None:
            kwargs[f.name] = _DECODERS[f.name](raw)
        else:
            kwargs[f.name] = raw
    return cls(**kwargs)


def event_from_json(type_name: str, payload: str, schema_version: int = SCHEMA_VERSION) -> Event:
    return event_from_dict(type_name, json.loads(payload), schema_version)
