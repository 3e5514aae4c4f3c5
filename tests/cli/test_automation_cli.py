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
    assert "last automation tick" in explained.output and "on_missing" in explained.output
    runs = json.loads(hw("runs", "--json", "--home", home).output)
    assert [(r["status"], r["asset_keys"]) for r in runs] == [("succeeded", ["a"])]  # --once waited for it


def test_materialize_queue_leaves_the_run_for_the_daemon(tmp_path, write_project):
    path = str(write_project(PROJECT))
    home = str(tmp_path / "h")
    queued = hw("materialize", "a", "--queue", "-f", path, "--home", home)
    assert queued.exit_code == 0 and "queued run" in queued.output
    runs = json.loads(hw("runs", "--json", "--home", home).output)
    assert [r["status"] for r in runs] == ["queued"]
