"""The Dask executor on a real cluster: faults, resources, and every way a run reaches it
(Python API, the CLI, a queued run's worker as the daemon launches it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import headwater as hw
from headwater.core.events import RunStatus, StepFailed
from headwater.definitions.loader import find_location, load_definitions

pytestmark = pytest.mark.postgres

PIPELINE = """
import os, time
from pathlib import Path
import headwater as hw

HERE = Path(__file__).parent

@hw.asset
def source():
    return 20

@hw.asset(retry=hw.RetryPolicy(max_retries=1, delay=0))
def killed_once(source, context):
    if context.attempt == 1:
        os.kill(os.getpid(), 9)  # the whole worker process, mid-step
    return source + 1

@hw.asset
def killed(source):
    os.kill(os.getpid(), 9)

@hw.asset
def after_killed(killed):
    return killed

@hw.asset(executor_tags={"memory": "8GB"})
def big(source):
    from distributed import get_worker
    return get_worker().name

@hw.asset(executor_tags={"GPU": "1"})
def needs_gpu():
    return 1

@hw.asset
def waits():
    (HERE / "waiting").write_text(str(os.getpid()))
    for _ in range(600):
        if (HERE / "release").exists():
            return 1
        time.sleep(0.05)

defs = hw.Definitions(assets=[source, killed_once, killed, after_killed, big, needs_gpu, waits])
"""


@pytest.fixture
def project(write_project):  # type: ignore[no-untyped-def]
    path = write_project(PIPELINE)
    yield find_location(file=str(path)), path.parent
    (path.parent / "release").write_text("")


def _failures(instance: hw.Instance, run_id: str) -> list[StepFailed]:
    return [e.event for e in instance.run_events(run_id) if isinstance(e.event, StepFailed)]  # type: ignore[misc]


@pytest.mark.slow
def test_a_worker_killed_mid_step_fails_the_attempt_naming_worker_and_asset_then_retries(on_cluster, project, tmp_path):
    _, url = on_cluster
    location, _ = project
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        defs = load_definitions(location)
        result = instance.materialize(defs, "killed_once or killed+ or source", executor="dask", location=location)
        assert result.value("killed_once") == 21  # attempt 2, on a live worker
        first = {f.step_key: f for f in _failures(instance, result.run_id) if f.attempt == 1}
        for step in ("killed_once", "killed"):
            message = first[step].error.message
            assert "worker tcp://127.0.0.1:" in message and f"asset {step}" in message and "died" in message, message
        assert first["killed_once"].will_retry and not first["killed"].will_retry
        assert result.outcome.skipped == {"after_killed": "upstream step killed failed"}
        assert result.outcome.step_status["source"] == "succeeded"


def test_executor_tags_become_worker_resources(on_cluster, project, tmp_path):
    _, url = on_cluster
    location, _ = project
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        defs = load_definitions(location)
        result = instance.materialize(defs, "+big or needs_gpu", executor="dask", location=location)
        assert result.value("big") == "w1"  # the one worker started with --resources memory=16e9
        message = result.errors["needs_gpu"].message
        assert "needs Dask worker resources GPU=1, which no worker" in message and "--resources" in message


def test_an_unreachable_scheduler_is_a_clear_error_before_anything_is_recorded(project, tmp_path, monkeypatch,
                                                                                pg_schema_url):
    from dask_procs import free_port

    location, _ = project
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HEADWATER_DASK_ADDRESS", address)
    monkeypatch.setenv("HEADWATER_DASK_TIMEOUT", "1")
    with hw.Instance(home=tmp_path / "home", database_url=pg_schema_url) as instance:
        with pytest.raises(hw.HeadwaterError, match=f"cannot reach the Dask scheduler at {address}"):
            instance.materialize(load_definitions(location), "source", executor="dask", location=location)
        assert instance.runs() == []


def test_a_sqlite_store_is_refused_with_a_remote_scheduler(project, tmp_path, monkeypatch):
    location, _ = project
    monkeypatch.setenv("HEADWATER_DASK_ADDRESS", "tcp://scheduler.example:8786")
    with hw.Instance(home=tmp_path / "home") as instance:
        with pytest.raises(hw.HeadwaterError, match="cannot use the SQLite store .* Use PostgreSQL"):
            instance.materialize(load_definitions(location), "source", executor="dask", location=location)
        assert instance.runs() == []


def _cli(args: list[str], cwd: Path, env: dict[str, str], **kw):  # type: ignore[no-untyped-def]
    return subprocess.Popen([sys.executable, "-m", "headwater", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_cli_and_queued_runs_use_the_cluster(on_cluster, project, tmp_path):
    cluster, url = on_cluster
    location, folder = project
    env = {**os.environ, "HEADWATER_DATABASE_URL": url, "HEADWATER_HOME": str(tmp_path / "home")}
    cli = _cli(["materialize", "source", "-f", "pipeline.py", "--executor", "dask"], folder, env)
    out, _ = cli.communicate(timeout=90)
    assert cli.returncode == 0, out
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        defs = load_definitions(location)
        record, _ = instance.enqueue(defs, "+big", location=location)
        # What the daemon's launcher starts for a queued run, told to use Dask by its environment.
        worker = _cli(["run-worker", record.run_id], folder, {**env, "HEADWATER_EXECUTOR": "dask"})
        out, _ = worker.communicate(timeout=90)
        assert worker.returncode == 0, out
        runs = {r.run_id: r for r in instance.runs()}
        assert runs[record.run_id].status is RunStatus.SUCCEEDED and runs[record.run_id].executor == "dask"
        assert [r.executor for r in runs.values()] == ["dask", "dask"]


def test_a_killed_coordinator_fails_its_run_and_its_futures_are_released(on_cluster, project, tmp_path):
    cluster, url = on_cluster
    _, folder = project
    env = {**os.environ, "HEADWATER_DATABASE_URL": url, "HEADWATER_HOME": str(tmp_path / "home")}
    coordinator = _cli(["materialize", "waits", "-f", "pipeline.py", "--executor", "dask"], folder, env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (folder / "waiting").exists():  # the step is running on a worker
            assert coordinator.poll() is None, coordinator.communicate()[0]
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.05)
    finally:
        os.killpg(coordinator.pid, signal.SIGKILL)
        coordinator.communicate(timeout=10)
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        [run] = instance.runs()
        assert run.status is RunStatus.FAILED and f"pid {coordinator.pid}" in (run.reason or "")
    with cluster.client() as client:
        def ours(dask_scheduler):  # type: ignore[no-untyped-def]
            return [str(k) for k in dask_scheduler.tasks if str(k).startswith(f"headwater-{run.run_id[:12]}")]

        deadline = time.monotonic() + 30
        while client.run_on_scheduler(ours):
            assert time.monotonic() < deadline, client.run_on_scheduler(ours)
            time.sleep(0.1)


@pytest.mark.slow
def test_without_an_address_a_local_cluster_runs_on_sqlite_and_finds_the_definitions_itself(project, tmp_path,
                                                                                            monkeypatch):
    location, _ = project
    monkeypatch.delenv("HEADWATER_DASK_ADDRESS", raising=False)
    defs = load_definitions(location)  # no location passed below: inferred from the module that holds defs
    with hw.Instance(home=tmp_path / "home") as instance:
        result = instance.materialize(defs, "source", executor="dask", workers=1)
        assert result.success and result.value("source") == 20
        assert instance.run(result.run_id).executor == "dask"
    with pytest.raises(hw.HeadwaterError, match="needs to know where they are"):
        hw.Instance(home=tmp_path / "other").materialize(hw.Definitions(assets=list(defs._given_assets)), "source",
                                                         executor="dask", workers=1)


@pytest.mark.slow
def test_ctrl_c_cancels_the_run_and_its_dask_futures(on_cluster, project, tmp_path):
    cluster, url = on_cluster
    _, folder = project
    env = {**os.environ, "HEADWATER_DATABASE_URL": url, "HEADWATER_HOME": str(tmp_path / "home")}
    coordinator = _cli(["materialize", "waits", "-f", "pipeline.py", "--executor", "dask"], folder, env,
                       start_new_session=True)
    deadline = time.monotonic() + 60
    while not (folder / "waiting").exists():
        assert coordinator.poll() is None, coordinator.communicate()[0]
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    coordinator.send_signal(signal.SIGINT)
    out, _ = coordinator.communicate(timeout=60)
    assert coordinator.returncode == 130, out
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        [run] = instance.runs()
        assert run.status is RunStatus.CANCELED
    with cluster.client() as client:
        def ours(dask_scheduler):  # type: ignore[no-untyped-def]
            return [str(k) for k in dask_scheduler.tasks if str(k).startswith(f"headwater-{run.run_id[:12]}")]

        deadline = time.monotonic() + 30
        while client.run_on_scheduler(ours):
            assert time.monotonic() < deadline, client.run_on_scheduler(ours)
            time.sleep(0.1)
