"""Cron arithmetic in a time zone: the ticks before and after a moment.

Thin over croniter (a pure library, no I/O) so that freshness deadlines and, later,
schedules agree on what a cron line means. Times in and out are POSIX seconds;
``zoneinfo`` handles daylight saving time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

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
        if not croniter.is_valid(self.expression):
            raise DefinitionError(f"invalid cron expression {self.expression!r} "
                                  "(expected five fields: minute hour day-of-month month day-of-week)")

    def previous(self, now: float) -> float:
        """The latest tick at or before ``now``."""
        tz = ZoneInfo(self.timezone)
        start = datetime.fromtimestamp(now, tz)
        it = croniter(self.expression, start)
        if croniter.match(self.expression, start.replace(second=0, microsecond=0)) and start.second == 0 \
                and start.microsecond == 0:
            return now
        return float(it.get_prev(float))

    def next(self, now: float) -> float:
        """The first tick strictly after ``now``."""
        tz = ZoneInfo(self.timezone)
        return float(croniter(self.expression, datetime.fromtimestamp(now, tz)).get_next(float))
