"""Schedules: a cron line in a time zone that requests an asset selection.

A schedule is data (`ScheduleDefinition`); deciding what it should request is a pure
function of (definition, the last tick's watermark, now), `schedule_tick`. The daemon
remembers the watermark it returns (``InstigatorState.last_tick_time``) and queues the run
requests; the ``run_key`` of each request names the fire time, so a tick re-evaluated
after a crash asks for the same runs and queues nothing twice.

Daylight saving time — decisions worth knowing. A schedule means *wall-clock* times in
its zone, and every matching wall-clock time fires exactly once:

* **Spring forward** (a local hour does not exist): a wall time in the gap fires at the
  first instant after the gap — ``30 2 * * *`` in Europe/Berlin on 2026-03-29 fires at
  03:00 CEST (01:00 UTC). Several wall times in one gap (``*/15 * * * *``) and a wall
  time already at the end of the gap (``0 * * * *`` at 03:00) merge into that one fire.
  So an hourly schedule fires 23 times on that day, a daily one once.
* **Fall back** (a local hour occurs twice): a repeated wall time fires at its *first*
  occurrence only — ``30 2 * * *`` in Europe/Berlin on 2026-10-25 fires at 02:30 CEST
  (00:30 UTC), not again at 02:30 CET. An hourly schedule therefore does not rerun the
  repeated hour: it fires at 02:00 CEST (00:00 UTC) and next at 03:00 CET (02:00 UTC),
  24 fires on a 25-hour day. (Vixie cron reruns wildcard jobs in the repeated hour; we
  prefer never requesting the same wall-clock slot twice.)

Fire times are therefore strictly increasing and unique. croniter's own zone handling
fires a repeated wall time twice and depends on where iteration starts, so this module
iterates croniter over naive wall-clock times and maps each one to an instant itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from headwater.automation.run_requests import RunRequest
from headwater.core.asset_graph import AssetGraph
from headwater.core.cron import Cron, latest_fire_times
from headwater.core.selection import select
from headwater.errors import DefinitionError, SelectionError

__all__ = [
    "ScheduleDefinition",
    "fire_times",
    "preview",
    "schedule",
    "schedule_tick",
    "tick_iso",
    "validate_schedules",
]

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+")
MODES = ("all", "stale", "missing")
SCHEDULE_TAG = "headwater/schedule"
TICK_TAG = "headwater/tick"


@dataclass(frozen=True)
class ScheduleDefinition:
    """A named cron line in a time zone (inside ``cron``) and the selection it requests.

    ``default_enabled`` applies until someone turns the schedule on or off; the daemon
    keeps that choice in ``InstigatorState.enabled``.
    """

    name: str
    cron: Cron
    selection: str
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    default_enabled: bool = True
    description: str | None = None
    mode: str = "all"

    @property
    def timezone(self) -> str:
        return self.cron.timezone


def schedule(
    name: str,
    cron: str,
    selection: str = "*",
    *,
    timezone: str = "UTC",
    tags: Mapping[str, str] | None = None,
    enabled: bool = True,
    description: str | None = None,
    mode: str = "all",
) -> ScheduleDefinition:
    """Declare a schedule; every bad argument raises DefinitionError naming the schedule.

    The selection is only parsed when the definitions are validated against the graph
    (`validate_schedules`), because that is when unknown keys can be reported.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise DefinitionError(f"invalid schedule name {name!r}: use letters, digits, '_', '.' or '-'")
    where = f"schedule {name!r}"
    if not isinstance(cron, str):
        raise DefinitionError(f"{where}: the cron line must be a string, not {type(cron).__name__}")
    if not isinstance(timezone, str):
        raise DefinitionError(f"{where}: the time zone must be a string, not {type(timezone).__name__}")
    try:
        parsed = Cron(cron.strip(), timezone)
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc}") from exc
    from croniter import CroniterError, croniter  # imported by the first schedule declared

    try:
        croniter(parsed.expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterError as exc:
        raise DefinitionError(f"{where}: cron expression {cron!r} never fires") from exc
    if not isinstance(selection, str) or not selection.strip():
        raise DefinitionError(f"{where}: the selection must be a non-empty string, not {selection!r}")
    if mode not in MODES:
        raise DefinitionError(f"{where}: mode must be one of {', '.join(MODES)}, not {mode!r}")
    return ScheduleDefinition(
        name=name,
        cron=parsed,
        selection=selection,
        tags=_check_tags(tags, where),
        default_enabled=bool(enabled),
        description=description,
        mode=mode,
    )


def _check_tags(tags: Mapping[str, str] | None, where: str) -> Mapping[str, str]:
    if tags is None:
        return MappingProxyType({})
    if not isinstance(tags, Mapping):
        raise DefinitionError(f"{where}: tags must be a mapping of str to str, not {type(tags).__name__}")
    for k, v in tags.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise DefinitionError(f"{where}: tag {k!r}: {v!r} is not str to str")
    return MappingProxyType(dict(tags))


# --------------------------------------------------------------------------- fire times


def fire_times(schedule: ScheduleDefinition, after: float, until: float) -> list[float]:
    """Every fire time ``t`` (POSIX seconds) with ``after < t <= until``, increasing."""
    out: list[float] = []
    for t in schedule.cron.iter_after(after):
        if t > until:
            break
        out.append(t)
    return out


def preview(schedule: ScheduleDefinition, start: float, count: int = 10) -> list[float]:
    """The next ``count`` fire times strictly after ``start`` (what ``schedule preview`` shows)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    out: list[float] = []
    if count == 0:
        return out
    for t in schedule.cron.iter_after(start):
        out.append(t)
        if len(out) == count:
            break
    return out




# --------------------------------------------------------------------------- tick


def tick_iso(t: float) -> str:
    """A fire time as ISO 8601 UTC (``2026-03-29T01:00:00Z``): the tick's name in run keys."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_tick(
    schedule: ScheduleDefinition,
    last_tick_time: float | None,
    now: float,
    max_catchup: int = 1,
) -> tuple[list[RunRequest], float | None]:
    """What ``schedule`` requests at ``now``, and the watermark to remember for next time.

    * First evaluation (``last_tick_time`` None): nothing fires and ``now`` becomes the
      watermark, so a newly deployed (or newly enabled, if the daemon clears the state)
      daily schedule waits for its next fire time instead of firing at once.
    * Otherwise the fire times in ``(last_tick_time, now]`` are due, but only the newest
      ``max_catchup`` are requested: a daemon that was down for a week fires a daily
      schedule once (for the latest missed time), not seven times. Raise ``max_catchup``
      to backfill missed ticks.
    * The watermark returned is the newest fire time processed, or ``last_tick_time``
      unchanged when nothing was due (so a clock that jumps backwards fires nothing and
      forgets nothing).

    Each request's ``run_key`` is ``schedule:<name>:<fire time, ISO UTC>``: stable for a
    tick, unique across ticks.
    """
    if max_catchup < 1:
        raise ValueError(f"max_catchup must be >= 1, not {max_catchup}")
    if last_tick_time is None:
        return [], now
    if now <= last_tick_time:
        return [], last_tick_time
    due = latest_fire_times(schedule.cron, last_tick_time, now, max_catchup)
    requests = [_request(schedule, t) for t in due]
    return requests, (due[-1] if due else last_tick_time)


def _request(schedule: ScheduleDefinition, t: float) -> RunRequest:
    iso = tick_iso(t)
    return RunRequest(
        selection=schedule.selection,
        run_key=f"schedule:{schedule.name}:{iso}",
        tags={**schedule.tags, SCHEDULE_TAG: schedule.name, TICK_TAG: iso},
        mode=schedule.mode,
    )


# --------------------------------------------------------------------------- validation


def validate_schedules(schedules: Iterable[ScheduleDefinition], graph: AssetGraph) -> None:
    """Raise DefinitionError for a duplicate name or a selection that names nothing known."""
    seen: set[str] = set()
    for s in schedules:
        if s.name in seen:
            raise DefinitionError(f"schedule {s.name!r} is defined more than once")
        seen.add(s.name)
        try:
            select(graph, s.selection, {})  # names only: state is read when it fires
        except SelectionError as exc:
            raise DefinitionError(f"schedule {s.name!r}: {exc}") from exc
