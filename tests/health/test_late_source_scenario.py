"""The scenario of the data-health issue, replayed with a fake clock (docs/data-health.md).

A source lands every night; stg -> revenue -> dashboard run at 06:00. One night the source
lands four hours late. The 06:00 run succeeds — a task-based tool reports green — but
Headwater reports revenue and the dashboard overdue against "data as of 02:00 by 07:00",
and says why.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import headwater as hw
from headwater.core.events import RunStatus

BERLIN = ZoneInfo("Europe/Berlin")


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).timestamp()


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def world(tmp_path):
    landed = {"data_time": at(9, 22), "version": "export-0309-2200"}
    sla = hw.FreshnessPolicy.by_deadline("0 7 * * *", lag=5 * 3600, timezone="Europe/Berlin")

    orders = hw.source_asset("raw/orders", group="raw", observe=lambda: hw.Observation(
        data_version=landed["version"], data_time=landed["data_time"]))

    @hw.asset(key="stg_orders", deps=["raw/orders"], code_version="1")
    def stg_orders():
        return [1, 2, 3]

    @hw.asset(code_version="1", freshness=sla)
    def revenue(stg_orders):
        return sum(stg_orders)

    @hw.asset(deps=["revenue"], code_version="1", freshness=sla)
    def revenue_dashboard():
        return None

    defs = hw.Definitions(assets=[orders, stg_orders, revenue, revenue_dashboard])
    clock = Clock(at(9, 22, 30))
    instance = hw.Instance(home=tmp_path / "home", clock=clock)
    yield defs, instance, clock, landed
    instance.close()


def health(instance, defs):
    return {str(h.key): h for h in instance.health(defs)}


def test_a_green_run_over_a_late_source_is_overdue_and_why_says_so(world):
    defs, instance, clock, landed = world
    # Evening before: the source lands with data as of 22:00 and everything is built on it.
    instance.observe(defs)
    assert instance.materialize(defs, "*").success

    # 05:55: the nightly export (data as of 02:00) has not landed: nothing changed.
    clock.now = at(10, 5, 55)
    instance.observe(defs)
    # 06:00: the scheduled run succeeds — a task orchestrator would show green.
    clock.now = at(10, 6, 0)
    run = instance.materialize(defs, "*")
    assert run.success and instance.run(run.run_id).status is RunStatus.SUCCEEDED

    # 07:30: past the 07:00 deadline, the data is still as of 22:00 yesterday.
    clock.now = at(10, 7, 30)
    h = health(instance, defs)
    for key in ("revenue", "revenue_dashboard"):
        assert h[key].health is hw.Health.DEGRADED
        assert h[key].freshness.state is hw.FreshnessState.OVERDUE
        assert h[key].freshness.overdue_since == at(10, 7, 0)
        assert any(r.startswith("overdue") for r in h[key].reasons)
        assert not h[key].status.stale  # it IS current with its inputs: the lateness is upstream
    assert h["stg_orders"].freshness is None and h["stg_orders"].health is hw.Health.HEALTHY

    why = "\n".join(instance.why(defs, "revenue_dashboard"))
    assert "revenue_dashboard: degraded" in why
    assert "revenue_dashboard is overdue since 2026-03-10 06:00 UTC (30m ago)" in why  # 07:00 Berlin
    assert "its data time is 2026-03-09 21:00 UTC, inherited from revenue <- stg_orders <- raw/orders" in why
    assert "raw/orders: last observed data time 2026-03-09 21:00 UTC (last observed at 2026-03-10 04:55 UTC)" in why
    assert "raw/orders has delivered nothing newer since" in why

    # 10:20: the export finally lands (four hours late) and is observed.
    landed.update(data_time=at(10, 2), version="export-0310-0200")
    clock.now = at(10, 10, 20)
    instance.observe(defs)
    why = "\n".join(instance.why(defs, "revenue_dashboard"))
    assert f"run {run.run_id} (at 2026-03-10 05:00 UTC) read raw/orders before its newer data " \
           "(data time 2026-03-10 01:00 UTC) arrived at 2026-03-10 09:20 UTC" in why
    h = health(instance, defs)
    assert h["revenue_dashboard"].status.stale  # and now stale, too: raw/orders has a new version

    # Catching up makes everything fresh and healthy again.
    clock.now = at(10, 10, 30)
    assert instance.materialize(defs, "*", mode="stale").success
    h = health(instance, defs)
    assert {k: v.health for k, v in h.items()} == {k: hw.Health.HEALTHY for k in h}
    assert h["revenue"].freshness.state is hw.FreshnessState.FRESH
    assert h["revenue"].freshness.next_deadline == at(11, 7, 0)


def test_unchanged_observation_does_not_add_a_fact(world):
    defs, instance, clock, landed = world
    instance.observe(defs)
    clock.now += 600
    instance.observe(defs)
    clock.now += 600
    instance.observe(defs)
    history = instance.store.observations(hw.AssetKey.parse("raw/orders"))
    assert len(history) == 1
    facts = instance.store.latest_facts()[hw.AssetKey.parse("raw/orders")]
    assert facts.last_observation_checked_at == clock.now
    landed.update(version="v2", data_time=landed["data_time"] + 3600)
    instance.observe(defs)
    assert len(instance.store.observations(hw.AssetKey.parse("raw/orders"))) == 2
