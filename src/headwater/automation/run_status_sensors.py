"""Run-status sensors: react to runs that fail, succeed or are cancelled, once per run.

    @hw.run_status_sensor(status="failed", selection="group:marts")
    def page_on_call(context):
        notify(f"run {context.run.run_id} failed: {context.run.reason}")
        return hw.RunRequest(selection="marts_fallback")   # optional

A run-status sensor is a sensor (same interval, timeout, on/off switch, ticks) whose
function gets a ``RunStatusContext`` per finished run instead of one context per tick.

**Exactly once per run, across daemon restarts.** The cursor is the id of the last
``run_finished`` event handled (``EventStore.finished_runs``: a gap-free stream in commit
order, one event per run). Each matching run is handled on its own: the function is
called, its requests are queued under run keys derived from the run id
(``sensor:<name>:<run id>:<key or index>``), and a tick carrying the run's event id as the
new cursor is recorded. A daemon killed between the call and that tick calls the function
again for that run when it restarts — but its requests carry the same run keys, so what
it *does* through Headwater happens once; only side effects of the function itself (a
message sent) can repeat, in that one window. The first evaluation starts at the end of
the stream: deploying a sensor does not react to the whole history.

``selection`` limits it to runs that planned at least one of the selected assets
(``None``: every run). ``status`` is one of, or a list of, ``failed``, ``succeeded``,
``canceled`` (``cancelled`` is accepted).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from headwater.automation.run_requests import RunRequest
from headwater.automation.sensors import (
    SensorContext,
    SensorDefinition,
    _check_name,
    _seconds,
    evaluate_sensor,
)
from headwater.core.events import ErrorInfo, RunStatus, TickRecorded, TickStatus
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord
from headwater.core.selection import select
from headwater.errors import DefinitionError

KIND = "run_status"
BATCH = 100
_ALIASES = {"cancelled": "canceled", "success": "succeeded", "failure": "failed"}


@dataclass(frozen=True)
class RunStatusSensorDefinition(SensorDefinition):
    statuses: frozenset[RunStatus] = frozenset()


@dataclass
class RunStatusContext:
    """What a run-status sensor's function sees: the run that finished, and now."""

    run: RunRecord
    now: float
    sensor_name: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> RunStatus:
        return self.run.status


def run_status_sensor(
    name: str | Callable[..., Any] | None = None,
    *,
    status: str | Iterable[str] = "failed",
    selection: str | None = None,
    interval: float = 30,
    timeout: float = 60,
    enabled: bool = True,
    description: str | None = None,
) -> Any:
    """Decorate ``fn(context: RunStatusContext)`` into a run-status sensor."""
    if callable(name):
        return run_status_sensor()(name)

    def decorate(fn: Callable[..., Any]) -> RunStatusSensorDefinition:
        sensor_name = name if name is not None else getattr(fn, "__name__", None)
        _check_name(sensor_name)
        where = f"run status sensor {sensor_name!r}"
        if not callable(fn):
            raise DefinitionError(f"{where}: it decorates a function, not {type(fn).__name__}")
        try:
            inspect.signature(fn).bind(None)
        except TypeError:
            raise DefinitionError(f"{where}: the function must take exactly one argument, the context") from None
        except ValueError:
            pass
        if selection is not None and (not isinstance(selection, str) or not selection.strip()):
            raise DefinitionError(f"{where}: selection must be a non-empty selection string or None")
        return RunStatusSensorDefinition(
            name=sensor_name, fn=fn, interval=_seconds(interval, "interval", where),
            timeout=_seconds(timeout, "timeout", where), default_enabled=bool(enabled),
            description=description if description is not None else inspect.getdoc(fn),
            kind=KIND, watch_selection=selection, statuses=_statuses(status, where))

    return decorate


