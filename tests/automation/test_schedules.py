"""Schedules: DST-correct fire times against explicit UTC instants, catch-up, run keys, errors.

2026 transitions used below:
  Europe/Berlin     spring forward 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST)
                    fall back      2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET)
  America/New_York  spring forward 2026-03-08 07:00 UTC (02:00 EST -> 03:00 EDT)
                    fall back      2026-11-01 06:00 UTC (02:00 EDT -> 01:00 EST)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from headwater.automation.run_requests import RunRequest
from headwater.automation.schedules import (
    ScheduleDefinition,
    fire_times,
    preview,
    schedule,
    schedule_tick,
    tick_iso,
    validate_schedules,
)
from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec
from headwater.errors import DefinitionError

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
HOUR = 3600.0
DAY = 86400.0


def u(text: str) -> float:
    """POSIX seconds of an ISO UTC instant written like '2026-03-29T01:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(times: list[float]) -> list[str]:
    return [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M") for t in times]


def local_day(times: list[float], tz: str, day: str) -> list[float]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    return [t for t in times if datetime.fromtimestamp(t, zone).date().isoformat() == day]


# --------------------------------------------------------------------------- daily at 02:30


def test_berlin_daily_in_the_spring_gap_fires_once_at_the_end_of_the_gap():
    s = schedule("nightly", "30 2 * * *", timezone=BERLIN)
    assert iso(fire_times(s, u("2026-03-27T00:00"), u("2026-03-31T00:00"))) == [
        "2026-03-27T01:30",  # 02:30 CET
        "2026-03-28T01:30",  # 02:30 CET
        "2026-03-29T01:00",  # 02:30 does not exist: 03:00 CEST, the first instant after the gap
        "2026-03-30T00:30",  # 02:30 CEST
    ]


def test_berlin_daily_in_the_repeated_hour_fires_once_at_the_first_occurrence():
    s = schedule("nightly", "30 2 * * *", timezone=BERLIN)
    assert iso(fire_times(s, u("2026-10-23T00:00"), u("2026-10-27T00:00"))) == [
        "2026-10-23T00:30",
        "2026-10-24T00:30",
        "2026-10-25T00:30",  # 02:30 CEST; not again at 02:30 CET (01:30 UTC)
        "2026-10-26T01:30",  # 02:30 CET
    ]


def test_new_york_daily_in_the_spring_gap_and_the_repeated_hour():
    gap = schedule("ny_gap", "30 2 * * *", timezone=NEW_YORK)
    assert iso(fire_times(gap, u("2026-03-06T12:00"), u("2026-03-10T00:00"))) == [
        "2026-03-07T07:30",  # 02:30 EST
        "2026-03-08T07:00",  # 02:30 does not exist: 03:00 EDT
        "2026-03-09T06:30",  # 02:30 EDT
    ]
    repeated = schedule("ny_fold", "30 1 * * *", timezone=NEW_YORK)
    assert iso(fire_times(repeated, u("2026-10-31T00:00"), u("2026-11-03T00:00"))) == [
        "2026-10-31T05:30",  # 01:30 EDT
        "2026-11-01T05:30",  # 01:30 EDT, first occurrence; not again at 01:30 EST (06:30 UTC)
        "2026-11-02T06:30",  # 01:30 EST
    ]


def test_starting_inside_the_repeated_hour_does_not_fire_its_wall_time_again():
    # croniter alone, started at 02:10 CET (second pass), would fire 02:30 CET the same night.
    s = schedule("nightly", "30 2 * * *", timezone=BERLIN)
    assert iso(preview(s, u("2026-10-25T01:10"), 2)) == ["2026-10-26T01:30", "2026-10-27T01:30"]


# --------------------------------------------------------------------------- hourly and finer


def test_berlin_hourly_on_the_spring_forward_day():
    s = schedule("hourly", "0 * * * *", timezone=BERLIN)
    times = fire_times(s, u("2026-03-28T12:00"), u("2026-03-30T12:00"))
    assert iso(local_day(times, BERLIN, "2026-03-29")[:4]) == [
        "2026-03-28T23:00",  # 00:00 CET
        "2026-03-29T00:00",  # 01:00 CET
        "2026-03-29T01:00",  # 03:00 CEST (02:00 does not exist and merges into it)
        "2026-03-29T02:00",  # 04:00 CEST
    ]
    assert len(local_day(times, BERLIN, "2026-03-29")) == 23


def test_berlin_hourly_on_the_fall_back_day_does_not_rerun_the_repeated_hour():
    s = schedule("hourly", "0 * * * *", timezone=BERLIN)
    times = fire_times(s, u("2026-10-24T12:00"), u("2026-10-26T12:00"))
    assert iso(local_day(times, BERLIN, "2026-10-25")[:5]) == [
        "2026-10-24T22:00",  # 00:00 CEST
        "2026-10-24T23:00",  # 01:00 CEST
        "2026-10-25T00:00",  # 02:00 CEST
        "2026-10-25T02:00",  # 03:00 CET: 02:00 CET (01:00 UTC) is the repeated wall time
        "2026-10-25T03:00",  # 04:00 CET
    ]
    assert len(local_day(times, BERLIN, "2026-10-25")) == 24  # one per wall-clock hour


def test_new_york_hourly_across_both_transitions():
    s = schedule("hourly", "0 * * * *", timezone=NEW_YORK)
    assert iso(fire_times(s, u("2026-03-08T05:30"), u("2026-03-08T08:30"))) == [
        "2026-03-08T06:00",  # 01:00 EST
        "2026-03-08T07:00",  # 03:00 EDT (02:00 does not exist)
        "2026-03-08T08:00",
    ]
    assert iso(fire_times(s, u("2026-11-01T03:30"), u("2026-11-01T08:30"))) == [
        "2026-11-01T04:00",  # 00:00 EDT
        "2026-11-01T05:00",  # 01:00 EDT; 01:00 EST (06:00 UTC) is not rerun
        "2026-11-01T07:00",  # 02:00 EST
        "2026-11-01T08:00",
    ]


def test_every_quarter_hour_in_the_gap_merges_into_one_fire():
    s = schedule("quarterly", "*/15 * * * *", timezone=BERLIN)
    assert iso(fire_times(s, u("2026-03-29T00:40"), u("2026-03-29T01:20"))) == [
        "2026-03-29T00:45",  # 01:45 CET
        "2026-03-29T01:00",  # 03:00 CEST, for 02:00, 02:15, 02:30, 02:45 and 03:00
        "2026-03-29T01:15",
    ]


def test_a_half_hour_shift_lord_howe():
    # Australia/Lord_Howe moves by 30 minutes: +10:30 <-> +11:00, at 02:00 local.
    gap = schedule("lh_gap", "15 2 * * *", timezone="Australia/Lord_Howe")
    assert iso(fire_times(gap, u("2026-10-02T00:00"), u("2026-10-05T00:00"))) == [
        "2026-10-02T15:45",  # 02:15 +10:30
        "2026-10-03T15:30",  # 02:15 does not exist: 02:30 +11:00
        "2026-10-04T15:15",  # 02:15 +11:00
    ]
    fold = schedule("lh_fold", "45 1 * * *", timezone="Australia/Lord_Howe")
    assert iso(fire_times(fold, u("2026-04-03T00:00"), u("2026-04-06T00:00"))) == [
        "2026-04-03T14:45",
        "2026-04-04T14:45",  # 01:45 +11:00, the first of two
        "2026-04-05T15:15",  # 01:45 +10:30
    ]


# Windows holding every 2026 transition of the zones below (Lord Howe: April 5, October 4).
WINDOWS = [("2026-03-01T00:00", "2026-04-08T00:00"), ("2026-09-30T00:00", "2026-11-05T00:00")]


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK, "UTC", "Australia/Lord_Howe"])
@pytest.mark.parametrize("expr", ["0 * * * *", "30 2 * * *", "*/20 1-3 * * *", "0 0 * * 0"])
def test_fire_times_around_the_transitions_increase_strictly(expr, tz):
    s = schedule("s", expr, timezone=tz)
    for start, end in WINDOWS:
        times = fire_times(s, u(start), u(end))
        assert times and all(a < b for a, b in zip(times, times[1:]))
        assert all(t == int(t) for t in times)


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK])
@pytest.mark.parametrize("expr", ["*/15 * * * *", "0 * * * *", "30 2 * * *"])
def test_catch_up_walking_backwards_agrees_with_fire_times(expr, tz):
    # schedule_tick walks backwards from now; windows are drawn around the transitions.
    s = schedule("s", expr, timezone=tz)
    rng = random.Random(7)
    for center in (u("2026-03-08T07:00"), u("2026-03-29T01:00"), u("2026-10-25T01:00"),
                   u("2026-11-01T06:00")):
        for _ in range(25):
            last = center + rng.randrange(-3 * 3600, 3 * 3600, 300)
            now = last + rng.randrange(1, 6 * 3600)
            expected = fire_times(s, last, now)
            requests, watermark = schedule_tick(s, last, now, max_catchup=10_000)
            assert [r.tags["headwater/tick"] for r in requests] == [tick_iso(t) for t in expected]
            assert watermark == (expected[-1] if expected else last)


