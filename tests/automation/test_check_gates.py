"""Checks that gate across runs (issue 17): a blocking check that failed holds its asset's
downstream from schedules, sensors and automation until the asset is rebuilt and passes;
``why`` and ``automation explain`` name the check; a manual run may override, recorded."""

from datetime import UTC, datetime

import pytest

import headwater as hw
from headwater.automation.daemon import Daemon
from headwater.core.check_gates import HELD_TAG, OVERRIDE_TAG
from headwater.definitions.loader import find_location, load_definitions

PROJECT = '''
from pathlib import Path
import headwater as hw

HERE = Path(__file__).parent

@hw.asset
def a():
    return 1

@hw.asset
def b(a):
    return -1 if (HERE / "BAD").exists() else 1

@hw.check(asset="b", blocking=True)
def b_positive(b):
    return hw.CheckResult(passed=b > 0, description=f"b is {b}")

@hw.asset(automation=hw.AutomationCondition.eager())
def c(b):
    return b + 1

@hw.asset
def d(c):
    return c

@hw.asset
def e():
    return 5

defs = hw.Definitions(assets=[a, b, c, d, e], checks=[b_positive],
                      schedules=[hw.schedule("downstream", "0 * * * *", "c+"),
                                 hw.schedule("mixed", "0 * * * *", "d or e")])
'''


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.mark.slow
def test_a_failed_blocking_check_holds_downstream_across_runs(write_project, tmp_path):
    path = write_project(PROJECT)
    location = find_location(file=str(path))
    defs = load_definitions(location)
    clock = Clock(datetime(2026, 6, 1, 9, 30, tzinfo=UTC).timestamp())
    with hw.Instance(home=tmp_path / "home", clock=clock) as inst:
        (path.parent / "BAD").write_text("")
        first = inst.materialize(defs, "*")
        assert first.outcome.blocked  # in the run: c and d skipped
        # across runs: schedules hold c and d
        daemon = Daemon(inst, defs, location, interval=1, clock=clock)
        daemon.tick()  # first evaluation of the schedules
        clock.now += 3600
        report = daemon.tick()
        queued = [inst.store.get_run(r) for r in report.queued]
        by_origin = {r.origin: r for r in queued}
        assert "schedule:downstream" not in by_origin  # c+ is all held: nothing queued
        assert [str(k) for k in by_origin["schedule:mixed"].asset_keys] == ["e"]  # d pruned, e goes
        assert "blocking check 'b_positive' on b failed" in by_origin["schedule:mixed"].tags[HELD_TAG]
        held_tick = inst.store.ticks("schedule:downstream", limit=1)[0]
        assert held_tick.status.value == "skipped"
        assert "held by a failed blocking check: blocking check 'b_positive' on b failed" in held_tick.skip_reason
        assert "holds c, d" in held_tick.skip_reason
        assert not any(str(k) == "c" for r in queued for k in r.asset_keys)  # automation held too
        # why and automation explain say which check holds it
        why = inst.why(defs, "d")
        assert any(line.startswith("d is held: blocking check 'b_positive' on b failed") and "b is -1" in line
                   for line in why)
        assert inst.automation_explain(defs, "c").lines[0].startswith("c is held: blocking check 'b_positive'")
        assert not [line for line in inst.why(defs, "e") if "is held" in line]
        # a manual run is refused, unless it overrides, which the run records
        with pytest.raises(hw.HeadwaterError, match=r"held by a failed blocking check: c, d .*--override-gates"):
            inst.materialize(defs, "c+")
        forced = inst.materialize(defs, "c", override_gates=True)
        assert forced.success
        assert "b_positive" in inst.run(forced.run_id).tags[OVERRIDE_TAG]
        # rebuilding b itself is allowed: it is re-checked in that run
        (path.parent / "BAD").unlink()
        assert inst.materialize(defs, "b").success
        assert not [line for line in inst.why(defs, "d") if "is held" in line]
        assert inst.materialize(defs, "c+").success  # the gate is lifted
        clock.now += 3600
        report = daemon.tick()
        assert "schedule:downstream" in {inst.store.get_run(r).origin for r in report.queued}
        daemon.close()
