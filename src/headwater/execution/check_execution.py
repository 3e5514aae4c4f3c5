"""Evaluate an asset's checks against one materialization and report the results as events."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from typing import Any

from headwater.core.events import (
    AssetMaterialized,
    CheckEvaluated,
    CheckSeverity,
    ErrorInfo,
    Event,
    LogMessage,
)
from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey
from headwater.definitions.checks import CheckContext, CheckDefinition, CheckResult
from headwater.definitions.context import RunLogger

_NOT_LOADED = object()


def evaluate_checks(
    checks: tuple[CheckDefinition, ...],
    key: AssetKey,
    mat: AssetMaterialized | None,
    load_value: Callable[[], Any],
    resources: Mapping[str, Any],
    freshness: FreshnessPolicy | None,
    now: float,
    run_id: str | None,
    step_key: str,
    emit: Callable[[Event], None],
) -> list[CheckEvaluated]:
    """Run every check; the value is loaded at most once, and only if some check wants it."""
    value: Any = _NOT_LOADED
    out: list[CheckEvaluated] = []
    for c in checks:
        kwargs: dict[str, Any] = {p: resources[p] for p in c.resource_params}
        error: ErrorInfo | None = None
        try:
            if c.value_param is not None:
                if value is _NOT_LOADED:
                    value = load_value()
                kwargs[c.value_param] = value
            if c.context_param:
                kwargs["context"] = CheckContext(key, c.name, mat, freshness, now, resources,
                                                 RunLogger(emit, run_id or "", step_key))
            result = c.fn(**kwargs)
            if isinstance(result, bool):
                result = CheckResult(result)
            if not isinstance(result, CheckResult):
                raise TypeError(f"check {c.name} returned {type(result).__name__}; return a bool or CheckResult")
        except Exception as exc:  # a crashing check is a failing check, with its error kept
            error = ErrorInfo.from_exception(exc, traceback.format_exc())
            result = CheckResult(False, {}, f"the check raised {type(exc).__name__}: {exc}")
        if not result.ran:
            # Says nothing about the data: a line in the run's log, not a result.
            emit(LogMessage(run_id=run_id, timestamp=now, step_key=step_key, level="warning",
                            message=f"check {c.name} on {key} did not run: {result.description}"))
            continue
        out.append(CheckEvaluated(
            run_id=run_id, timestamp=now, step_key=step_key, key=key, partition=mat.partition if mat else "",
            check_name=c.name, passed=result.passed, severity=CheckSeverity(result.severity or c.spec.severity),
            blocking=c.spec.blocking, description=result.description, metadata=dict(result.metadata),
            target_run_id=mat.run_id if mat else None, target_timestamp=mat.timestamp if mat else None,
            error=error))
    return out


def reported_check(checks: tuple[CheckDefinition, ...], report: Any, mat: AssetMaterialized | None,
                   current: tuple[str | None, float] | None, now: float, run_id: str | None,
                   step_key: str) -> Event:
    """A ``CheckReport`` as the event it stands for: a result against the materialization
    made in this step, else the asset's current one (``current``), else none yet."""
    result = report.result
    check = next((c for c in checks if c.name == report.check_name), None)
    if check is None:
        return LogMessage(run_id=run_id, timestamp=now, step_key=step_key, level="warning",
                          message=f"{report.key} has no check {report.check_name}: its reported result is dropped")
    if not isinstance(result, CheckResult):
        raise TypeError(f"CheckReport for {report.check_name} on {report.key} holds {type(result).__name__}, "
                        "not a CheckResult")
    if not result.ran:
        return LogMessage(run_id=run_id, timestamp=now, step_key=step_key, level="warning",
                          message=f"check {check.name} on {report.key} did not run: {result.description}")
    if mat is not None:
        target: tuple[str | None, float | None] = (mat.run_id, mat.timestamp)
    else:
        target = current if current is not None else (None, None)
    return CheckEvaluated(
        run_id=run_id, timestamp=now, step_key=step_key, key=report.key, partition=mat.partition if mat else "",
        check_name=check.name, passed=result.passed, severity=CheckSeverity(result.severity or check.spec.severity),
        blocking=check.spec.blocking, description=result.description, metadata=dict(result.metadata),
        target_run_id=target[0], target_timestamp=target[1])