def test_preview_gives_the_next_ten_increasing_fire_times():
    s = schedule("nightly", "30 2 * * *", timezone=BERLIN)
    times = preview(s, u("2026-03-25T12:00"))
    assert len(times) == 10
    assert all(a < b for a, b in zip(times, times[1:]))
    assert times == fire_times(s, u("2026-03-25T12:00"), times[-1])
    assert iso(times)[3] == "2026-03-29T01:00"  # the spring-forward night
    assert preview(s, u("2026-03-25T12:00"), 3) == times[:3]
    assert preview(s, 0.0, 0) == []


def test_fire_times_bounds_are_exclusive_then_inclusive():
    s = schedule("daily", "0 6 * * *")
    assert iso(fire_times(s, u("2026-05-01T06:00"), u("2026-05-02T06:00"))) == ["2026-05-02T06:00"]
    assert fire_times(s, u("2026-05-01T06:00"), u("2026-05-02T05:59")) == []


# --------------------------------------------------------------------------- ticks


def test_first_tick_fires_nothing_and_remembers_now():
    s = schedule("daily", "0 6 * * *")
    now = u("2026-05-01T06:00")  # even exactly at a fire time
    assert schedule_tick(s, None, now) == ([], now)


def test_tick_fires_each_due_time_once_and_advances_the_watermark():
    s = schedule("daily", "0 6 * * *", "sales/*", tags={"team": "data"}, mode="stale")
    requests, watermark = schedule_tick(s, u("2026-05-01T05:00"), u("2026-05-01T06:00:30"))
    assert requests == [
        RunRequest(
            selection="sales/*",
            run_key="schedule:daily:2026-05-01T06:00:00Z",
            tags={"team": "data", "headwater/schedule": "daily", "headwater/tick": "2026-05-01T06:00:00Z"},
            mode="stale",
        )
    ]
    assert watermark == u("2026-05-01T06:00")
    # Later ticks the same day find nothing new and keep the watermark.
    assert schedule_tick(s, watermark, u("2026-05-01T18:00")) == ([], watermark)


