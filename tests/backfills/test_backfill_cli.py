"""The ``headwater backfill`` commands as a person runs them, in real processes: the
foreground driver killed in the middle of a run, then resumed — no partition built twice,
none forgotten; ``--queue`` left to the daemon; ``--json`` everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from bf_helpers import builds
from click.testing import Result
from typer.testing import CliRunner

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _env(project_dir: Path) -> dict[str, str]:
    return {**os.environ, "HEADWATER_HOME": str(project_dir / "home"), "HW_BACKFILL_DIR": str(project_dir),
            "PYTHONPATH": SRC, "COLUMNS": "200"}


def _hw(project_dir: Path, *args: str, check: bool = True, project: bool = True) -> Result:
    """``headwater ARGS`` in this process (the project's steering dir is set by the fixture)."""
    from headwater.cli.app import app

    where = ["-f", str(project_dir / "project.py")] if project else []
    done = CliRunner().invoke(app, [*args, *where, "--home", str(project_dir / "home")])
    if check and done.exit_code != 0:
        raise AssertionError(f"headwater {' '.join(args)} exited {done.exit_code}: {done.output}")
    return done


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "the backfill ended before reaching the held partition"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_killing_the_foreground_driver_mid_run_then_resume(project_dir: Path):
    (project_dir / "hold").write_text("2026-01-03")
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater", "backfill", "events+", "--from", "2026-01-01", "--to", "2026-01-05",
         "--chunk-size", "1", "-f", str(project_dir / "project.py")],
        env=_env(project_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(project_dir / "holding", proc)  # the driver is inside events[2026-01-03]
    finally:
        proc.kill()
        proc.wait(30)
    (project_dir / "release").write_text("")
    before = Counter(builds(project_dir))
    assert before and "events[2026-01-03]" not in before

    listed = json.loads(_hw(project_dir, "backfills", "--json").stdout)
    assert len(listed) == 1 and listed[0]["status"] == "requested"
    backfill_id = listed[0]["backfill_id"]
    resumed = _hw(project_dir, "backfill", "resume", backfill_id[:8], "--json")
    final = json.loads(resumed.stdout)
    assert final["status"] == "completed", final
    assert final["counts"]["done"] == final["total"] == 5 + 7 + 10 + 1
    built = Counter(builds(project_dir))
    assert set(built.values()) == {1}, f"built twice: {[k for k, n in built.items() if n > 1]}"
    assert len(built) == final["total"]
    # the run that died with its driver is failed with the reason, and was not re-run as is
    runs = final["runs"]
    assert any(r["status"] == "failed" and "died" in (r["reason"] or "") for r in runs)

    shown = _hw(project_dir, "backfill", "show", backfill_id[:8])
    assert "completed" in shown.stdout and "23/23 done" in shown.stdout
    refused = _hw(project_dir, "backfill", "cancel", backfill_id, check=False, project=False)
    assert refused.exit_code == 2 and "already completed" in refused.stderr


def test_queue_then_cancel_and_bad_input(project_dir: Path):
    queued = json.loads(_hw(project_dir, "backfill", "events", "--from", "2026-01-01", "--to", "2026-01-04",
                            "--queue", "--json").stdout)
    assert queued["status"] == "requested" and queued["total"] == 4
    canceled = json.loads(_hw(project_dir, "backfill", "cancel", queued["backfill_id"], "--json",
                               project=False).stdout)
    assert canceled["status"] == "canceled"
    bad = _hw(project_dir, "backfill", "events", "--from", "2025-01-01", check=False)
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "outside the partitions" in bad.stderr
    assert len(json.loads(_hw(project_dir, "backfills", "--json").stdout)) == 1


@pytest.mark.slow
def test_the_daemon_drives_a_queued_backfill_in_worker_processes(project_dir: Path):
    from headwater.automation.daemon import Daemon
    from headwater.core.backfills import BackfillStatus
    from headwater.definitions.loader import find_location, load_definitions
    from headwater.service import Instance

    location = find_location(str(project_dir / "project.py"), None, None)
    defs = load_definitions(location)
    with Instance(home=project_dir / "home") as instance:
        record = instance.launch_backfill(defs, "events+", partition_range=("2026-01-01", "2026-01-04"),
                                          chunk_size=2)
        daemon = Daemon(instance, defs, location, interval=0.2)
        deadline = time.monotonic() + 120
        try:
            while instance.backfill(record.backfill_id).status is BackfillStatus.REQUESTED:
                assert time.monotonic() < deadline, instance.backfill_progress(defs, record).summary()
                daemon.tick()
                time.sleep(0.2)
        finally:
            daemon.close()
        progress = instance.backfill_progress(defs, record.backfill_id)
        assert progress.record.status is BackfillStatus.COMPLETED, progress.failures
        assert all(r.run_key and r.run_key.startswith(f"backfill:{record.backfill_id}:") for r in progress.runs)
    built = Counter(builds(project_dir))
    assert set(built.values()) == {1} and len(built) == progress.total
    pids = {line.split()[1] for line in (project_dir / "builds.log").read_text().splitlines()}
    assert str(os.getpid()) not in pids  # built by the daemon's worker processes


@pytest.mark.slow
def test_killing_the_daemon_mid_backfill_then_resume(project_dir: Path):
    """The daemon drives a queued backfill; it is killed while a worker builds a partition.
    The worker finishes on its own; a foreground resume takes the dead daemon's lease at once,
    waits for the run in flight, launches the rest: each partition built exactly once."""
    queued = json.loads(_hw(project_dir, "backfill", "events+", "--from", "2026-01-01", "--to", "2026-01-05",
                            "--chunk-size", "1", "--queue", "--json").stdout)
    (project_dir / "hold").write_text("2026-01-02")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "headwater", "daemon", "-f", str(project_dir / "project.py"), "--interval", "0.2"],
        env=_env(project_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(project_dir / "holding", daemon, timeout=120)  # a worker is inside events[2026-01-02]
    finally:
        daemon.kill()
        daemon.wait(30)
    (project_dir / "release").write_text("")
    final = json.loads(_hw(project_dir, "backfill", "resume", queued["backfill_id"], "--json").stdout)
    assert final["status"] == "completed", final["failures"]
    built = Counter(builds(project_dir))
    assert set(built.values()) == {1}, f"built twice: {[k for k, n in built.items() if n > 1]}"
    assert len(built) == final["total"] == 23
