"""Worker liveness defects found under faults (issue 17): a worker killed while idle, a
worker that hangs, and an asset that never returns under the project's default timeout."""

import functools
import multiprocessing
import os
import signal
import textwrap
import time

import headwater as hw
from headwater.core.keys import AssetKey
from headwater.definitions.loader import find_location, load_definitions
from headwater.execution.multiprocess import MultiprocessExecutor, WorkerBootstrap
from headwater.execution.requests import StepRequest
from headwater.storage.sql.store import open_store
from headwater.values.filesystem import FilesystemValueStore


def test_an_idle_worker_killed_is_replaced_and_the_run_goes_on(instance):
    @hw.asset
    def first():
        return 1

    @hw.asset
    def second(first):
        return first + 1

    @hw.asset
    def third(second):
        return second + 1

    killed = []

    def kill_idle_workers(event, step, detail):
        # After ``first`` both workers are idle: kill them all, as an OOM killer would.
        if event == "succeeded" and step.key == "first":
            for child in multiprocessing.active_children():
                if child.name == "headwater-worker":
                    os.kill(child.pid, signal.SIGKILL)
                    child.join(5)
                    killed.append(child.pid)

    result = instance.materialize(hw.Definitions(assets=[first, second, third]), "*", executor="multiprocess",
                                  workers=2, progress=kill_idle_workers)
    assert len(killed) == 2
    assert result.success, result.errors
    assert result.value("third") == 3
    assert instance.run(result.run_id).status.value == "succeeded"


HANGS = """
import os, signal
import headwater as hw

@hw.asset
def stops_itself():
    os.kill(os.getpid(), signal.SIGSTOP)  # alive, but never runs again: a hung worker

defs = hw.Definitions(assets=[stops_itself])
"""


def test_a_hung_worker_is_detected_by_its_heartbeat_and_named(tmp_path, write_project):
    path = write_project(HANGS)
    location = find_location(file=str(path))
    url = f"sqlite:///{tmp_path / 'hw.db'}"
    boot = WorkerBootstrap(functools.partial(load_definitions, location), functools.partial(open_store, url),
                           functools.partial(FilesystemValueStore, tmp_path / "values"))
    executor = MultiprocessExecutor(boot, 1, "spawn", heartbeat_timeout=1.0)
    try:
        executor.submit(StepRequest(run_id="r1", step_key="stops_itself", asset_keys=(AssetKey.parse("stops_itself"),),
                                    inputs={}))
        outcomes = []
        deadline = time.monotonic() + 60
        while not outcomes and time.monotonic() < deadline:
            outcomes = executor.poll(None)
        [outcome] = outcomes
        assert not outcome.ok
        assert outcome.error.type_name == "WorkerHung"
        assert "step stops_itself hung: no heartbeat" in outcome.error.message
        assert executor.in_flight() == 0  # the stopped worker was killed and replaced
    finally:
        executor.close()


def test_the_project_default_step_timeout_stops_a_hanging_asset(instance, tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[tool.headwater]\nfile = "pipeline.py"\nstep_timeout = 0.5\n')
    (folder / "pipeline.py").write_text(textwrap.dedent("""
        import time
        import headwater as hw

        @hw.asset
        def never_returns():
            time.sleep(60)

        @hw.asset
        def quick():
            return 1

        defs = hw.Definitions(assets=[never_returns, quick])
    """))
    defs = load_definitions(find_location(cwd=folder))
    assert defs.step_timeout == 0.5
    started = time.monotonic()
    result = instance.materialize(defs, "*")
    assert time.monotonic() - started < 30
    message = result.errors["never_returns"].message
    assert "never_returns timed out after 0.5 s" in message and "did not return" in message
    assert result.outcome.step_status["quick"] == "succeeded"


def test_a_bad_step_timeout_names_the_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.headwater]\nfile = "p.py"\nstep_timeout = -3\n')
    (tmp_path / "p.py").write_text("import headwater as hw\n@hw.asset\ndef a():\n    return 1\n")
    try:
        load_definitions(find_location(cwd=tmp_path))
    except hw.HeadwaterError as exc:
        assert "step_timeout must be a positive number" in str(exc) and "pyproject.toml" in str(exc)
    else:
        raise AssertionError("a negative step_timeout was accepted")
