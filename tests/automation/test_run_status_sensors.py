"""Run-status sensors (issue 17): react to runs that fail (succeed, are cancelled), once per
run, across daemon restarts; never to the history before the sensor existed."""

import os

import pytest

import headwater as hw
from headwater.automation.daemon import Daemon
from headwater.core.events import TickRecorded, TickStatus
from headwater.definitions.loader import find_location, load_definitions

PROJECT = '''
import os
from pathlib import Path
import headwater as hw

HERE = Path(__file__).parent

@hw.asset
def a():
    return 1

@hw.asset
def b(a):
    if (HERE / "FAIL").exists():
        raise RuntimeError("b broke")
    return a + 1

@hw.asset
def c(b):
    return b + 1

@hw.run_status_sensor(status="failed", selection="b", interval=1)
def on_failure(context):
    with open(HERE / "reactions.log", "a") as fh:
        fh.write(context.run.run_id + " " + context.status.value + "\\n")
    return hw.RunRequest(selection="a", run_key="recover")

defs = hw.Definitions(assets=[a, b, c], sensors=[on_failure])
'''


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def reactions(folder):
    path = folder / "reactions.log"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_each_failed_run_is_reacted_to_once_across_restarts(write_project, tmp_path):
    path = write_project(PROJECT)
    folder = path.parent
    location = find_location(file=str(path))
    defs = load_definitions(location)
    clock = Clock(1_780_000_000.0)
    with hw.Instance(home=tmp_path / "home", clock=clock) as inst:
        (folder / "FAIL").write_text("")
        history = inst.materialize(defs, "b")  # failed before the sensor ever ticked: history
        assert not history.success
        daemon = Daemon(inst, defs, location, interval=1, clock=clock)
        daemon.tick()  # first evaluation: starts at the end of the stream
        failed = inst.materialize(defs, "a+")  # fails on b
        ok_other = inst.materialize(defs, "a")  # succeeds: not a status it watches
        os.remove(folder / "FAIL")
        ok_b = inst.materialize(defs, "b")  # succeeds
        assert not failed.success and ok_other.success and ok_b.success
        clock.now += 5
        report = daemon.tick()
        assert reactions(folder) == [f"{failed.run_id} failed"]
        [queued] = [inst.store.get_run(r) for r in report.queued]
        assert queued.run_key == f"sensor:on_failure:{failed.run_id}:recover"
        assert queued.tags["headwater/run"] == failed.run_id
        clock.now += 5
        daemon.tick()
        restarted = Daemon(inst, defs, location, interval=1, clock=clock)
        clock.now += 5
        restarted.tick()
        assert reactions(folder) == [f"{failed.run_id} failed"]  # not again, even after a restart
        # A daemon killed after calling the function but before recording its tick: the cursor
        # is the one before; the function runs again, the reaction is still queued once.
        ticks = inst.store.ticks("sensor:on_failure", limit=100)
        before = next(t for t in reversed(ticks) if t.status is TickStatus.SKIPPED and "first" in t.skip_reason)
        inst.store.write([TickRecorded(run_id=None, timestamp=clock.now, instigator="sensor:on_failure",
                                       status=TickStatus.SKIPPED, tick_time=clock.now, cursor=before.cursor)])
        clock.now += 5
        restarted.tick()
        assert reactions(folder) == [f"{failed.run_id} failed"] * 2
        reacting = [r for r in inst.store.list_runs(limit=100) if (r.run_key or "").startswith("sensor:on_failure")]
        assert len(reacting) == 1
        daemon.close()
        restarted.close()


def test_bad_run_status_sensors_are_refused():
    with pytest.raises(hw.DefinitionError, match="status 'exploded' is not a status a run ends with"):
        hw.run_status_sensor("s", status="exploded")(lambda context: None)
    with pytest.raises(hw.DefinitionError, match="status 'started' is not a status a run ends with"):
        hw.run_status_sensor("s", status=["failed", "started"])(lambda context: None)
    with pytest.raises(hw.DefinitionError, match="exactly one argument"):
        hw.run_status_sensor("s")(lambda: None)
