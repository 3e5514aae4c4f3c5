"""A run's heartbeat lease, and the reaper reading it on every path (issue 17): a dead run
is never shown as ``started``, even when its pid was reused or it ran on another machine."""

import json
import os
import socket
import subprocess
import sys
import time

from typer.testing import CliRunner

import headwater as hw
from headwater.cli.app import app
from headwater.core.events import RunStarted

HOST = socket.gethostname()


def _started(instance, run_id, host=HOST, pid=None, lease_expires_in=None):
    instance.store.write([RunStarted(run_id=run_id, timestamp=time.time(), selection="*", executor="in_process",
                                     pid=pid, host=host)])
    if lease_expires_in is not None:
        now = time.time()
        # expired: taken long ago with a short ttl; alive: taken now
        taken = now if lease_expires_in > 0 else now + lease_expires_in - 1
        assert instance.store.acquire_lease(f"run:{run_id}", f"{host}:{pid}:x", 1 if lease_expires_in < 0
                                            else lease_expires_in, taken)


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_running_run_holds_its_lease_and_releases_it_at_the_end(instance):
    seen = {}

    @hw.asset
    def look(context):
        seen.update(instance.store.leases("run:"))
        return 1

    result = instance.materialize(hw.Definitions(assets=[look]), "*")
    assert result.success
    owner, expires_at = seen[f"run:{result.run_id}"]
    assert owner.startswith(f"{HOST}:{os.getpid()}:") and expires_at > time.time()
    assert instance.store.leases("run:") == {}


def test_a_run_on_another_machine_whose_heartbeat_stopped_is_failed_when_read(instance):
    _started(instance, "remote-dead", host="worker-7", pid=4242, lease_expires_in=-60)
    _started(instance, "remote-alive", host="worker-8", pid=4242, lease_expires_in=60)
    _started(instance, "remote-unknown", host="worker-9", pid=4242)  # no lease: cannot tell from here
    dead = instance.run("remote-dead")
    assert dead.status.value == "failed"
    assert "heartbeat stopped" in dead.reason and "worker-7:4242" in dead.reason
    assert instance.run("remote-alive").status.value == "started"
    assert instance.run("remote-unknown").status.value == "started"
    assert "run:remote-dead" not in instance.store.leases("run:")


def test_a_reused_pid_does_not_keep_a_dead_run_alive(instance):
    # The pid is alive (our parent), but it is not the run's process any more: the lease says so.
    _started(instance, "reused", pid=os.getppid(), lease_expires_in=-30)
    [run] = instance.runs(limit=1)
    assert run.status.value == "failed" and "heartbeat stopped" in run.reason


def test_run_show_reaps_a_dead_local_run_itself(instance, tmp_path):
    _started(instance, "a" * 32, pid=_dead_pid(), lease_expires_in=60)
    result = CliRunner().invoke(app, ["run", "show", "aaaa", "--json", "--home", str(instance.home)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["status"] == "failed"
    assert "died before the run finished" in shown["reason"]
