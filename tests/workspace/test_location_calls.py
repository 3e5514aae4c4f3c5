"""Sensors and observations of a location with its own interpreter run in that location's
process (they import what only its virtualenv has); a command starts each process once."""

import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

import headwater as hw
from headwater.definitions.locations_config import find_workspace
from headwater.service.workspace import Workspace

ONLY_HERE = "ws_venv_only_lib"

PIPELINE = f'''
import os
from pathlib import Path
import headwater as hw

with open(Path(__file__).parent / "starts.txt", "a") as f:   # one line per process that loads this
    f.write(f"{{os.getpid()}}\\n")


def look():
    import {ONLY_HERE}                       # importable in this location's virtualenv only
    return hw.Observation(data_version={ONLY_HERE}.version(), data_time=1_700_000_000)


landed = hw.source_asset("landed", observe=look)


@hw.asset(deps=["landed"])
def orders():
    return 1


@hw.sensor(interval=1)
def new_files(context):
    import {ONLY_HERE}
    context.update_cursor({ONLY_HERE}.version())
    return hw.RunRequest("orders", run_key={ONLY_HERE}.version())


@hw.sensor(interval=1)
def broken(context):
    import {ONLY_HERE}
    raise ValueError("bad feed at " + {ONLY_HERE}.version())


@hw.run_status_sensor(status="succeeded", interval=1)
def after_success(context):
    import {ONLY_HERE}
    return hw.SkipReason(f"{{context.run.run_id}} seen {{{ONLY_HERE}.version()}}")


defs = hw.Definitions(assets=[landed, orders], sensors=[new_files, broken, after_success])
'''

PLAIN = '''
import os
from pathlib import Path
import headwater as hw

with open(Path(__file__).parent / "starts.txt", "a") as f:
    f.write(f"{os.getpid()}\\n")


@hw.asset
def report(orders):
    return orders + 1
'''


@pytest.fixture
def team_venv(venvs):
    """The ingest virtualenv, with a module that Headwater's own interpreter cannot import."""
    venv = venvs["ingest"]
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    Path(purelib).mkdir(parents=True, exist_ok=True)
    (Path(purelib) / f"{ONLY_HERE}.py").write_text("import sys\n\ndef version():\n    return 'from ' + sys.prefix\n")
    with pytest.raises(ImportError):
        __import__(ONLY_HERE)
    return venv


def test_sensors_and_observations_run_in_their_locations_interpreter(tmp_path, team_venv, write_locations):
    from headwater.automation.daemon import Daemon

    folder = write_locations(tmp_path / "ws", [{"name": "team", "source": PIPELINE, "python": team_venv},
                                               {"name": "plain", "source": PLAIN}])
    ws = Workspace(find_workspace(folder), folder / ".headwater").load()
    try:
        with hw.Instance(home=folder / ".headwater") as instance:
            [observed] = instance.observe(ws.definitions(), "landed")
            assert observed.data_version == f"from {team_venv}" and observed.data_time == 1_700_000_000
            skew = [0.0]  # the daemon's clock: moved past the sensors' interval below, rather than waited for
            daemon = Daemon(instance, ws.definitions(), ws.location, interval=1, clock=lambda: time.time() + skew[0])
            ticks = {t.instigator: t for t in daemon.tick().ticks}
            fired = ticks["sensor:new_files"]
            assert fired.status.value == "success", fired.error
            assert fired.cursor == f"from {team_venv}"  # the cursor the function set, over there
            assert fired.run_keys == (f"sensor:new_files:from {team_venv}",)
            for worker in daemon.workers.values():  # the daemon launched the queued run: let it end
                worker.wait(120)
            [queued] = [r for r in instance.runs(limit=10) if r.run_id in fired.run_ids]
            assert {str(k) for k in queued.asset_keys} == {"orders"} and queued.status.value == "succeeded"
            # A run-status sensor sees that run end, in the location's interpreter too (at its next
            # tick: its interval of 1 s has passed, however fast the run was).
            skew[0] += 2
            [later] = [t for t in daemon.tick().ticks if t.instigator == "sensor:after_success"
                        and t.evaluations.get("run_id") == queued.run_id]
            assert later.status.value == "skipped", later.error
            assert later.skip_reason == f"{queued.run_id} seen from {team_venv}"
            failed = ticks["sensor:broken"]
            assert failed.status.value == "failed"
            assert failed.error.message == f"sensor 'broken' raised ValueError: bad feed at from {team_venv}"
            assert "team/pipeline.py" in failed.error.traceback and "raise ValueError" in failed.error.traceback
    finally:
        ws.close()


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEADWATER_HOME": str(folder / ".headwater"),
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p.endswith("src"))}
    return subprocess.run([sys.executable, "-m", "headwater", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


def _starts(folder: Path) -> dict[str, int]:
    return {n: len((folder / n / "starts.txt").read_text().split()) if (folder / n / "starts.txt").exists() else 0
            for n in ("team", "plain")}


def test_a_command_on_a_cold_cache_starts_each_location_process_once(tmp_path, team_venv, write_locations):
    folder = write_locations(tmp_path / "ws", [{"name": "team", "source": PIPELINE, "python": team_venv},
                                               {"name": "plain", "source": PLAIN}])
    done = _run(folder, "materialize", "orders+", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert _starts(folder) == {"team": 1, "plain": 1}
    observed = _run(folder, "observe", "--json")  # the cache is warm now: one start, for the observation
    assert observed.returncode == 0, observed.stderr
    assert json.loads(observed.stdout)["observed"][0]["data_version"] == f"from {team_venv}"
    assert _starts(folder) == {"team": 2, "plain": 1}
    # Touching the code makes the cache cold again: observe loads and observes with one process.
    source = folder / "team" / "pipeline.py"
    source.write_text(source.read_text() + "\n")
    later = source.stat().st_mtime + 5
    os.utime(source, (later, later))
    assert _run(folder, "observe", "--json").returncode == 0
    assert _starts(folder) == {"team": 3, "plain": 1}