def test_a_daemon_down_for_a_week_fires_once_for_the_latest_missed_time():
    s = schedule("daily", "0 6 * * *")
    last = u("2026-05-01T06:00")
    requests, watermark = schedule_tick(s, last, u("2026-05-08T12:00"))
    assert [r.run_key for r in requests] == ["schedule:daily:2026-05-08T06:00:00Z"]
    assert watermark == u("2026-05-08T06:00")
    requests, _ = schedule_tick(s, last, u("2026-05-08T12:00"), max_catchup=3)
    assert [r.tags["headwater/tick"] for r in requests] == [
        "2026-05-06T06:00:00Z", "2026-05-07T06:00:00Z", "2026-05-08T06:00:00Z",
    ]
    with pytest.raises(ValueError, match="max_catchup"):
        schedule_tick(s, last, u("2026-05-08T12:00"), max_catchup=0)


def test_catch_up_of_a_minutely_schedule_after_a_month_is_cheap():
    s = schedule("minutely", "* * * * *")
    requests, watermark = schedule_tick(s, u("2026-04-01T00:00"), u("2026-05-01T00:00:10"), max_catchup=2)
    assert [r.tags["headwater/tick"] for r in requests] == ["2026-04-30T23:59:00Z", "2026-05-01T00:00:00Z"]
    assert watermark == u("2026-05-01T00:00")


def test_a_clock_that_goes_backwards_fires_nothing_and_forgets_nothing():
    s = schedule("hourly", "0 * * * *")
    last = u("2026-05-01T06:00")
    assert schedule_tick(s, last, last - HOUR) == ([], last)
    assert schedule_tick(s, last, last) == ([], last)


def test_run_keys_are_stable_for_a_tick_and_unique_across_ticks():
    s = schedule("hourly", "0 * * * *", timezone=BERLIN)
    last, now = u("2026-10-24T20:30"), u("2026-10-25T04:30")
    first, _ = schedule_tick(s, last, now, max_catchup=100)
    again, _ = schedule_tick(s, last, now, max_catchup=100)  # re-evaluated after a crash
    assert first == again
    keys = [r.run_key for r in first]
    assert len(keys) == len(set(keys)) == 7  # 21:00..00:00 UTC, then 02:00..04:00 UTC
    other = schedule("other", "0 * * * *", timezone=BERLIN)
    assert not set(keys) & {r.run_key for r in schedule_tick(other, last, now, max_catchup=100)[0]}


