"""Kill the daemon (SIGKILL) at random moments, restart it: no run key is ever queued twice
and no run is ever executed twice."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import headwater as hw

PROJECT = '''
import os
import headwater as hw

LOG = os.environ["EXEC_LOG"]

@hw.asset
def record(context):
    with open(LOG, "a") as fh:
        fh.write(context.run_id + "\\n")

@hw.sensor(interval=0.05)
def every_half_second(context):
    return hw.RunRequest(selection="record", run_key=f"bucket-{int(context.now * 2)}")

defs = hw.Definitions(assets=[record], sensors=[every_half_second])
'''


@pytest.mark.slow
def test_killing_the_daemon_mid_tick_never_duplicates_a_run(tmp_path, write_project):
    path = write_project(PROJECT)
    log = tmp_path / "executions.log"
    env = {**os.environ, "HEADWATER_HOME": str(tmp_path / "home"), "EXEC_LOG": str(log)}
    rng = random.Random(7)
    for _ in range(5):
        daemon = subprocess.Popen(
            [sys.executable, "-m", "headwater", "daemon", "-f", str(path), "--interval", "0.05", "--lease-ttl", "0.5"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 2.0))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        time.sleep(0.6)  # the dead daemon's lease expires
    with hw.Instance(home=tmp_path / "home") as inst:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = inst.store.list_runs(limit=10_000)
            if all(r.status.is_terminal or r.status.value == "queued" for r in runs):
                break
            time.sleep(0.2)
        runs = inst.store.list_runs(limit=10_000)
    print("runs by status:", Counter(r.status.value for r in runs))
    keys = [r.run_key for r in runs]
    assert len(runs) >= 5
    assert all(k and k.startswith("sensor:every_half_second:bucket-") for k in keys)
    assert not [k for k, n in Counter(keys).items() if n > 1]
    executed = log.read_text().split() if log.exists() else []
    assert executed, "no run was executed"
    assert not [r for r, n in Counter(executed).items() if n > 1], "a run was executed twice"
    succeeded = {r.run_id for r in runs if r.status.value == "succeeded"}
    assert succeeded <= set(executed)
