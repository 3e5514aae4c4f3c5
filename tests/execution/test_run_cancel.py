"""Canceling a started run from another process (issue 11): ``headwater run cancel`` while a
``headwater materialize`` in another process runs it, on the multiprocess executor (SQLite)
and on a real Dask cluster (PostgreSQL). The slow step waits for a file the test never
writes (or writes only after the cancel), so the test, not a clock, decides what happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import headwater as hw
from headwater.core.events import AssetMaterialized, RunStatus, SkipReason, StepSkipped, StepSucceeded
from headwater.core.keys import AssetKey
from headwater.core.records import AttemptStatus, StepStatus

PIPELINE = """
import os, time
from pathlib import Path
import headwater as hw

HERE = Path(__file__).parent

@hw.asset
def first():
    return 1

@hw.asset
def slow(first):
    (HERE / "slow.tmp").write_text(str(os.getpid()))
    os.replace(HERE / "slow.tmp", HERE / "slow.pid")  # whole, or not there
    for _ in range(6000):
        if (HERE / "release").exists():
            (HERE / "returned").write_text("")
            return first + 1
        time.sleep(0.05)
    raise RuntimeError("never released")

@hw.asset
def after(slow):
    return slow + 1

defs = hw.Definitions(assets=[first, slow, after])
"""


@pytest.fixture
def project(write_project):  # type: ignore[no-untyped-def]
    folder = write_project(PIPELINE).parent
    yield folder
    (folder / "release").write_text("")  # whatever happened, no step waits on after the test


def headwater(args: list[str], folder: Path, env: dict[str, str], **kw):  # type: ignore[no-untyped-def]
    return subprocess.Popen([sys.executable, "-m", "headwater", *args], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def wait_for(condition, what: str, timeout: float = 60.0, proc=None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process ended early: {proc.communicate()[0]}")
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.05)
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def start_and_cancel(folder: Path, env: dict[str, str], executor: str) -> tuple[str, int, dict]:
    """``materialize`` in one process, ``run cancel --wait --json`` from another once the slow
    step runs; returns the run id, the pid that ran the slow step, and the cancel's JSON."""
    coordinator = headwater(["materialize", "*", "-f", "pipeline.py", "--executor", executor,
                             *(["--workers", "1"] if executor == "multiprocess" else [])], folder, env,
                            start_new_session=True)
    try:
        wait_for(lambda: (folder / "slow.pid").exists(), "the slow step starts", proc=coordinator)
        step_pid = int((folder / "slow.pid").read_text())
        with hw.Instance(home=env["HEADWATER_HOME"], database_url=env.get("HEADWATER_DATABASE_URL")) as instance:
            [run] = instance.runs(statuses=[RunStatus.STARTED])
        cancel = headwater(["run", "cancel", run.run_id[:8], "--wait", "--json"], folder, env)
        out, _ = cancel.communicate(timeout=90)
        assert cancel.returncode == 0, out
        answer = json.loads(out)
        out, _ = coordinator.communicate(timeout=60)
        assert coordinator.returncode == 1, out
        assert f"run {run.run_id} canceled" in out and "canceled on request" in out
        return run.run_id, step_pid, answer
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            coordinator.communicate()


def assert_canceled(instance: hw.Instance, run_id: str) -> None:
    run = instance.run(run_id)
    assert (run.status, run.reason) == (RunStatus.CANCELED, "canceled on request") and run.cancel_requested_at
    steps = {s.step_key: s for s in instance.run_steps(run_id)}
    assert steps["first"].status is StepStatus.SUCCEEDED
    assert steps["slow"].status is StepStatus.CANCELED
    assert (steps["after"].status, steps["after"].detail) == (StepStatus.SKIPPED, "canceled on request")
    events = [e.event for e in instance.run_events(run_id)]
    [skip] = [e for e in events if isinstance(e, StepSkipped) and e.step_key == "after"]
    assert skip.reason is SkipReason.CANCELED
    assert not [e for e in events if isinstance(e, StepSucceeded) and e.step_key != "first"]
    assert [e.key for e in events if isinstance(e, AssetMaterialized)] == [AssetKey(("first",))]
    facts = instance.store.latest_facts()
    assert facts[AssetKey(("first",))].last_materialization.run_id == run_id  # kept
    slow = facts[AssetKey(("slow",))]
    assert slow.last_materialization is None and slow.last_attempt_status is AttemptStatus.CANCELED