def test_berlin_hourly_ticks_through_the_fall_back_night_one_tick_a_minute():
    # The daemon ticks every minute with a frozen clock: every fire time fires exactly once.
    s = schedule("hourly", "0 * * * *", timezone=BERLIN)
    now = u("2026-10-24T21:30")
    requests, watermark = schedule_tick(s, None, now)
    fired: list[str] = []
    while now < u("2026-10-25T04:30"):
        now += 60
        requests, watermark = schedule_tick(s, watermark, now)
        fired += [r.tags["headwater/tick"][:16] for r in requests]
    assert fired == ["2026-10-24T22:00", "2026-10-24T23:00", "2026-10-25T00:00", "2026-10-25T02:00",
                     "2026-10-25T03:00", "2026-10-25T04:00"]


def test_tick_iso_is_utc_with_a_z():
    assert tick_iso(u("2026-03-29T01:00")) == "2026-03-29T01:00:00Z"


# --------------------------------------------------------------------------- definitions


def test_schedule_defaults():
    s = schedule("all_daily", "0 6 * * *")
    assert isinstance(s, ScheduleDefinition)
    assert (s.selection, s.cron.timezone, s.default_enabled, s.mode, dict(s.tags)) == ("*", "UTC", True, "all", {})
    assert s.timezone == "UTC"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "61 * * * *"}, "schedule 'nightly': invalid cron expression '61 \\* \\* \\* \\*'"),
        ({"cron": "every day"}, "schedule 'nightly': invalid cron expression"),
        ({"cron": "0 0 30 2 *"}, "schedule 'nightly': cron expression '0 0 30 2 \\*' never fires"),
        ({"timezone": "Mars/Olympus"}, "schedule 'nightly': unknown time zone 'Mars/Olympus'"),
        ({"mode": "some"}, "schedule 'nightly': mode must be one of all, stale, missing, not 'some'"),
        ({"selection": ""}, "schedule 'nightly': the selection must be a non-empty string"),
        ({"tags": {"team": 1}}, "schedule 'nightly': tag 'team': 1 is not str to str"),
    ],
)
def test_bad_arguments_name_the_schedule(kwargs, message):
    args = {"cron": "30 2 * * *", **kwargs}
    cron = args.pop("cron")
    with pytest.raises(DefinitionError, match=message):
        schedule("nightly", cron, **args)


@pytest.mark.parametrize("name", ["", "has space", "a/b", "ü", None])
def test_bad_names_are_rejected(name):
    with pytest.raises(DefinitionError, match="invalid schedule name"):
        schedule(name, "0 6 * * *")  # type: ignore[arg-type]


def test_validate_schedules_checks_names_and_selections():
    graph = AssetGraph([AssetSpec(AssetKey.parse("sales/orders")),
                        AssetSpec(AssetKey.parse("sales/revenue"), deps=(AssetKey.parse("sales/orders"),))])
    good = [schedule("a", "0 6 * * *", "sales/*"), schedule("b", "0 7 * * *", "+sales/revenue")]
    validate_schedules(good, graph)
    with pytest.raises(DefinitionError, match="schedule 'a' is defined more than once"):
        validate_schedules([*good, schedule("a", "0 8 * * *")], graph)
    with pytest.raises(DefinitionError, match="schedule 'c': bad selection: no asset named 'sales/revenu'"):
        validate_schedules([*good, schedule("c", "0 8 * * *", "sales/revenu")], graph)
    with pytest.raises(DefinitionError, match="schedule 'd': bad selection"):
        validate_schedules([schedule("d", "0 8 * * *", "sales/* and")], graph)


def test_the_transitions_in_the_docstring_match_zoneinfo():
    # The transitions in the module docstring, read from zoneinfo, so the expectations above are honest.
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo(BERLIN)
    before = datetime.fromtimestamp(u("2026-03-29T00:59"), berlin)
    after = datetime.fromtimestamp(u("2026-03-29T01:00"), berlin)
    assert (before.hour, after.hour) == (1, 3)
    assert after.utcoffset() - before.utcoffset() == timedelta(hours=1)
    ny = ZoneInfo(NEW_YORK)
    assert datetime.fromtimestamp(u("2026-11-01T06:00"), ny).strftime("%H:%M %Z") == "01:00 EST"
