"""Sensors: user functions, polled at an interval, that decide whether to request runs.

A sensor is a function of a `SensorContext` (its cursor, the previous tick's time, now,
and the latest stored facts per asset) that returns run requests or a reason to skip.
The daemon asks `sensor_due` whether a sensor's interval has elapsed, calls
`evaluate_sensor`, stores the outcome's cursor and status, and queues its requests.

Decisions worth knowing:

* **The cursor** is an opaque string the sensor keeps between ticks. It advances when the
  function sets it (``context.update_cursor(...)`` or ``SensorResult(cursor=...)``), on a
  skip as well as on success. When the evaluation fails or times out the outcome carries
  the cursor it started with, so the retry at the next interval sees the same state.
* **Run keys are scoped to the sensor**: a request's ``run_key`` ``k`` becomes
  ``sensor:<name>:k``, so two sensors cannot swallow each other's runs, and every request
  is tagged ``headwater/sensor``. A request without a run key is queued every time it is
  returned.
* **A sensor never blocks the others**: the function runs in a daemon thread and
  `evaluate_sensor` waits at most ``sensor.timeout`` seconds (real time — a timeout is
  about wall-clock patience, not the tick's ``now``). A thread that overruns cannot be
  killed in Python, so it is abandoned: its result is ignored and the tick is recorded
  as failed. While an abandoned evaluation of a sensor is still running, the next one is
  refused (failed, "still running") instead of piling up threads.
* **Asset sensors** (`asset_sensor`) are built in: they fire one request for a target
  selection whenever a watched asset has a materialization newer than the one recorded
  in their cursor (JSON ``{asset key: timestamp or null}``). Their first evaluation only
  records the current state — deploying one over long-materialized assets does not fire.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import GeneratorType
from typing import Any, Literal

from headwater.automation.run_requests import RunRequest, SkipReason
from headwater.automation.schedules import MODES, NAME_PATTERN
from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts
from headwater.core.selection import select
from headwater.errors import DefinitionError, SelectionError

__all__ = [
    "SensorContext",
    "SensorDefinition",
    "SensorResult",
    "SensorTickOutcome",
    "asset_sensor",
    "evaluate_sensor",
    "sensor",
    "sensor_due",
    "validate_sensors",
]

SENSOR_TAG = "headwater/sensor"
TRIGGERED_BY_TAG = "headwater/triggered_by"


@dataclass(frozen=True)
class SensorDefinition:
    """A named sensor: ``fn(context)`` (``fn(context, watched)`` for ``kind="asset"``).

    ``watch_selection`` and ``target_selection`` are set for asset sensors only: the daemon
    resolves ``watch_selection`` against the graph and passes the keys to `evaluate_sensor`.
    """

    name: str
    fn: Callable[..., Any]
    interval: float
    timeout: float
    default_enabled: bool
    description: str | None
    kind: str = "sensor"
    watch_selection: str | None = None
    target_selection: str | None = None


@dataclass(frozen=True)
class SensorResult:
    """Everything a sensor may return at once: requests or a skip reason, and a cursor."""

    run_requests: Sequence[RunRequest] = ()
    skip_reason: str | SkipReason | None = None
    cursor: str | None = None
    # keys to add to dynamic partitions definitions before the requests are queued
    add_dynamic_partitions: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass
class SensorContext:
    """What a sensor function sees. ``facts`` holds the latest stored facts per asset."""

    cursor: str | None
    last_tick_time: float | None
    now: float
    facts: Mapping[AssetKey, AssetFacts] = field(default_factory=dict)
    sensor_name: str = ""
    _cursor_updated: bool = field(default=False, init=False, repr=False, compare=False)

    def update_cursor(self, cursor: str) -> None:
        """Set the cursor the next tick will see (kept even if this tick skips)."""
        if not isinstance(cursor, str):
            raise TypeError(f"a sensor cursor is a string, not {type(cursor).__name__}")
        self.cursor = cursor
        self._cursor_updated = True


@dataclass(frozen=True)
class SensorTickOutcome:
    """The result of one evaluation; the daemon records it as the sensor's tick.

    ``cursor`` is what to store for the next tick in every case (unchanged on failure).
    """

    status: Literal["success", "skipped", "failed"]
    run_requests: tuple[RunRequest, ...] = ()
    cursor: str | None = None
    skip_reason: str = ""
    error_message: str = ""
    error_traceback: str = ""
    dynamic_partitions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# --------------------------------------------------------------------------- definitions


def sensor(
    name: str | Callable[..., Any] | None = None,
    *,
    interval: float = 30,
    timeout: float = 60,
    enabled: bool = True,
    description: str | None = None,
) -> Any:
    """Decorate ``fn(context)`` into a `SensorDefinition`; ``@sensor`` and ``@sensor(...)`` both work.

    The name defaults to the function's name and the description to its docstring.
    """
    if callable(name):
        return sensor()(name)

    def decorate(fn: Callable[..., Any]) -> SensorDefinition:
        sensor_name = name if name is not None else getattr(fn, "__name__", None)
        _check_name(sensor_name)
        where = f"sensor {sensor_name!r}"
        if not callable(fn):
            raise DefinitionError(f"{where}: @sensor decorates a function, not {type(fn).__name__}")
        try:
            inspect.signature(fn).bind(None)
        except TypeError:
            raise DefinitionError(f"{where}: the function must take exactly one argument, the context") from None
        except ValueError:
            pass  # no signature to inspect (a builtin): find out when it is called
        return SensorDefinition(
            name=sensor_name,
            fn=fn,
            interval=_seconds(interval, "interval", where),
            timeout=_seconds(timeout, "timeout", where),
            default_enabled=bool(enabled),
            description=description if description is not None else inspect.getdoc(fn),
        )

    return decorate


def asset_sensor(
    name: str,
    watch: str,
    target: str,
    *,
    interval: float = 30,
    mode: str = "all",
    timeout: float = 60,
    enabled: bool = True,
    description: str | None = None,
) -> SensorDefinition:
    """A sensor that requests ``target`` when any asset in ``watch`` is materialized anew.

    One request per tick however many watched assets changed; its run key hashes the
    triggering (asset, materialization time) pairs, so re-evaluating a tick whose cursor
    was not saved (a daemon crash) asks for the same run and queues nothing twice.
    """
    _check_name(name)
    where = f"asset sensor {name!r}"
    for label, text in (("watch", watch), ("target", target)):
        if not isinstance(text, str) or not text.strip():
            raise DefinitionError(f"{where}: the {label} selection must be a non-empty string, not {text!r}")
    if mode not in MODES:
        raise DefinitionError(f"{where}: mode must be one of {', '.join(MODES)}, not {mode!r}")
    return SensorDefinition(
        name=name,
        fn=_AssetWatch(target=target, mode=mode),
        interval=_seconds(interval, "interval", where),
        timeout=_seconds(timeout, "timeout", where),
        default_enabled=bool(enabled),
        description=description or f"requests {target!r} when {watch!r} is materialized",
        kind="asset",
        watch_selection=watch,
        target_selection=target,
    )


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise DefinitionError(f"invalid sensor name {name!r}: use letters, digits, '_', '.' or '-'")


def _seconds(value: object, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise DefinitionError(f"{where}: {what} must be a positive number of seconds, not {value!r}")
    return float(value)


def validate_sensors(sensors: Iterable[SensorDefinition], graph: AssetGraph) -> None:
    """Raise DefinitionError for a duplicate name or an asset sensor selection naming nothing known."""
    seen: set[str] = set()
    for s in sensors:
        if s.name in seen:
            raise DefinitionError(f"sensor {s.name!r} is defined more than once")
        seen.add(s.name)
        for label, text in (("watch", s.watch_selection), ("target", s.target_selection)):
            if text is None:
                continue
            try:
                select(graph, text, {})  # names only: state is read when it fires
            except SelectionError as exc:
                raise DefinitionError(f"sensor {s.name!r}: {label} selection: {exc}") from exc


# --------------------------------------------------------------------------- evaluation


def sensor_due(sensor: SensorDefinition, last_tick_time: float | None, now: float) -> bool:
    """Whether ``sensor.interval`` has elapsed since the last tick (never ticked: due).

    A clock that went backwards also makes the sensor due, rather than silencing it until
    the clock catches up.
    """
    if last_tick_time is None or now < last_tick_time:
        return True
    return now - last_tick_time >= sensor.interval


_running: dict[str, threading.Thread] = {}
_running_lock = threading.Lock()


@dataclass
class _Box:
    result: Any = None
    error: BaseException | None = None
    traceback: str = ""


def evaluate_sensor(
    sensor: SensorDefinition,
    context: SensorContext,
    watched: frozenset[AssetKey] | None = None,
) -> SensorTickOutcome:
    """Run the sensor's function once, at most ``sensor.timeout`` seconds, and judge its result.

    ``watched`` is the resolved watch selection of an asset sensor (required for those,
    ignored otherwise). Never raises for anything the user function does: exceptions,
    overruns and wrong return values all become a failed outcome naming the sensor.
    """
    name = sensor.name
    start_cursor = context.cursor
    # The function gets its own copy: an abandoned thread can only mutate that.
    ctx = replace(context, sensor_name=name)

    def failed(message: str, tb: str = "") -> SensorTickOutcome:
        return SensorTickOutcome("failed", cursor=start_cursor, error_message=message, error_traceback=tb)

    if sensor.kind == "asset":
        if watched is None:
            return failed(f"asset sensor {name!r}: evaluate_sensor needs the keys its watch selection "
                          f"{sensor.watch_selection!r} resolves to (watched=...)")
        keys = frozenset(watched)

        def call() -> Any:
            return sensor.fn(ctx, keys)
    else:

        def call() -> Any:
            return sensor.fn(ctx)

    box = _Box()
    done = threading.Event()

    def work() -> None:
        try:
            result = call()
            if isinstance(result, GeneratorType):  # drained here, so the timeout covers it
                result = list(result)
            box.result = result
        except BaseException as exc:  # everything the user does is reported, even SystemExit
            box.error = exc
            box.traceback = _user_traceback(exc)
        finally:
            with _running_lock:
                if _running.get(name) is threading.current_thread():
                    del _running[name]
            done.set()

    thread = threading.Thread(target=work, name=f"headwater-sensor:{name}", daemon=True)
    with _running_lock:
        previous = _running.get(name)
        if previous is not None and previous.is_alive():
            return failed(f"sensor {name!r}: an earlier evaluation that timed out is still running; "
                          "not starting another until it ends")
        _running[name] = thread
    thread.start()
    if not done.wait(sensor.timeout):
        return failed(f"sensor {name!r} timed out after {sensor.timeout:g}s (its evaluation was "
                      "abandoned and may still be running)")
    if box.error is not None:
        exc = box.error
        return failed(f"sensor {name!r} raised {type(exc).__name__}: {exc}", box.traceback)
    try:
        requests, skip_reason, cursor = _interpret(box.result, ctx)
    except _BadResult as exc:
        return failed(f"sensor {name!r} {exc}")
    if cursor is None:
        cursor = start_cursor
    adds = {n: tuple(keys) for n, keys in box.result.add_dynamic_partitions.items()} \
        if isinstance(box.result, SensorResult) else {}
    if requests:
        return SensorTickOutcome("success", tuple(_scoped(r, name) for r in requests), cursor,
                                 dynamic_partitions=adds)
    return SensorTickOutcome("skipped", (), cursor, skip_reason=skip_reason, dynamic_partitions=adds)


class _BadResult(Exception):
    pass


_EXPECTED = "a RunRequest, a list of RunRequest, a SkipReason, a SensorResult or None"


def _interpret(result: Any, ctx: SensorContext) -> tuple[list[RunRequest], str, str | None]:
    """(requests, skip reason, new cursor or None for unchanged) from what the function returned."""
    cursor = ctx.cursor if ctx._cursor_updated else None
    if result is None:
        return [], "no result", cursor
    if isinstance(result, SkipReason):
        return [], _reason(result.reason), cursor
    if isinstance(result, RunRequest):
        return [_checked(result)], "", cursor
    if isinstance(result, SensorResult):
        if result.cursor is not None:
            if ctx._cursor_updated:
                raise _BadResult("set its cursor twice (context.update_cursor and SensorResult.cursor): "
                                 "use one")
            if not isinstance(result.cursor, str):
                raise _BadResult(f"returned a cursor of type {type(result.cursor).__name__}; a cursor "
                                 "is a string")
            cursor = result.cursor
        if isinstance(result.run_requests, (str, bytes)) or not isinstance(result.run_requests, Iterable):
            raise _BadResult("returned SensorResult.run_requests that is not a list of RunRequest")
        requests = [_checked(r) for r in result.run_requests]
        reason = result.skip_reason
        if reason is not None and requests:
            raise _BadResult("returned both run requests and a skip reason: return one or the other")
        if isinstance(reason, SkipReason):
            reason = reason.reason
        if reason is not None and not isinstance(reason, str):
            raise _BadResult(f"returned a skip reason of type {type(reason).__name__}; expected a string")
        return requests, "" if requests else _reason(reason or "no run requests"), cursor
    if isinstance(result, (list, tuple)):
        if len(result) == 1 and isinstance(result[0], SkipReason):  # a generator that yielded a skip
            return [], _reason(result[0].reason), cursor
        return [_checked(r) for r in result], "no run requests", cursor
    raise _BadResult(f"returned {type(result).__name__}; expected {_EXPECTED}")


def _reason(reason: object) -> str:
    return reason if isinstance(reason, str) else str(reason)


def _checked(request: object) -> RunRequest:
    if not isinstance(request, RunRequest):
        raise _BadResult(f"returned a {type(request).__name__} among its run requests; expected {_EXPECTED}")
    if not isinstance(request.selection, str) or not request.selection.strip():
        raise _BadResult(f"returned a run request whose selection is {request.selection!r}; expected a "
                         "selection string such as '*' or 'sales/*'")
    if request.run_key is not None and not isinstance(request.run_key, str):
        raise _BadResult(f"returned a run key of type {type(request.run_key).__name__}; expected a string")
    if not isinstance(request.tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in request.tags.items()
    ):
        raise _BadResult(f"returned run request tags {request.tags!r}; expected a mapping of str to str")
    if not all(isinstance(k, AssetKey) for k in request.asset_keys):
        raise _BadResult("returned run request asset_keys that are not all AssetKey")
    return request


def _scoped(request: RunRequest, name: str) -> RunRequest:
    run_key = None if request.run_key is None else f"sensor:{name}:{request.run_key}"
    return replace(request, run_key=run_key, tags={**request.tags, SENSOR_TAG: name})


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's own frames on (ours are noise to them); for a function run
    in its code location's process, the traceback as that process saw it."""
    remote = getattr(exc, "user_traceback", None)
    if isinstance(remote, str) and remote:
        return remote
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


