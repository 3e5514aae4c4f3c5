"""Freshness: does an asset's *data time* meet its policy (docs/design.md §2)?

A policy bounds how old the content may be, not how long ago a job ran: a pipeline that
ran on time over a source that landed four hours late is overdue. Two kinds:

* ``max_lag`` — at any moment, data time must be within ``max_lag`` of now
  (``warn_lag`` earlier gives a warning first);
* a cron deadline — at each tick of ``deadline`` (in ``timezone``), data time must be at
  least ``tick - lag`` ("by 07:00 Europe/Berlin, data as of 02:00" is
  ``deadline="0 7 * * *", lag=5h``); the requirement of the latest tick holds until the
  next one.

Pure: ``evaluate`` takes ``now``; nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache

from headwater.core.cron import Cron
from headwater.errors import DefinitionError

_TICKS_WALKED = 4  # deadlines after now walked one by one (memoized) before one direct step


class FreshnessState(StrEnum):
    FRESH = "fresh"
    WARN = "warn"
    OVERDUE = "overdue"
    UNKNOWN = "unknown"


def _seconds(value: float | timedelta | None, what: str) -> float | None:
    if value is None:
        return None
    secs = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if secs < 0:
        raise DefinitionError(f"freshness policy: {what} must not be negative")
    return secs


@dataclass(frozen=True, slots=True)
class FreshnessPolicy:
    max_lag: float | None = None
    warn_lag: float | None = None
    deadline: Cron | None = None
    lag: float = 0.0

    def __post_init__(self) -> None:
        if (self.max_lag is None) == (self.deadline is None):
            raise DefinitionError("a freshness policy needs either max_lag or a cron deadline (exactly one)")
        limit = self.max_lag if self.max_lag is not None else self.lag
        if self.warn_lag is not None and self.warn_lag >= limit and self.max_lag is not None:
            raise DefinitionError(f"freshness policy: warn_lag ({_fmt(self.warn_lag)}) must be smaller than "
                                  f"max_lag ({_fmt(limit)})")
        if self.warn_lag is not None and self.deadline is not None and self.warn_lag >= self.lag:
            raise DefinitionError(f"freshness policy: warn_lag ({_fmt(self.warn_lag)}) must be smaller than "
                                  f"lag ({_fmt(self.lag)})")

    @staticmethod
    def within(max_lag: float | timedelta, warn_lag: float | timedelta | None = None) -> FreshnessPolicy:
        """Data time must always be within ``max_lag`` of now."""
        return FreshnessPolicy(max_lag=_seconds(max_lag, "max_lag"), warn_lag=_seconds(warn_lag, "warn_lag"))

    @staticmethod
    def by_deadline(deadline: str, lag: float | timedelta = 0, timezone: str = "UTC",
                    warn_lag: float | timedelta | None = None) -> FreshnessPolicy:
        """At each tick of ``deadline``, data must be as of ``tick - lag`` or newer."""
        return FreshnessPolicy(deadline=Cron(deadline, timezone), lag=_seconds(lag, "lag") or 0.0,
                               warn_lag=_seconds(warn_lag, "warn_lag"))

    def describe(self) -> str:
        if self.max_lag is not None:
            warn = f" (warn after {_fmt(self.warn_lag)})" if self.warn_lag is not None else ""
            return f"data no older than {_fmt(self.max_lag)}{warn}"
        assert self.deadline is not None
        return (f"by each '{self.deadline.expression}' ({self.deadline.timezone}), "
                f"data as of {_fmt(self.lag)} before it")

    def evaluate(self, data_time: float | None, now: float) -> FreshnessStatus:
        if data_time is None:
            return FreshnessStatus(FreshnessState.UNKNOWN, self, None, now,
                                   reason="no data time yet (never materialized or observed)")
        if self.max_lag is not None:
            return self._evaluate_lag(data_time, now)
        return self._evaluate_deadline(data_time, now)

    def _evaluate_lag(self, data_time: float, now: float) -> FreshnessStatus:
        assert self.max_lag is not None
        lag = now - data_time
        due = data_time + self.max_lag
        if lag > self.max_lag:
            return FreshnessStatus(FreshnessState.OVERDUE, self, data_time, now, overdue_since=due,
                                   late_by=lag - self.max_lag,
                                   reason=f"data is {_fmt(lag)} old, more than the allowed {_fmt(self.max_lag)}")
        if self.warn_lag is not None and lag > self.warn_lag:
            return FreshnessStatus(FreshnessState.WARN, self, data_time, now, next_deadline=due,
                                   reason=f"data is {_fmt(lag)} old, past the warning at {_fmt(self.warn_lag)}")
        if lag < 0:  # a source whose clock runs ahead of ours
            return FreshnessStatus(FreshnessState.FRESH, self, data_time, now, next_deadline=due,
                                   reason=f"data time is {_fmt(-lag)} ahead of the clock, within {_fmt(self.max_lag)}")
        return FreshnessStatus(FreshnessState.FRESH, self, data_time, now, next_deadline=due,
                               reason=f"data is {_fmt(lag)} old, within {_fmt(self.max_lag)}")

    def _evaluate_deadline(self, data_time: float, now: float) -> FreshnessStatus:
        assert self.deadline is not None
        tick = self.deadline.previous(now)
        required = tick - self.lag
        if data_time < required:
            return FreshnessStatus(FreshnessState.OVERDUE, self, data_time, now, overdue_since=tick,
                                   late_by=now - tick, required_data_time=required,
                                   reason=f"at the deadline the data had to be as of {_fmt(self.lag)} before it, "
                                          f"but it is {_fmt(required - data_time)} older than that")
        # Fine for the latest deadline: when will it next be missed if nothing new arrives? At
        # the first tick after both now and data_time + lag. The next few ticks after ``now``
        # are shared by every asset with this deadline (memoized); past those, one step to the
        # answer — walking tick by tick from a data time far ahead of the clock (a skewed
        # source) took thousands of steps.
        nxt = self.deadline.next(now)
        for _ in range(_TICKS_WALKED):
            if data_time < nxt - self.lag:
                break
            nxt = self.deadline.next(nxt)
        else:
            if data_time >= nxt - self.lag:
                nxt = self.deadline.next(data_time + self.lag)
        if self.warn_lag is not None and data_time < tick - self.warn_lag:
            return FreshnessStatus(FreshnessState.WARN, self, data_time, now, next_deadline=nxt,
                                   required_data_time=required,
                                   reason=f"data meets the deadline with less than {_fmt(self.lag - self.warn_lag)} "
                                          "to spare")
        return FreshnessStatus(FreshnessState.FRESH, self, data_time, now, next_deadline=nxt,
                               required_data_time=required, reason="data met the latest deadline")


# A derived result, rebuilt for every asset on every read: not frozen, because a frozen
# dataclass's __init__ (object.__setattr__ per field) costs five times a plain one's, a
# fifth of a 10,000-asset health read. Nothing mutates it; treat it as a value.
@dataclass(slots=True, unsafe_hash=True)
class FreshnessStatus:
    state: FreshnessState
    policy: FreshnessPolicy
    data_time: float | None
    evaluated_at: float
    overdue_since: float | None = None
    late_by: float | None = None
    next_deadline: float | None = None  # when it becomes overdue if no newer data arrives
    required_data_time: float | None = None
    reason: str = ""


# Pure, and asked the same few values over and over: every policy's own lags, and the ages
# of data times that whole subgraphs inherit from one source.
@lru_cache(maxsize=8192)
def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = abs(seconds)
    if seconds >= 86400 and seconds % 3600 == 0:
        return f"{seconds / 86400:g}d" if seconds % 86400 == 0 else f"{seconds / 3600:g}h"
    if seconds >= 3600:
        h, rest = divmod(int(seconds), 3600)
        m = rest // 60
        return f"{h}h{m:02d}m" if m else f"{h}h"
    if seconds >= 60:
        return f"{int(seconds // 60)}m"
    return f"{seconds:.0f}s"
