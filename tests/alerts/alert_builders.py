"""Hand-built health for alert tests, and a recording stand-in for the store's writer."""

from __future__ import annotations

from collections.abc import Sequence

from headwater.core.checks import CheckState, CheckStatus
from headwater.core.events import AlertState, AlertTransition, ErrorInfo, Event
from headwater.core.freshness import FreshnessPolicy
from headwater.core.health import AssetHealth, Health
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, MaterializationStatus

NOW = 1_700_000_000.0
HOUR = 3600.0


def health(key: str, *, failed: bool = False, overdue: bool = False, failing: Sequence[str] = (),
           warning: Sequence[str] = (), passing: Sequence[str] = (), missing: bool = False,
           now: float = NOW) -> AssetHealth:
    """An asset's health, built by hand from the facts the tests care about."""
    k = AssetKey.parse(key)
    if missing:
        status = AssetStatus(key=k, status=MaterializationStatus.MISSING)
        return AssetHealth(k, Health.UNKNOWN, ("never materialized",), status, None, ())
    status = AssetStatus(key=k, status=MaterializationStatus.FAILED if failed else MaterializationStatus.MATERIALIZED,
                         failure=ErrorInfo("boom: division by zero") if failed else None,
                         data_time=now - (5 * HOUR if overdue else 60), last_updated_at=now - 60)
    freshness = FreshnessPolicy.within(4 * HOUR).evaluate(status.data_time, now)
    checks = tuple(CheckStatus(k, n, CheckState.FAILED, "error", detail="3 null ids") for n in failing)
    checks += tuple(CheckStatus(k, n, CheckState.WARN, "warn", detail="a bit off") for n in warning)
    checks += tuple(CheckStatus(k, n, CheckState.PASSED, "error") for n in passing)
    degraded = []
    if failed:
        degraded.append("the latest materialization attempt failed: boom: division by zero")
    if overdue:
        degraded.append(f"overdue: {freshness.reason}")
    degraded += [f"check {n} failed: 3 null ids" for n in failing]
    warnings = [f"check {n} failed (warn): a bit off" for n in warning]
    if degraded:
        return AssetHealth(k, Health.DEGRADED, tuple(degraded + warnings), status, freshness, checks)
    if warnings:
        return AssetHealth(k, Health.WARNING, tuple(warnings), status, freshness, checks)
    return AssetHealth(k, Health.HEALTHY, ("materialized and up to date",), status, freshness, checks)


def firing(rule: str, key: str, condition: str = "overdue", at: float = NOW - HOUR) -> AlertTransition:
    return AlertTransition(run_id=None, timestamp=at, rule=rule, key=AssetKey.parse(key),
                           state=AlertState.FIRING, condition=condition, detail=f"{key} is {condition}")


def resolved(rule: str, key: str, condition: str = "overdue", at: float = NOW - HOUR) -> AlertTransition:
    return AlertTransition(run_id=None, timestamp=at, rule=rule, key=AssetKey.parse(key),
                           state=AlertState.RESOLVED, condition=condition, detail="")


class RecordingWriter:
    """Keeps every write (one list per call) and can be told to fail."""

    def __init__(self, fail_attempts: bool = False) -> None:
        self.writes: list[list[Event]] = []
        self.fail_attempts = fail_attempts

    def write(self, events: Sequence[Event]) -> None:
        if self.fail_attempts and not isinstance(events[0], AlertTransition):
            raise RuntimeError("database is locked")
        self.writes.append(list(events))

    @property
    def events(self) -> list[Event]:
        return [e for batch in self.writes for e in batch]