# --------------------------------------------------------------------------- asset sensors


@dataclass(frozen=True)
class _AssetWatch:
    """The evaluation function of an asset sensor: pure in (context, watched keys)."""

    target: str
    mode: str

    def __call__(self, context: SensorContext, watched: frozenset[AssetKey]) -> SensorResult:
        current: dict[str, float | None] = {}
        for key in watched:
            facts = context.facts.get(key)
            m = facts.last_materialization if facts is not None else None
            current[str(key)] = m.timestamp if m is not None else None
        cursor = json.dumps(current, sort_keys=True, separators=(",", ":"))
        n = len(current)
        if context.cursor is None:
            return SensorResult(
                skip_reason=f"first evaluation: recorded the latest materializations of {n} watched "
                "asset(s); the next new one fires",
                cursor=cursor,
            )
        previous = _read_cursor(context.cursor)
        if previous is None:
            return SensorResult(skip_reason="the cursor was unreadable: recorded the current state "
                                "instead of firing", cursor=cursor)
        # A key absent from the cursor was just added to the watch: recorded, like a first
        # evaluation. A key recorded as null (never materialized) fires on its first one.
        triggers = sorted((k, ts) for k, ts in current.items() if _newer(ts, k, previous))
        if not triggers:
            return SensorResult(skip_reason=f"no new materialization of the {n} watched asset(s)",
                                cursor=cursor)
        digest = hashlib.sha256("\n".join(f"{k}@{ts!r}" for k, ts in triggers).encode()).hexdigest()[:16]
        request = RunRequest(
            selection=self.target,
            run_key=digest,
            tags={TRIGGERED_BY_TAG: ",".join(k for k, _ in triggers)},
            mode=self.mode,
        )
        return SensorResult(run_requests=[request], cursor=cursor)


def _newer(ts: float | None, key: str, previous: Mapping[str, float | None]) -> bool:
    if ts is None or key not in previous:
        return False
    before = previous[key]
    return before is None or ts > before


def _read_cursor(text: str) -> dict[str, float | None] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for value in data.values():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return None
    return data
