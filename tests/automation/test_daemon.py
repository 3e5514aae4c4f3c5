"""The daemon against a real store and real worker processes, with a fake clock for ticks."""

import os
import signal
import time
from datetime import UTC, datetime

import pytest

import headwater as hw
from headwater.automation.daemon import Daemon
from headwater.core.events import RunStatus, TickRecorded, TickStatus
from headwater.definitions.loader import find_location, load_definitions

PROJECT = '''
import os, time
import headwater as hw
from headwater.automation.schedules import schedule
from headwater.automation.sensors import sensor
from headwater.automation.run_requests import RunRequest, SkipReason
from headwater.automation.conditions import AutomationCondition

@hw.asset(group="daily", kinds={"dbt"})
def a():
    return 1

@hw.asset(group="daily", kinds={"dbt"})
def b(a):
    return a + 1

@hw.asset(group="slow")
def slow():
    time.sleep(float(os.environ.get("SLOW_SECONDS", "30")))

@hw.asset(group="auto", automation=AutomationCondition.on_missing())
def auto_asset():
    return 3

@sensor(interval=10)
def broken(context):
    raise RuntimeError("sensor exploded")

src = hw.source_asset("raw/feed", observe=lambda: hw.Observation(data_version="v1", data_time=1.0),
                      observe_interval=60)

defs = hw.Definitions(
    assets=[a, b, slow, auto_asset, src],
    schedules=[schedule("nightly", "0 2 * * *", "group:daily", timezone="Europe/Berlin")],
    sensors=[broken],
    concurrency_limits={"kind:dbt": 1},
)
'''


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def utc(day, hour, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.fixture
def env(tmp_path, write_project, monkeypatch):
    path = write_project(PROJECT)
    monkeypatch.setenv("SLOW_SECONDS", "30")
    location = find_location(file=str(path))
    defs = load_definitions(location)
    clock = Clock(utc(20, 12))
    instance = hw.Instance(home=tmp_path / "home", clock=clock)
    daemons = []
    original_init = Daemon.__init__

    def tracking_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        daemons.append(self)

    monkeypatch.setattr(Daemon, "__init__", tracking_init)
    yield instance, defs, location, clock
    for d in daemons:  # workers outlive a daemon by design; tests wait for theirs
        for proc in d.workers.values():
            if proc.poll() is None:
                proc.kill()
        d.close()
    instance.close()


def launched_by_test(report, instance):
    return [r for r in report.launched if instance.store.get_run(r).origin != "automation"]


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def terminal(instance, run_id):
    run = instance.store.get_run(run_id)
    return run if run is not None and run.status.is_terminal else None


def test_schedule_fires_once_per_tick_and_a_worker_process_materializes(env):
    instance, defs, location, clock = env
    daemon = Daemon(instance, defs, location, interval=1)
    daemon.tick()
    assert not [r for r in instance.store.list_runs() if r.origin == "schedule:nightly"]  # waits for 02:00
    clock.now = utc(21, 1, 5)  # past 02:00 Berlin (01:00 UTC)
    report = daemon.tick()
    [run] = [r for r in instance.store.list_runs() if r.origin == "schedule:nightly"]
    assert run.run_id in report.queued
    assert run.run_key.startswith("schedule:nightly:") and run.origin == "schedule:nightly"
    assert {str(k) for k in run.asset_keys} == {"a", "b"}
    assert run.run_id in report.launched
    done = wait_for(lambda: terminal(instance, run.run_id))
    assert done.status is RunStatus.SUCCEEDED, done.reason
    assert os.getpid() != done.pid
    daemon.tick()
    assert len([r for r in instance.store.list_runs() if r.origin == "schedule:nightly"]) == 1
    ticks = instance.store.ticks("schedule:nightly")
    assert [t.status for t in ticks][:1] == [TickStatus.SUCCESS] and ticks[0].run_ids == (run.run_id,)


def test_a_daemon_dying_mid_tick_cannot_queue_a_run_twice(env, monkeypatch):
    instance, defs, location, clock = env
    Daemon(instance, defs, location).tick()
    clock.now = utc(21, 1, 5)
    real_write = instance.store.write

    def dies_before_recording_the_tick(events):
        if any(isinstance(e, TickRecorded) and e.instigator == "schedule:nightly" for e in events):
            raise KeyboardInterrupt("killed mid-tick")
        return real_write(events)

    monkeypatch.setattr(instance.store, "write", dies_before_recording_the_tick)
    with pytest.raises(KeyboardInterrupt):
        Daemon(instance, defs, location).tick()
    monkeypatch.setattr(instance.store, "write", real_write)
    [queued] = instance.store.queued_runs()
    report = Daemon(instance, defs, location).tick()  # a restarted daemon re-decides the same tick
    assert report.queued == [queued.run_id]  # the same run, not a new one
    assert len([r for r in instance.store.list_runs() if r.origin == "schedule:nightly"]) == 1
    assert launched_by_test(report, instance) == [queued.run_id]
    wait_for(lambda: terminal(instance, queued.run_id))


def test_only_one_daemon_acts_on_a_store(env):
    instance, defs, location, clock = env
    assert instance.store.acquire_lease("daemon", "someone-else", 60, time.time())
    import threading

    waits = []
    stop = threading.Event()
    d = Daemon(instance, defs, location, interval=0.05, owner="me")
    t = threading.Thread(target=d.run, args=(stop,), kwargs={"on_wait": waits.append})
    t.start()
    deadline = time.monotonic() + 60
    while not waits:  # until it has been told to wait, however slowly it started
        assert t.is_alive() and time.monotonic() < deadline, "the daemon never waited"
        time.sleep(0.02)
    stop.set()
    t.join(5)
    assert waits and "another daemon holds the lease" in waits[0]
    assert instance.store.ticks() == []
    instance.store.release_lease("daemon", "someone-else")
    assert instance.store.acquire_lease("daemon", "me", 60, time.time())


def test_a_killed_worker_is_detected_and_its_run_failed_with_the_reason(env):
    instance, defs, location, clock = env
    daemon = Daemon(instance, defs, location)
    record, _ = instance.enqueue(defs, "slow", origin="test", location=location)
    assert launched_by_test(daemon.tick(), instance) == [record.run_id]
    run = wait_for(lambda: (lambda r: r if r.pid else None)(instance.store.get_run(record.run_id)))
    wait_for(lambda: any(s.status.value == "started" for s in instance.store.run_steps(record.run_id)))
    os.kill(run.pid, signal.SIGKILL)
    wait_for(lambda: daemon.workers[record.run_id].poll() is not None, 10)
    daemon.tick()
    failed = instance.store.get_run(record.run_id)
    assert failed.status is RunStatus.FAILED
    assert "died" in failed.reason or "exited with code -9" in failed.reason


def test_concurrency_limits_hold_runs_back_with_a_reason(env, monkeypatch):
    instance, defs, location, clock = env
    monkeypatch.setenv("SLOW_SECONDS", "0")
    runs = [instance.enqueue(defs, sel, origin="test", location=location)[0] for sel in ("a", "b", "slow")]
    report = Daemon(instance, defs, location).tick()
    assert launched_by_test(report, instance) == [runs[0].run_id, runs[2].run_id]  # b touches kind:dbt: waits
    assert "touching kind:dbt in progress, the limit is 1" in report.waiting[runs[1].run_id]
    for r in (runs[0], runs[2]):
        wait_for(lambda r=r: terminal(instance, r.run_id))


def test_failing_sensor_is_an_errored_tick_and_is_retried_next_interval(env):
    instance, defs, location, clock = env
    daemon = Daemon(instance, defs, location)
    daemon.tick()
    [tick] = instance.store.ticks("sensor:broken")
    assert tick.status is TickStatus.FAILED and "sensor exploded" in tick.error.message
    assert "RuntimeError" in tick.error.traceback
    daemon.tick()  # interval not elapsed: not evaluated again
    assert len(instance.store.ticks("sensor:broken")) == 1
    clock.now += 11
    daemon.tick()
    assert len(instance.store.ticks("sensor:broken")) == 2


def test_automation_requests_missing_assets_and_explains_why(env):
    instance, defs, location, clock = env
    report = Daemon(instance, defs, location).tick()
    auto_runs = [r for r in instance.store.list_runs() if r.origin == "automation"]
    assert len(auto_runs) == 1 and [str(k) for k in auto_runs[0].asset_keys] == ["auto_asset"]
    assert auto_runs[0].run_id in report.queued
    lines = instance.automation_explain(defs, "auto_asset").lines
    assert any("true" in line.lower() for line in lines), lines
    wait_for(lambda: terminal(instance, auto_runs[0].run_id))


def test_sources_with_an_interval_are_observed(env):
    instance, defs, location, clock = env
    daemon = Daemon(instance, defs, location)
    daemon.tick()
    facts = instance.store.latest_facts()
    assert facts[hw.AssetKey.parse("raw/feed")].last_observation.data_version == "v1"
    assert instance.store.ticks("observe:raw/feed")[0].status is TickStatus.SUCCESS
