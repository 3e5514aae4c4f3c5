"""Small builders for the events the storage tests write (also imported by worker processes)."""

from __future__ import annotations

from headwater.core.events import (
    AlertDeliveryAttempt,
    AlertState,
    AlertTransition,
    AssetMaterialized,
    AssetObserved,
    CheckEvaluated,
    CheckSeverity,
    ErrorInfo,
    Event,
    InputRecord,
    InstigatorToggled,
    ObservationUnchanged,
    RunFinished,
    RunQueued,
    RunStarted,
    RunStatus,
    StepStarted,
    StepSucceeded,
    TickRecorded,
    TickStatus,
)
from headwater.core.keys import AssetKey

T0 = 1_700_000_000.0


def key(text: str) -> AssetKey:
    return AssetKey.parse(text)


def started(run_id: str, at: float = T0, **fields: object) -> RunStarted:
    return RunStarted(run_id=run_id, timestamp=at, **fields)  # type: ignore[arg-type]


def finished(run_id: str, at: float, status: RunStatus = RunStatus.SUCCEEDED, reason: str = "") -> RunFinished:
    return RunFinished(run_id=run_id, timestamp=at, status=status, reason=reason)


def step_started(run_id: str, step_key: str, *keys: str, at: float = T0, attempt: int = 1) -> StepStarted:
    return StepStarted(run_id=run_id, timestamp=at, step_key=step_key,
                       asset_keys=tuple(map(key, keys or (step_key,))), attempt=attempt)


def step_succeeded(run_id: str, step_key: str, *keys: str, at: float = T0, attempt: int = 1) -> StepSucceeded:
    return StepSucceeded(run_id=run_id, timestamp=at, step_key=step_key,
                         asset_keys=tuple(map(key, keys or (step_key,))), attempt=attempt)


def materialized(run_id: str | None, asset: str, at: float = T0, version: str = "v1", partition: str = "",
                 inputs: tuple[str, ...] = (), **fields: object) -> AssetMaterialized:
    return AssetMaterialized(
        run_id=run_id, timestamp=at, step_key=asset, key=key(asset), partition=partition,
        code_version="c1", data_version=version, data_time=at - 60,
        inputs=tuple(InputRecord(key(i), "v1", at - 120) for i in inputs), deps=tuple(map(key, inputs)),
        **fields,  # type: ignore[arg-type]
    )


def observed(asset: str, at: float = T0, version: str = "s1", partition: str = "") -> AssetObserved:
    return AssetObserved(run_id=None, timestamp=at, key=key(asset), partition=partition, data_version=version,
                         data_time=at - 30, metadata={"rows": 3})


def whole_run(run_id: str, assets: list[str], at: float = T0) -> list[Event]:
    """A successful run materializing ``assets`` one step each."""
    events: list[Event] = [started(run_id, at)]
    for i, asset in enumerate(assets):
        t = at + 1 + i
        events += [step_started(run_id, asset, at=t), materialized(run_id, asset, at=t + 0.5),
                   step_succeeded(run_id, asset, at=t + 0.7)]
    events.append(finished(run_id, at + len(assets) + 2))
    return events


def checked(asset: str, name: str, passed: bool = True, at: float = T0, run_id: str | None = "r1",
            partition: str = "", severity: CheckSeverity = CheckSeverity.ERROR, **fields: object) -> CheckEvaluated:
    return CheckEvaluated(run_id=run_id, timestamp=at, step_key=asset, key=key(asset), partition=partition,
                          check_name=name, passed=passed, severity=severity, target_run_id=run_id,
                          target_timestamp=at - 1, **fields)  # type: ignore[arg-type]


def unchanged(asset: str, at: float = T0, version: str = "s1", partition: str = "") -> ObservationUnchanged:
    return ObservationUnchanged(run_id=None, timestamp=at, key=key(asset), partition=partition, data_version=version)


def transition(rule: str, asset: str, state: AlertState = AlertState.FIRING, at: float = T0,
               condition: str = "overdue", detail: str = "") -> AlertTransition:
    return AlertTransition(run_id=None, timestamp=at, rule=rule, key=key(asset), state=state, condition=condition,
                           detail=detail)


def delivery(rule: str, asset: str, channel: str = "slack", at: float = T0, ok: bool = True,
             attempt: int = 1, state: AlertState = AlertState.FIRING) -> AlertDeliveryAttempt:
    return AlertDeliveryAttempt(run_id=None, timestamp=at, rule=rule, key=key(asset), state=state, channel=channel,
                                attempt=attempt, ok=ok, detail="" if ok else "HTTP 500")


def queued(run_id: str, at: float = T0, run_key: str | None = None, **fields: object) -> RunQueued:
    return RunQueued(run_id=run_id, timestamp=at, run_key=run_key, **fields)  # type: ignore[arg-type]


def tick(instigator: str, at: float = T0, status: TickStatus = TickStatus.SUCCESS, cursor: str | None = None,
         tick_time: float | None = None, error: ErrorInfo | None = None, **fields: object) -> TickRecorded:
    return TickRecorded(run_id=None, timestamp=at, instigator=instigator, status=status, tick_time=tick_time,
                        cursor=cursor, error=error, **fields)  # type: ignore[arg-type]


def toggled(instigator: str, enabled: bool, at: float = T0) -> InstigatorToggled:
    return InstigatorToggled(run_id=None, timestamp=at, instigator=instigator, enabled=enabled)
