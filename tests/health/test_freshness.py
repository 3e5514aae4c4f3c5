"""Freshness policies on data time, their validation, and where they apply."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import headwater as hw
from headwater.core.freshness import FreshnessPolicy, FreshnessState

UTC = ZoneInfo("UTC")


def t(day, hour, minute=0, tz=UTC):
    return datetime(2026, 3, day, hour, minute, tzinfo=tz).timestamp()


def test_max_lag_with_warning():
    p = FreshnessPolicy.within(timedelta(hours=2), warn_lag=timedelta(hours=1))
    assert p.evaluate(t(1, 10), t(1, 10, 30)).state is FreshnessState.FRESH
    w = p.evaluate(t(1, 10), t(1, 11, 30))
    assert w.state is FreshnessState.WARN and w.next_deadline == t(1, 12)
    o = p.evaluate(t(1, 10), t(1, 12, 45))
    assert o.state is FreshnessState.OVERDUE and o.overdue_since == t(1, 12) and o.late_by == 45 * 60
    assert p.evaluate(None, t(1, 10)).state is FreshnessState.UNKNOWN


def test_cron_deadline_in_a_time_zone():
    berlin = ZoneInfo("Europe/Berlin")
    p = FreshnessPolicy.by_deadline("0 9 * * *", lag=9 * 3600, timezone="Europe/Berlin")  # by 09:00, as of 00:00
    as_of_midnight = t(2, 0, 0, berlin)
    assert p.evaluate(as_of_midnight, t(2, 9, 30, berlin)).state is FreshnessState.FRESH
    late = p.evaluate(as_of_midnight - 1, t(2, 9, 30, berlin))
    assert late.state is FreshnessState.OVERDUE and late.overdue_since == t(2, 9, 0, berlin)
    # before today's deadline, yesterday's requirement holds
    assert p.evaluate(t(1, 0, 0, berlin), t(2, 8, 0, berlin)).state is FreshnessState.FRESH
    fresh = p.evaluate(as_of_midnight, t(2, 10, 0, berlin))
    assert fresh.next_deadline == t(3, 9, 0, berlin)


@pytest.mark.parametrize("make,message", [
    (lambda: FreshnessPolicy.within(3600, warn_lag=3600), "warn_lag (1h) must be smaller than max_lag (1h)"),
    (lambda: FreshnessPolicy.by_deadline("0 25 * * *"), "invalid cron expression '0 25 * * *'"),
    (lambda: FreshnessPolicy.by_deadline("0 9 * * *", timezone="Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    (lambda: FreshnessPolicy.within(-5), "must not be negative"),
    (lambda: FreshnessPolicy(), "needs either max_lag or a cron deadline"),
])
def test_invalid_policies_are_load_time_errors(make, message):
    with pytest.raises(hw.DefinitionError) as info:
        make()
    assert message in str(info.value)


def test_policies_come_from_the_asset_then_its_group_then_the_project_default():
    own = FreshnessPolicy.within(60)
    group = FreshnessPolicy.within(120)
    default = FreshnessPolicy.within(180)

    @hw.asset(group="marts", freshness=own)
    def a():
        pass

    @hw.asset(group="marts")
    def b():
        pass

    @hw.asset(group="raw")
    def c():
        pass

    defs = hw.Definitions(assets=[a, b, c], group_freshness={"marts": group}, default_freshness=default)
    got = {str(k): defs.graph.spec(k).freshness for k in defs.graph.keys}
    assert got == {"a": own, "b": group, "c": default}
    with pytest.raises(hw.DefinitionError, match="unknown group"):
        hw.Definitions(assets=[a], group_freshness={"nope": group})


def test_a_deadline_in_a_repeated_hour_counts_once_at_its_first_occurrence():
    # 2026-10-25, Europe/Berlin falls back at 03:00 CEST -> 02:00 CET: 02:30 happens twice.
    from headwater.core.cron import Cron

    cron = Cron("30 2 * * *", "Europe/Berlin")
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()   # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC).timestamp()  # 02:30 CET, the repeat
    assert cron.previous(second + 15 * 60) == first
    assert cron.next(first) > second  # the repeat is not a tick
    p = FreshnessPolicy.by_deadline("30 2 * * *", lag=3600, timezone="Europe/Berlin")
    assert p.evaluate(first - 1800, second + 900).overdue_since is None  # met at the one deadline


def _walked_next_deadline(policy, data_time, now):
    """The next deadline found tick by tick: the definition the one-step answer must match."""
    nxt = policy.deadline.next(now)
    while data_time >= nxt - policy.lag:
        nxt = policy.deadline.next(nxt)
    return nxt


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 6 * 86400), st.integers(-3 * 86400, 2 * 86400), st.sampled_from([0, 3600, 9 * 3600, 30 * 3600]),
       st.sampled_from(["0 9 * * *", "30 2 * * 1-5", "0 */6 * * *"]), st.sampled_from(["UTC", "Europe/Berlin"]))
def test_the_next_deadline_is_the_first_tick_after_now_that_the_data_would_miss(offset, age, lag, cron, zone):
    policy = FreshnessPolicy.by_deadline(cron, lag=lag, timezone=zone)
    now = t(1, 0) + offset
    status = policy.evaluate(now - age, now)
    if status.state is not FreshnessState.OVERDUE:
        assert status.next_deadline == _walked_next_deadline(policy, now - age, now)


def test_a_data_time_far_ahead_of_the_clock_is_fresh_until_the_deadline_after_it():
    """A skewed source reporting a data time a year ahead: one step, not 365 cron walks."""
    p = FreshnessPolicy.by_deadline("0 9 * * *", lag=9 * 3600)
    ahead = datetime(2027, 3, 1, 12, 0, tzinfo=UTC).timestamp()
    status = p.evaluate(ahead, t(1, 10))
    assert status.state is FreshnessState.FRESH
    assert status.next_deadline == datetime(2027, 3, 2, 9, 0, tzinfo=UTC).timestamp()


def test_a_data_time_ahead_of_the_clock_says_so():
    p = FreshnessPolicy.within(timedelta(hours=2))
    status = p.evaluate(t(1, 13), t(1, 10))
    assert status.state is FreshnessState.FRESH and status.next_deadline == t(1, 15)
    assert status.reason == "data time is 3h ahead of the clock, within 2h"
