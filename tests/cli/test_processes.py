"""Real processes: Ctrl-C, a killed coordinator, concurrent writers, a corrupted database."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import headwater as hw
from headwater.core.events import RunStatus
from headwater.core.records import StepStatus

SLOW = """
import time
import headwater as hw

@hw.asset
def quick():
    return 1

@hw.asset
def slow(quick):
    time.sleep(60)

@hw.asset(deps=["slow"])
def after():
    return 2

defs = hw.Definitions(assets=[quick, slow, after])
"""


def cli(*args, home, **kw):
    env = {**os.environ, "HEADWATER_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "headwater", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def wait_for_step(home, step_key, timeout=30):
    deadline = time.monotonic() + timeout
    with hw.Instance(home=home) as inst:
        while time.monotonic() < deadline:
            if (home / "headwater.db").exists():
                for run in inst.store.list_runs(limit=5):
                    for step in inst.store.run_steps(run.run_id):
                        if step.step_key == step_key and step.status is StepStatus.STARTED:
                            return run.run_id
            time.sleep(0.1)
    raise AssertionError(f"step {step_key} never started")


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_ctrl_c_cancels_the_run_cleanly(tmp_path, write_project, executor):
    path = write_project(SLOW)
    home = tmp_path / "home"
    proc = cli("materialize", "-f", str(path), "--executor", executor, "--workers", "1", home=home)
    run_id = wait_for_step(home, "slow")
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)  # a bound, not a wait: it ends in about a second
    assert proc.returncode == 130, output
    with hw.Instance(home=home) as inst:
        run = inst.run(run_id)
        assert run.status is RunStatus.CANCELED and "Ctrl-C" in run.reason
        steps = {s.step_key: s.status for s in inst.run_steps(run_id)}
        assert steps == {"quick": StepStatus.SUCCEEDED, "slow": StepStatus.CANCELED, "after": StepStatus.SKIPPED}
        defs = hw.Definitions(assets=[])
        assert inst.runs()[0].status is RunStatus.CANCELED
        del defs


def test_killed_coordinator_is_noticed_and_its_run_marked_failed(tmp_path, write_project):
    path = write_project(SLOW)
    home = tmp_path / "home"
    proc = cli("materialize", "-f", str(path), "--executor", "in_process", home=home)
    run_id = wait_for_step(home, "slow")
    proc.kill()
    proc.communicate(timeout=10)
    status = subprocess.run([sys.executable, "-m", "headwater", "status", "-f", str(path), "--json"],
                            env={**os.environ, "HEADWATER_HOME": str(home)}, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    rows = {r["key"]: r for r in json.loads(status.stdout)}
    assert rows["quick"]["status"] == "materialized"  # nothing already stored was lost
    assert rows["slow"]["status"] == "failed" and "died" in rows["slow"]["error"]
    with hw.Instance(home=home) as inst:
        run = inst.run(run_id)
        assert run.status is RunStatus.FAILED and f"pid {proc.pid}" in run.reason


MANY = """
import headwater as hw

def make(prefix, n):
    out = []
    for i in range(n):
        deps = [f"{prefix}/a{i - 1}"] if i else []
        out.append(hw.asset(key=f"{prefix}/a{i}", deps=deps, code_version="1")(lambda: None))
    return out

defs = hw.Definitions(assets=make("left", 60) + make("right", 60))
"""


def test_two_materialize_processes_share_one_sqlite_home(tmp_path, write_project):
    path = write_project(MANY)
    home = tmp_path / "home"
    procs = [cli("materialize", sel, "-f", str(path), "--executor", "multiprocess", "--workers", "2", home=home)
             for sel in ("left/*", "right/*")]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert not any("locked" in o for o in outputs)
    with hw.Instance(home=home) as inst:
        runs = inst.runs()
        assert len(runs) == 2 and all(r.status is RunStatus.SUCCEEDED for r in runs)
        facts = inst.store.latest_facts()
        assert sum(1 for f in facts.values() if f.last_materialization is not None) == 120


def test_corrupted_database_is_a_clear_error_and_is_left_alone(tmp_path, write_project):
    path = write_project(SLOW)
    home = tmp_path / "home"
    home.mkdir()
    db = home / "headwater.db"
    garbage = b"this is not a database" * 100
    db.write_bytes(garbage)
    result = subprocess.run([sys.executable, "-m", "headwater", "status", "-f", str(path)],
                            env={**os.environ, "HEADWATER_HOME": str(home)}, capture_output=True, text=True)
    assert result.returncode == 2
    assert str(db) in result.stderr and "not a" in result.stderr and "database" in result.stderr
    assert "Traceback" not in result.stderr
    assert db.read_bytes() == garbage
