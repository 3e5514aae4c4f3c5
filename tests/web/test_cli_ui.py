"""`headwater ui` and `headwater dev` as a person starts them: real processes, real sockets."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import headwater as hw
from headwater.automation.daemon import LEASE as DAEMON_LEASE

from .browser import free_port


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def start(args: list[str], folder: Path) -> subprocess.Popen:
    env = {**os.environ, "HEADWATER_HOME": str(folder / ".headwater")}
    env.pop("HEADWATER_UI_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "headwater", *args, "-f", str(folder / "pipeline.py")],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_headwater_ui_serves_read_only(project):
    folder, _ = project
    port = free_port()
    proc = start(["ui", "--port", str(port), "--read-only"], folder)
    try:
        session = wait_for(f"http://127.0.0.1:{port}/api/session", proc)
        assert session["read_only"] is True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/assets") as response:
            assert {r["key"] for r in json.loads(response.read())} >= {"revenue", "flaky"}
    finally:
        out = stop(proc)
    assert f"Headwater UI on http://127.0.0.1:{port} (read-only)" in out


@pytest.mark.slow
def test_headwater_dev_runs_what_the_ui_queues(project):
    """dev = daemon + UI: a run queued through the API is launched by the daemon and succeeds."""
    folder, _ = project
    port = free_port()
    proc = start(["dev", "--port", str(port), "--interval", "0.5"], folder)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/api/session", proc)
        # the daemon thread holds its lease (so the UI leaves the run to it), however long it took
        with hw.Instance(home=folder / ".headwater") as watcher:
            deadline = time.monotonic() + 60
            while watcher.store.lease_holder(DAEMON_LEASE) is None:
                assert proc.poll() is None and time.monotonic() < deadline, "the daemon took no lease"
                time.sleep(0.05)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(base + "/api/session") as response:
            token = json.loads(response.read())["csrf_token"]
        request = urllib.request.Request(base + "/api/actions/materialize", method="POST",
                                         data=json.dumps({"selection": "staging/orders"}).encode(),
                                         headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        with opener.open(request) as response:
            run = json.loads(response.read())["run"]
        assert run["status"] == "queued"  # the daemon holds the lease: the UI leaves it to the daemon
        deadline = time.monotonic() + 60
        status = run["status"]
        while status not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.3)
            with opener.open(f"{base}/api/runs/{run['run_id']}") as response:
                status = json.loads(response.read())["status"]
        assert status == "succeeded"
    finally:
        out = stop(proc)
    assert "headwater daemon" in out and "Headwater UI on" in out