def _statuses(status: str | Iterable[str], where: str) -> frozenset[RunStatus]:
    names = [status] if isinstance(status, str) else list(status)
    out = set()
    for raw in names:
        value = _ALIASES.get(str(raw).lower(), str(raw).lower())
        try:
            run_status = RunStatus(value)
        except ValueError:
            run_status = None
        if run_status is None or not run_status.is_terminal:
            raise DefinitionError(f"{where}: status {raw!r} is not a status a run ends with: use failed, "
                                  "succeeded or canceled")
        out.add(run_status)
    if not out:
        raise DefinitionError(f"{where}: give at least one status")
    return frozenset(out)


def tick_run_status_sensor(sensor: RunStatusSensorDefinition, cursor: str | None, now: float, store: Any,
                           graph: Any, queue: Callable[[list[RunRequest], str], tuple[list[str], list[str]]],
                           record: Callable[[TickRecorded], None]) -> int:
    """Handle the runs that finished since ``cursor``, one tick per matching run; returns
    how many runs were handled. ``queue`` and ``record`` are the daemon's."""
    name = f"sensor:{sensor.name}"
    if cursor is None or not cursor.isdigit():
        start = store.last_event_id()
        record(TickRecorded(run_id=None, timestamp=now, instigator=name, status=TickStatus.SKIPPED, tick_time=now,
                            cursor=str(start), skip_reason="first evaluation: reacting to runs that finish from "
                                                           "now on"))
        return 0
    after = int(cursor)
    watched: frozenset[AssetKey] | None = (frozenset(select(graph, sensor.watch_selection))
                                           if sensor.watch_selection else None)
    handled = 0
    skipped_to = after
    for event_id, run in store.finished_runs(after, BATCH):
        if run.status not in sensor.statuses or (watched is not None and not watched & set(run.asset_keys)):
            skipped_to = event_id
            continue
        handled += 1
        outcome = _call(sensor, run, now)
        requests = [_keyed(r, sensor.name, run.run_id, i) for i, r in enumerate(outcome.run_requests)]
        keys, ids = queue(requests, name) if outcome.status == "success" else ([], [])
        error = ErrorInfo(outcome.error_message, "SensorError", outcome.error_traceback) \
            if outcome.status == "failed" else None
        record(TickRecorded(
            run_id=None, timestamp=now, instigator=name, status=TickStatus(outcome.status), tick_time=now,
            run_keys=tuple(keys), run_ids=tuple(ids), cursor=str(event_id),
            skip_reason=outcome.skip_reason or (f"run {run.run_id} {run.status.value}" if not ids else ""),
            error=error, evaluations={"run_id": run.run_id, "run_status": run.status.value}))
        skipped_to = event_id
    if skipped_to != after:  # runs seen that did not match, after the last one handled
        record(TickRecorded(run_id=None, timestamp=now, instigator=name, status=TickStatus.SKIPPED, tick_time=now,
                            cursor=str(skipped_to), skip_reason="no finished run matched"))
    elif handled == 0:
        record(TickRecorded(run_id=None, timestamp=now, instigator=name, status=TickStatus.SKIPPED, tick_time=now,
                            cursor=cursor, skip_reason="no run finished"))
    return handled


def _call(sensor: RunStatusSensorDefinition, run: RunRecord, now: float) -> Any:
    """The user function through ``evaluate_sensor``: same timeout, same judging of results."""
    context = RunStatusContext(run=run, now=now, sensor_name=sensor.name, tags=dict(run.tags))
    plain = replace(sensor, fn=lambda _ctx: sensor.fn(context), kind="sensor")
    return evaluate_sensor(plain, SensorContext(cursor=None, last_tick_time=None, now=now, sensor_name=sensor.name))


def _keyed(request: RunRequest, sensor_name: str, run_id: str, index: int) -> RunRequest:
    """A request scoped to the run it reacts to: queued once however often it is asked for.
    (``evaluate_sensor`` has already prefixed a user's own key with ``sensor:<name>:``.)"""
    prefix = f"sensor:{sensor_name}:"
    key = request.run_key
    own = key[len(prefix):] if key and key.startswith(prefix) else str(index)
    return replace(request, run_key=f"{prefix}{run_id}:{own}", tags={**request.tags, "headwater/run": run_id})
