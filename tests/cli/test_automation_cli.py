"""schedule / sensor / ticks / automation explain / daemon --once / materialize --queue."""

import json

from typer.testing import CliRunner

from headwater.cli.app import app

runner = CliRunner()

PROJECT = """
import headwater as hw

@hw.asset(group="g", automation=hw.AutomationCondition.on_missing())
def a():
    return 1

@hw.sensor(interval=30)
def quiet(context):
    return hw.SkipReason("nothing new upstream")

defs = hw.Definitions(assets=[a], sensors=[quiet],
                      schedules=[hw.schedule("nightly", "30 2 * * *", "group:g", timezone="Europe/Berlin")])
"""


def hw(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_schedule_sensor_ticks_and_explain(tmp_path, write_project):
    path = str(write_project(PROJECT))
    home = str(tmp_path / "h")
    common = ["-f", path, "--home", home]
    listed = hw("schedule", "list", *common)
    assert listed.exit_code == 0 and "nightly" in listed.output and "30 2 * * * (Europe/Berlin)" in listed.output
    preview = hw("schedule", "preview", "nightly", "--count", "3", *common)
    lines = [line for line in preview.output.splitlines() if line.strip()]
    assert len(lines) == 3 and all("02:30 CE" in line for line in lines)
    assert hw("schedule", "off", "nightly", *common).output.strip() == "schedule nightly is off"
    assert "off" in hw("schedule", "list", *common).output
    assert hw("schedule", "preview", "nope", *common).exit_code == 2
    assert hw("sensor", "off", "quiet", *common).exit_code == 0
    assert hw("sensor", "on", "quiet", *common).exit_code == 0
    once = hw("daemon", "--once", *common)
    assert once.exit_code == 0 and "queued 1" in once.output
    ticks = hw("ticks", "--home", home)
    assert "sensor:quiet" in ticks.output and "nothing new upstream" in ticks.output
    assert "automation" in ticks.output
    explained = hw("automation", "explain", "a", *common)
    assert "automation tick:" in explained.output and "on_missing" in explained.output
    runs = json.loads(hw("runs", "--json", "--home", home).output)
    assert [(r["status"], r["asset_keys"]) for r in runs] == [("succeeded", ["a"])]  # --once waited for it
    # A second tick requests nothing (a is materialized now); the history keeps both, and
    # the tick that requested the run can be picked by number or by the run it requested.
    assert hw("daemon", "--once", *common).exit_code == 0
    history = hw("automation", "explain", "a", "--history", *common).output.splitlines()
    assert len(history) == 2 and "not requested" in history[0] and "REQUESTED" in history[1]
    assert runs[0]["run_id"][:8] in history[1]
    newest = json.loads(hw("automation", "explain", "a", "--json", *common).output)
    assert newest["requested"] is False and newest["value"] is False
    by_tick = json.loads(hw("automation", "explain", "a", "--tick", "1", "--json", *common).output)
    by_run = json.loads(hw("automation", "explain", "a", "--run", runs[0]["run_id"][:6], "--json", *common).output)
    assert by_tick == by_run and by_run["requested"] is True and by_run["run_ids"] == [runs[0]["run_id"]]
    too_far = hw("automation", "explain", "a", "--tick", "5", *common)
    assert too_far.exit_code == 2 and "only 2 automation tick(s) are recorded" in too_far.output


def test_materialize_queue_leaves_the_run_for_the_daemon(tmp_path, write_project):
    path = str(write_project(PROJECT))
    home = str(tmp_path / "h")
    queued = hw("materialize", "a", "--queue", "-f", path, "--home", home)
    assert queued.exit_code == 0 and "queued run" in queued.output
    runs = json.loads(hw("runs", "--json", "--home", home).output)
    assert [r["status"] for r in runs] == ["queued"]
