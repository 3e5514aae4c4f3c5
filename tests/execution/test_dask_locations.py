"""A workspace on Dask: each step runs in its code location's interpreter, started by the
worker that got the step (real scheduler and worker processes, PostgreSQL, a real virtualenv).
Over 5 s: a virtualenv, location servers started on the workers, and a step that must time out."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import headwater as hw
from headwater.core.events import StepStarted
from headwater.definitions.locations_config import find_workspace
from headwater.service.workspace import Workspace

pytestmark = pytest.mark.postgres

TEAM = '''
import sys
import threading
import headwater as hw

@hw.asset
def orders():
    return {"rows": [1, 2, 3], "python": sys.prefix}

@hw.asset(timeout=1)
def hangs():
    threading.Event().wait()               # never returns
'''

PLAIN = '''
import sys
import headwater as hw

@hw.asset
def revenue(orders):                       # reads the team location's asset, by key
    return {"total": sum(orders["rows"]), "python": sys.prefix}
'''


@pytest.fixture
def workspace(tmp_path: Path, write_locations):
    venv = tmp_path / "team-venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    folder = write_locations(tmp_path / "ws", [{"name": "team", "source": TEAM, "python": venv},
                                               {"name": "plain", "source": PLAIN}])
    ws = Workspace(find_workspace(folder), folder / ".headwater").load()
    yield ws, venv
    ws.close()


def test_each_step_runs_in_its_locations_interpreter_on_the_worker(on_cluster, workspace, tmp_path):
    _, url = on_cluster
    ws, venv = workspace
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        result = instance.materialize(ws.definitions(), "orders+", executor="dask")
        assert result.success, result.errors
        assert result.value("orders")["python"] == str(venv)
        assert result.value("revenue") == {"total": 6, "python": sys.prefix}
        assert instance.run(result.run_id).executor == "dask"
        # Not in a process of the workspace here: in the location's server under a Dask worker.
        pids = {e.event.pid for e in instance.run_events(result.run_id) if isinstance(e.event, StepStarted)}
        local = {p.proc.pid for p in ws.processes.values()}
        assert pids and not pids & local

        started = time.monotonic()
        timed = instance.materialize(ws.definitions(), "hangs", executor="dask")
        assert time.monotonic() - started < 60
        assert timed.errors["hangs"].message.startswith("step hangs timed out after 1 s")
        _wait_until_the_worker_lets_go(url)  # its location process retired, the task ends: the worker is free
        again = instance.materialize(ws.definitions(), "orders", executor="dask")  # the location still works
        assert again.success, again.errors


def _wait_until_the_worker_lets_go(url: str) -> None:
    """The abandoned step's task gives its lease up once it has told the location to stop."""
    import psycopg

    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM leases WHERE name LIKE 'step:%'").fetchone()[0]:
            assert time.monotonic() < deadline, "the task of the abandoned step never ended"
            time.sleep(0.1)
