"""Cron arithmetic in a time zone, on wall-clock time, correct across daylight saving time.

A cron line means *wall-clock* times in its zone and every matching wall-clock time fires
exactly once: a wall time in a spring-forward gap fires at the first instant after the
gap; a wall time repeated by a fall-back fires at its first occurrence only. croniter's
own zone handling fires a repeated wall time twice (and depends on where iteration
starts), so croniter iterates over naive wall-clock times here and each match is mapped
to an instant by ``_instant``. Freshness deadlines and schedules share this one meaning.
Times in and out are POSIX seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from headwater.errors import DefinitionError


@dataclass(frozen=True, slots=True)
class Cron:
    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise DefinitionError(f"unknown time zone {self.timezone!r}") from exc
        from croniter import croniter  # imported when a cron is first declared: most projects have none

        if not isinstance(self.expression, str) or not croniter.is_valid(self.expression):
            from headwater.core.cron_diagnosis import diagnose

            why = diagnose(self.expression) if isinstance(self.expression, str) else "it is not a string"
            raise DefinitionError(f"invalid cron expression {self.expression!r}: {why}")

    def previous(self, now: float) -> float:
        """The latest tick at or before ``now``."""
        return _previous(self, now)

    def next(self, now: float) -> float:
        """The first tick strictly after ``now``."""
        return _next(self, now)

    def iter_after(self, after: float) -> Iterator[float]:
        """Ticks strictly after ``after``, increasing and unique, without end."""
        return _forward(self, after)


# Pure, and asked again and again with the same arguments: health evaluates every asset's
# freshness deadline at one ``now``, and assets share a handful of deadlines. One croniter
# walk is ~100 µs, so 5,000 deadline policies cost half a second uncached.
@lru_cache(maxsize=4096)
def _previous(cron: Cron, now: float) -> float:
    found = latest_fire_times(cron, None, now, 1)
    if not found:
        raise DefinitionError(f"cron expression {cron.expression!r} never fired before {now}")
    return found[0]


@lru_cache(maxsize=4096)
def _next(cron: Cron, now: float) -> float:
    for t in _forward(cron, now):
        return t
    raise DefinitionError(f"cron expression {cron.expression!r} never fires after {now}")


def _forward(cron: Cron, after: float) -> Iterator[float]:
    """Fire times strictly after ``after``, increasing and unique, without end."""
    from croniter import CroniterError, croniter

    tz = ZoneInfo(cron.timezone)
    # Walls before the wall time of `after` map to instants at or before it (the mapping
    # is non-decreasing), so iteration can start there; later walls may still map to
    # `after` or earlier (the repeated hour's second pass), hence the filter.
    start = datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    it = croniter(cron.expression, start)
    last: float | None = None
    while True:
        try:
            wall = it.get_next(datetime)
        except CroniterError:  # no further match (a bounded expression); schedule() rejects none
            return
        t = _instant(wall, tz)
        if t > after and (last is None or t > last):
            last = t
            yield t


def latest_fire_times(cron: Cron, after: float | None, until: float, limit: int) -> list[float]:
    """Up to ``limit`` newest fire times in ``(after, until]``, increasing; walks backwards so
    that catching up after a long outage costs ``limit`` steps, not one per missed fire."""
    from croniter import CroniterError, croniter

    tz = ZoneInfo(cron.timezone)
    local = datetime.fromtimestamp(until, tz)
    start = local.replace(tzinfo=None)
    if local.fold:
        # `until` is in the second pass of a repeated hour: later walls were already
        # reached (first occurrence) before it, up to the size of the fold.
        first = local.replace(fold=0).utcoffset() or timedelta(0)
        second = local.utcoffset() or timedelta(0)
        start += first - second
    it = croniter(cron.expression, start + timedelta(seconds=1))
    found: list[float] = []
    while len(found) < limit:
        try:
            wall = it.get_prev(datetime)
        except CroniterError:
            break
        t = _instant(wall, tz)
        if after is not None and t <= after:
            break
        if t <= until and (not found or t != found[-1]):
            found.append(t)
    found.reverse()
    return found


def _instant(wall: datetime, tz: ZoneInfo) -> float:
    """The instant a naive wall-clock time fires at in ``tz``: its first occurrence when
    it is repeated, the end of the gap when it does not exist."""
    t = wall.replace(tzinfo=tz, fold=0).timestamp()  # the earlier instant when ambiguous
    if datetime.fromtimestamp(t, tz).replace(tzinfo=None) == wall:
        return t
    # In a gap: fold=0 applied the offset from before it, fold=1 the one from after it, so
    # the transition lies between the two readings; find its first second by bisection.
    lo = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    hi = int(t)
    if lo > hi:  # a gap the zone database describes oddly; never fire in the past
        lo, hi = hi, lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) > wall:
            hi = mid
        else:
            lo = mid
    return float(hi)
