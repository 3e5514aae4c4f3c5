"""docs/deployment.md, run: every command in its ``sh`` blocks, in order, against the local
PostgreSQL (a fresh schema) and real Dask processes, host names and ports swapped for local
ones. Servers (scheduler, workers, daemon, UI) run in the background until the end."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import headwater as hw
from headwater.core.events import RunStatus

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deployment.md"


PIPELINE = """
import headwater as hw

@hw.asset
def orders():
    return [1, 2, 3]

@hw.asset(executor_tags={"memory": "8GB"})
def revenue(orders):
    return sum(orders)

defs = hw.Definitions(assets=[orders, revenue])
"""

SERVERS = ("dask scheduler", "dask worker", "headwater daemon", "headwater ui")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate, what: str, procs: list[subprocess.Popen], timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        for p in procs:
            assert p.poll() is None, f"{p.args} exited with {p.returncode} while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.postgres
def test_every_command_of_the_deployment_doc_runs(tmp_path, pg_schema_url):
    text = DOC.read_text()
    dask_port, ui_port = _free_port(), _free_port()
    swaps = {"postgresql://headwater:secret@db-host:5432/headwater": shlex.quote(pg_schema_url),
             "scheduler-host:8786": f"127.0.0.1:{dask_port}", "--port 8786": f"--port {dask_port}",
             "--port 3000": f"--port {ui_port}", "--host 0.0.0.0": "--host 127.0.0.1"}

    def local(line: str) -> str:
        for old, new in swaps.items():
            line = line.replace(old, new)
        return line

    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.py").write_text(PIPELINE)
    toml = re.search(r"```toml\n(.*?)\n```", text, re.S)
    assert toml is not None
    (project / "pyproject.toml").write_text(local(toml.group(1)))
    commands = [line.strip() for block in re.findall(r"```sh\n(.*?)\n```", text, re.S)
                for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert any(c.startswith("dask worker") for c in commands) and "headwater db upgrade" in commands

    env = {**os.environ, "HEADWATER_HOME": str(tmp_path / "home"), "HEADWATER_STEP_LEASE_TTL": "5"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    servers: list[subprocess.Popen] = []
    ran: list[str] = []
    try:
        for command in commands:
            command = local(command)
            if command.startswith("export "):
                name, _, value = command[len("export "):].partition("=")
                env[name] = subprocess.run(["bash", "-c", f"printf %s {value}"], capture_output=True,
                                           text=True, check=True).stdout
            elif command.startswith(SERVERS):
                with open(tmp_path / f"server-{len(servers)}.log", "wb") as log:  # the child keeps its own copy
                    servers.append(subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=project, env=env,
                                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
                if command.startswith("dask scheduler"):
                    _wait(lambda: _port_open(dask_port), "the scheduler", servers)
                elif command.startswith("headwater ui"):
                    _wait(lambda: _http_ok(f"http://127.0.0.1:{ui_port}/openapi.json"), "the UI", servers)
            else:
                if command.startswith("headwater materialize") and "--queue" not in command:
                    from distributed import Client

                    with Client(f"tcp://127.0.0.1:{dask_port}", timeout=30) as client:
                        client.wait_for_workers(2, timeout=60)
                done = subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True,
                                      timeout=120)
                assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            ran.append(command)
        with hw.Instance(home=tmp_path / "home", database_url=pg_schema_url) as instance:
            def queued_run_done() -> bool:
                runs = instance.store.list_runs(limit=10)
                return len(runs) == 2 and all(r.status.is_terminal for r in runs)

            _wait(queued_run_done, "the daemon to run the queued run on Dask", servers)
            runs = instance.store.list_runs(limit=10)
            assert [(r.status, r.executor) for r in runs] == [(RunStatus.SUCCEEDED, "dask")] * 2
    finally:
        for proc in servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in servers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    assert len(ran) == len(commands)