def test_a_run_started_elsewhere_on_the_multiprocess_executor_is_canceled_from_the_cli(project, tmp_path):
    """~5 s: three CLI processes and a spawned worker, each importing Headwater."""
    env = {**os.environ, "HEADWATER_HOME": str(tmp_path / "home")}
    env.pop("HEADWATER_DATABASE_URL", None)
    run_id, step_pid, answer = start_and_cancel(project, env, "multiprocess")
    assert answer["run_id"] == run_id and answer["status"] == "canceled" and answer["canceled"] is True
    assert answer["cancel_requested_at"] and answer["reason"] == "canceled on request"
    wait_for(lambda: gone(step_pid), "the step's worker process is gone", timeout=10)
    assert not (project / "returned").exists()
    with hw.Instance(home=tmp_path / "home") as instance:
        assert_canceled(instance, run_id)
        before = instance.store.last_event_id()
        again = subprocess.run([sys.executable, "-m", "headwater", "run", "cancel", run_id], cwd=project, env=env,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and f"run {run_id} already canceled; nothing to cancel" in again.stderr
        assert instance.store.last_event_id() == before  # nothing written
    listed = subprocess.run([sys.executable, "-m", "headwater", "runs", "--json"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60)
    [entry] = [r for r in json.loads(listed.stdout) if r["run_id"] == run_id]
    assert entry["cancel_requested_at"] == answer["cancel_requested_at"]  # runs --json says when it was asked


@pytest.mark.postgres
def test_a_run_on_dask_is_canceled_from_the_cli_and_its_late_step_records_nothing(on_cluster, project, tmp_path):
    """~8 s: a real scheduler and workers, the coordinator and the canceler as CLI processes."""
    cluster, url = on_cluster
    # A long step lease: the worker never renews it during the test, so it never learns by
    # itself that the step was given up, and reports its success — which its store drops.
    env = {**os.environ, "HEADWATER_DATABASE_URL": url, "HEADWATER_HOME": str(tmp_path / "home"),
           "HEADWATER_STEP_LEASE_TTL": "600"}
    run_id, _, answer = start_and_cancel(project, env, "dask")
    assert answer["status"] == "canceled"
    with cluster.client() as client:
        def ours(dask_scheduler):  # type: ignore[no-untyped-def]
            return [str(k) for k in dask_scheduler.tasks if str(k).startswith(f"headwater-{run_id[:12]}")]

        wait_for(lambda: not client.run_on_scheduler(ours), "the run's futures are released", timeout=30)
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        assert_canceled(instance, run_id)
        # The canceled task still runs on its worker (Dask cannot kill a thread): let it finish,
        # and wait until it has let its step lease go — it has reported whatever it would.
        (project / "release").write_text("")
        wait_for(lambda: (project / "returned").exists(), "the canceled task returns")
        wait_for(lambda: not instance.store.leases(f"step:{run_id}:"), "the late step is over", timeout=30)
        assert_canceled(instance, run_id)


def test_a_claim_nobody_took_up_is_canceled_at_once_and_a_coordinated_run_gets_a_request(tmp_path):
    """Where the run stands decides: claimed by the daemon with no worker yet (no pid, no
    heartbeat) -> ended here; taken up by a process -> a request it reads (``run show`` says so)."""
    from typer.testing import CliRunner

    from headwater.cli.app import app
    from headwater.core.events import RunStarted

    @hw.asset
    def one() -> int:
        return 1

    defs = hw.Definitions(assets=[one])
    home = ["--home", str(tmp_path / "home")]
    with hw.Instance(home=tmp_path / "home") as instance:
        claimed, _ = instance.enqueue(defs, "one")
        instance.claim(claimed)
        done = instance.cancel_run(claimed.run_id, requested_by="test")
        assert not done.requested and done.run.status is RunStatus.CANCELED and done.run.cancel_requested_at is None
        with pytest.raises(hw.HeadwaterError, match="already canceled; nothing to execute"):
            instance.execute_queued(defs, claimed.run_id)  # the worker launched for it refuses

        taken, _ = instance.enqueue(defs, "one")
        instance.store.write([RunStarted(run_id=taken.run_id, timestamp=time.time(), executor="in_process",
                                         pid=os.getpid(), host=os.uname().nodename)])
        result = CliRunner().invoke(app, ["run", "cancel", taken.run_id[:8], *home])
        assert result.exit_code == 0 and "cancel requested: run" in result.output, result.output
        shown = CliRunner().invoke(app, ["run", "show", taken.run_id, *home])
        assert "cancel requested" in shown.output and "canceled on request" in shown.output, shown.output
        assert instance.run(taken.run_id).status is RunStatus.STARTED  # until its coordinator ends it
