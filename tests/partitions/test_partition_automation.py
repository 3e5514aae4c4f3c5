"""Automation, sensors and run requests with partitions (issue 10, point 6), through a real
daemon tick and real worker processes."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

import headwater as hw
from headwater.automation.daemon import Daemon
from headwater.definitions.loader import find_location, load_definitions

START = (date.today() - timedelta(days=10)).isoformat()

PROJECT = f'''
import headwater as hw
from headwater.automation.conditions import AutomationCondition
from headwater.automation.run_requests import RunRequest
from headwater.automation.sensors import SensorResult, sensor

daily = hw.DailyPartitions(start="{START}")

@hw.asset(partitions=daily, automation=AutomationCondition.on_missing())
def events(context):
    return context.partition_key

customers = hw.DynamicPartitions("customers")

@hw.asset(partitions=customers)
def customer_report(context):
    return context.partition_key

@sensor(interval=30)
def new_customers(context):
    if context.cursor == "done":
        return None
    context.update_cursor("done")
    return SensorResult(run_requests=[RunRequest(asset_keys=(hw.AssetKey(("customer_report",)),),
                                                 partition="acme", run_key="acme")],
                        add_dynamic_partitions={{"customers": ["acme"]}})

defs = hw.Definitions(assets=[events, customer_report], sensors=[new_customers])
'''


def wait_for(predicate, timeout=90):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def env(tmp_path, write_project):  # type: ignore[no-untyped-def]
    location = find_location(file=str(write_project(PROJECT)))
    defs = load_definitions(location)
    instance = hw.Instance(home=tmp_path / "home")
    daemons: list[Daemon] = []
    yield instance, defs, location, daemons
    for d in daemons:
        for proc in d.workers.values():
            if proc.poll() is None:
                proc.kill()
        d.close()
    instance.close()


def test_automation_keeps_the_newest_window_and_sensors_add_keys(env):  # type: ignore[no-untyped-def]
    instance, defs, location, daemons = env
    daemon = Daemon(instance, defs, location)
    daemons.append(daemon)
    daemon.tick()
    runs = instance.store.list_runs()
    assert sorted(r.origin for r in runs) == ["automation", "sensor:new_customers"]
    assert instance.dynamic_partition_keys("customers") == ("acme",)
    for run in runs:
        wait_for(lambda run=run: (instance.store.get_run(run.run_id).status.is_terminal
                                  and instance.store.get_run(run.run_id)))
        assert instance.store.get_run(run.run_id).status.value == "succeeded"
    statuses = instance.statuses(defs)
    events = statuses[hw.AssetKey(("events",))].partitions
    newest = events.keys[-1]
    # Only the newest day was launched; the missing history is left to a backfill.
    assert events.with_state("materialized") == [newest] and events.missing == len(events.keys) - 1
    assert statuses[hw.AssetKey(("customer_report",))].partitions.with_state("materialized") == ["acme"]
    daemon.tick()  # nothing new: the newest window exists, the sensor is done
    assert len(instance.store.list_runs()) == 2
