"""Partitions definitions, mappings and the addressing syntax (issue 10, points 1 and 9)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import headwater as hw
from headwater.core.partitions import PartitionContext, parse_partitioned_key
from headwater.errors import DefinitionError

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, tz: ZoneInfo = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def ctx(now: str, tz: ZoneInfo = UTC, **dynamic: tuple[str, ...]) -> PartitionContext:
    return PartitionContext(at(now, tz), dynamic)


def test_daily_keys_are_complete_days_until_now():
    daily = hw.DailyPartitions(start="2026-01-01")
    assert ctx("2026-01-04T10:00").keys(daily) == ("2026-01-01", "2026-01-02", "2026-01-03")
    assert ctx("2026-01-04T00:00").keys(daily)[-1] == "2026-01-03"  # the 4th is not over yet
    assert ctx("2025-12-31T23:00").keys(daily) == ()


def test_end_offset_adds_the_window_in_progress_and_a_negative_one_lags():
    c = ctx("2026-01-04T10:00")
    assert c.keys(hw.DailyPartitions(start="2026-01-01", end_offset=1))[-1] == "2026-01-04"
    assert c.keys(hw.DailyPartitions(start="2026-01-01", end_offset=-1))[-1] == "2026-01-02"


def test_an_end_closes_the_definition():
    d = hw.DailyPartitions(start="2026-01-01", end="2026-01-03")
    assert ctx("2026-02-01").keys(d) == ("2026-01-01", "2026-01-02")


def test_days_in_berlin_follow_daylight_saving_time():
    daily = hw.DailyPartitions(start="2026-03-27", timezone="Europe/Berlin")
    c = ctx("2026-04-01T12:00", BERLIN)
    window = daily.window("2026-03-29", c)  # the spring-forward day has 23 hours
    assert window.end - window.start == 23 * 3600
    assert window.start == at("2026-03-29T00:00", BERLIN)
    autumn = hw.DailyPartitions(start="2026-10-24", timezone="Europe/Berlin")
    w = autumn.window("2026-10-25", ctx("2026-10-28T12:00", BERLIN))
    assert w.end - w.start == 25 * 3600


def test_hourly_weekly_monthly_and_any_cron():
    c = ctx("2026-03-10T03:30")
    assert c.keys(hw.HourlyPartitions(start="2026-03-10"))[-1] == "2026-03-10-02:00"
    assert len(c.keys(hw.HourlyPartitions(start="2026-03-10"))) == 3
    weekly = c.keys(hw.WeeklyPartitions(start="2026-02-01"))
    assert weekly[0] == "2026-02-02" and weekly[-1] == "2026-03-02"  # Mondays
    assert c.keys(hw.MonthlyPartitions(start="2026-01-01")) == ("2026-01", "2026-02")
    every_6h = hw.CronPartitions("0 */6 * * *", start="2026-03-09")
    assert c.keys(every_6h)[-1] == "2026-03-09-18:00" and len(c.keys(every_6h)) == 4


def test_static_dynamic_and_three_dimensions():
    regions = hw.StaticPartitions(["eu", "us"])
    tiers = hw.StaticPartitions(["free", "paid"])
    customers = hw.DynamicPartitions("customers")
    multi = hw.MultiPartitions(day=hw.DailyPartitions(start="2026-01-01"), region=regions, tier=tiers)
    c = ctx("2026-01-03T01:00", customers=("acme", "globex"))
    assert c.keys(customers) == ("acme", "globex")
    keys = c.keys(multi)
    assert len(keys) == 2 * 2 * 2 and keys[0] == "2026-01-01|eu|free" and keys[-1] == "2026-01-02|us|paid"
    with pytest.raises(hw.PartitionError, match=r"has 2 dimension\(s\); it needs 3: day\|region\|tier"):
        multi.validate_key("2026-01-01|eu", c, "sales")
    with pytest.raises(hw.PartitionError, match=r"dimension 'region'"):
        multi.validate_key("2026-01-01|mars|free", c, "sales")


def test_unknown_keys_and_ranges_name_the_asset_and_what_exists():
    daily = hw.DailyPartitions(start="2026-01-01")
    c = ctx("2026-01-10")
    with pytest.raises(hw.PartitionError, match=r"unknown partition '2027-01-01' of asset events .*'2026-01-01' … "
                                                r"'2026-01-09'"):
        daily.validate_key("2027-01-01", c, "events")
    with pytest.raises(hw.PartitionError, match="outside the partitions of asset events"):
        daily.key_range("2025-06-01", "2026-01-03", c, "events")
    assert daily.key_range("2026-01-03", "2026-01-05", c) == ("2026-01-03", "2026-01-04", "2026-01-05")
    with pytest.raises(hw.PartitionError, match="empty partition range"):
        daily.key_range("2026-01-05", "2026-01-03", c)


def test_the_address_syntax_is_shared():
    assert parse_partitioned_key("sales[2026-03-04|eu]") == ("sales", "2026-03-04|eu")
    assert parse_partitioned_key("a/b") == ("a/b", None)
    with pytest.raises(hw.PartitionError, match=r"asset\[partition\]"):
        parse_partitioned_key("sales[2026")


# --- mappings -------------------------------------------------------------------------------------


def _graph(*assets):
    return hw.Definitions(assets=list(assets)).graph


daily = hw.DailyPartitions(start="2026-01-01")
hourly = hw.HourlyPartitions(start="2026-01-01")
regions = hw.StaticPartitions(["eu", "us", "apac"])


@hw.asset(partitions=daily)
def events():
    return 1


def test_rolling_window_lag_and_lead():
    c = ctx("2026-01-20")

    @hw.asset(partitions=daily, deps=[hw.Dep("events", mapping=hw.TimeWindowMapping(start_offset=-6))])
    def week():
        return 1

    g = _graph(events, week)
    m = g.mapping(week.keys[0], events.keys[0])
    assert m.upstream("2026-01-10", daily, daily, c) == tuple(f"2026-01-{d:02d}" for d in range(4, 11))
    assert m.upstream("2026-01-03", daily, daily, c) == ("2026-01-01", "2026-01-02", "2026-01-03")  # clipped
    prev = hw.TimeWindowMapping(start_offset=-1, end_offset=-1)
    assert prev.upstream("2026-01-10", daily, daily, c) == ("2026-01-09",)
    assert prev.upstream("2026-01-01", daily, daily, c) == ()


def test_a_daily_child_of_an_hourly_parent_reads_its_24_hours():
    @hw.asset(partitions=hourly)
    def clicks():
        return 1

    @hw.asset(partitions=daily, deps=["clicks"])
    def daily_clicks():
        return 1

    g = _graph(clicks, daily_clicks)
    got = g.mapping(daily_clicks.keys[0], clicks.keys[0]).upstream("2026-01-02", daily, hourly, ctx("2026-01-05"))
    assert len(got) == 24 and got[0] == "2026-01-02-00:00" and got[-1] == "2026-01-02-23:00"


def test_all_last_static_and_dimension_mappings():
    c = ctx("2026-01-05")

    @hw.asset(partitions=regions)
    def by_region():
        return 1

    @hw.asset(partitions=hw.StaticPartitions(["europe", "rest"]),
              deps=[hw.Dep("by_region", mapping=hw.StaticMapping({"eu": "europe", "us": "rest", "apac": "rest"}))])
    def by_zone():
        return 1

    @hw.asset(partitions=hw.MultiPartitions(day=daily, region=regions), deps=["events", "by_region"])
    def sales():
        return 1

    @hw.asset(deps=["sales"])
    def summary():
        return 1

    @hw.asset(partitions=daily, deps=[hw.Dep("events", mapping=hw.LastPartitions(2))])
    def recent():
        return 1

    g = _graph(events, by_region, by_zone, sales, summary, recent)
    K = hw.AssetKey
    assert g.mapping(K(("by_zone",)), K(("by_region",))).upstream("rest", None, regions, c) == ("us", "apac")
    assert g.mapping(K(("sales",)), K(("events",))).upstream("2026-01-02|us", g.spec(K(("sales",))).partitions,
                                                              daily, c) == ("2026-01-02",)
    assert g.mapping(K(("sales",)), K(("by_region",))).upstream("2026-01-02|us", g.spec(K(("sales",))).partitions,
                                                                 regions, c) == ("us",)
    assert len(g.mapping(K(("summary",)), K(("sales",))).upstream("", None, g.spec(K(("sales",))).partitions, c)) == 12
    assert g.mapping(K(("recent",)), K(("events",))).upstream("2026-01-01", daily, daily, c) == (
        "2026-01-03", "2026-01-04")


def test_a_mismatch_is_a_load_time_error_naming_both_assets():
    @hw.asset(partitions=regions, deps=["events"])
    def by_region():
        return 1

    with pytest.raises(DefinitionError, match=r"asset by_region \(static: eu, us, apac\) reads events \(daily"):
        _graph(events, by_region)

    @hw.asset(partitions=hw.MultiPartitions(day=daily, region=regions),
              deps=[hw.Dep("events", mapping=hw.DimensionMapping("planet"))])
    def sales():
        return 1

    with pytest.raises(DefinitionError, match=r"asset sales reads events through DimensionMapping\('planet'.*"
                                              r"unknown dimension 'planet'"):
        _graph(events, sales)

    @hw.asset(deps=[hw.Dep("plain", mapping=hw.AllPartitions())])
    def reader():
        return 1

    @hw.asset
    def plain():
        return 1

    with pytest.raises(DefinitionError, match="reader declares a partition mapping for plain, but neither"):
        _graph(plain, reader)


def test_bad_definitions_are_refused_where_they_are_written():
    with pytest.raises(DefinitionError, match="duplicate key 'eu'"):
        hw.StaticPartitions(["eu", "eu"])
    with pytest.raises(DefinitionError, match="must be a non-empty string without"):
        hw.StaticPartitions(["a|b"])
    with pytest.raises(DefinitionError, match="unknown time zone"):
        hw.DailyPartitions(start="2026-01-01", timezone="Mars/Olympus")
    with pytest.raises(DefinitionError, match="not a date"):
        hw.DailyPartitions(start="yesterday")
    with pytest.raises(DefinitionError, match="at least two dimensions"):
        hw.MultiPartitions(day=daily)
    with pytest.raises(DefinitionError, match="mapping must be a partition mapping"):
        hw.Dep("events", mapping="all")  # type: ignore[arg-type]
