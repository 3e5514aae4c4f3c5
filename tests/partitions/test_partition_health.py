"""Freshness, checks and health of partitioned assets (issue 10, point 3): "the partition for
yesterday exists by 06:00 with data as of midnight", checks per partition, health counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import headwater as hw

UTC = ZoneInfo("UTC")
K = hw.AssetKey
daily = hw.DailyPartitions(start="2026-01-01")
BY_SIX = hw.FreshnessPolicy.by_deadline("0 6 * * *", lag=timedelta(hours=6))  # at 06:00, data as of midnight


@hw.asset(partitions=daily, freshness=BY_SIX)
def orders(context):
    return 0 if context.partition_key == "2026-01-07" else 10


@hw.check(asset="orders")
def has_rows(orders):
    return hw.CheckResult(passed=orders > 0, description=f"{orders} rows")


DEFS = hw.Definitions(assets=[orders], checks=[has_rows])


class Clock:
    def __init__(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock("2026-01-09T07:00")


@pytest.fixture
def inst(tmp_path, clock):
    with hw.Instance(home=tmp_path / "home", clock=clock) as instance:
        yield instance


def health(inst):
    return {h.key: h for h in inst.health(DEFS)}[K(("orders",))]


def test_the_newest_window_decides_freshness(inst, clock):
    inst.materialize(DEFS, "orders", partition_range=("2026-01-01", "2026-01-07"))
    h = health(inst)  # 07:00 on the 9th: the 8th (data as of the 9th, 00:00) is not there
    assert h.freshness.state.value == "overdue"
    assert h.status.data_time == datetime(2026, 1, 8, tzinfo=UTC).timestamp()  # end of the 7th's window
    assert "1 of 8 partitions missing: 2026-01-08" in "; ".join(h.reasons)
    inst.materialize(DEFS, "orders")  # the newest window by default: the 8th
    h = health(inst)
    assert h.freshness.state.value == "fresh"
    assert h.status.data_time == datetime(2026, 1, 9, tzinfo=UTC).timestamp()
    clock.now += 24 * 3600  # a day later, the 9th is due
    assert health(inst).freshness.state.value == "overdue"


def test_checks_run_per_partition_and_health_reads_the_newest(inst):
    inst.materialize(DEFS, "orders", partition_range=("2026-01-06", "2026-01-07"))
    h = health(inst)
    assert [(c.name, c.state.value) for c in h.checks] == [("has_rows", "failed")]  # the 7th had no rows
    assert h.health.value == "degraded"
    why = "\n".join(inst.why(DEFS, "orders[2026-01-07]"))
    assert "check has_rows: failed" in why and "0 rows" in why
    assert "check has_rows: passed" in "\n".join(inst.why(DEFS, "orders[2026-01-06]"))
    inst.materialize(DEFS, "orders", partition="2026-01-08")
    assert [(c.name, c.state.value) for c in health(inst).checks] == [("has_rows", "passed")]
