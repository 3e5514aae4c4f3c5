"""``backfill cancel --running`` (the API's ``?running=true``): the backfill's started runs
are canceled too, by their coordinators, as ``headwater run cancel`` does; without it they
finish (test_backfills.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from headwater.core.backfills import BackfillStatus
from headwater.core.events import RunStatus
from headwater.definitions.loader import find_location
from headwater.service import Instance
from headwater.web import UiConfig, create_app


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.05)


def _start_holding_run(instance: Instance, defs, project_dir: Path, db_url: str, home: Path):  # type: ignore[no-untyped-def]
    """A backfill of three days; the first day's run executed by another instance (in a
    thread, on the multiprocess executor) and held mid-step; the other two queued."""
    (project_dir / "hold").write_text("2026-01-01")
    record = instance.launch_backfill(defs, "events", partition_range=("2026-01-01", "2026-01-03"), chunk_size=1)
    instance.drive_backfills(defs, None, "host-a:1", max_in_flight=3)
    runs = instance.backfill_runs(record.backfill_id)
    instance.claim(runs[0])
    worker = Instance(home=home, database_url=db_url)
    location = find_location(str(project_dir / "project.py"), None, None)
    results: list = []
    thread = threading.Thread(target=lambda: results.append(worker.execute_queued(
        defs, runs[0].run_id, executor="multiprocess", workers=1, location=location)), daemon=True)
    thread.start()
    _wait_for(lambda: (project_dir / "holding").exists(), "the first day's step holds")
    return record, runs, thread, results, worker


def test_cancel_running_cancels_the_started_runs_too(instance, defs, project_dir, db_url, tmp_path):
    """~1 s per backend: a worker process runs the held step."""
    record, runs, thread, results, worker = _start_holding_run(instance, defs, project_dir, db_url, tmp_path / "home")
    try:
        canceled, run_ids = instance.cancel_backfill(record.backfill_id, cancel_started=True)
        assert canceled.status is BackfillStatus.CANCELED
        assert set(run_ids) == {r.run_id for r in runs}
        thread.join(60)
        assert results and results[0].status is RunStatus.CANCELED
        assert {r.run_id: instance.run(r.run_id).status for r in runs} == {r.run_id: RunStatus.CANCELED for r in runs}
        held = instance.run(runs[0].run_id)
        assert held.reason == f"backfill {record.backfill_id[:8]} canceled" and held.cancel_requested_at
        builds = (project_dir / "builds.log").read_text() if (project_dir / "builds.log").exists() else ""
        assert "events[2026-01-01]" not in builds  # stopped mid-step: never built
    finally:
        (project_dir / "release").write_text("")
        thread.join(30)
        worker.close()


def test_the_api_and_cli_flags_reach_the_started_runs(project_dir, defs, monkeypatch, tmp_path):
    """The queued runs are canceled at once; the started one gets a request (its coordinator
    is this test's thread)."""
    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    home = project_dir / "home"
    url = f"sqlite:///{home / 'headwater.db'}"
    instance = Instance(home=home, database_url=url)
    location = find_location(str(project_dir / "project.py"), None, None)
    record, runs, thread, results, worker = _start_holding_run(instance, defs, project_dir, url, home)
    client = TestClient(create_app(defs, instance, location, UiConfig(launch="queue")), base_url="http://127.0.0.1:3000")
    try:
        token = client.get("/api/session").json()["csrf_token"]
        answer = client.post(f"/api/backfills/{record.backfill_id}/cancel?running=true", headers={"X-CSRF-Token": token})
        assert answer.status_code == 200, answer.text
        assert set(answer.json()["canceled_runs"]) == {r.run_id for r in runs}
        thread.join(60)
        assert results and results[0].status is RunStatus.CANCELED
        other = instance.launch_backfill(defs, "events", partition_range=("2026-01-04", "2026-01-05"), chunk_size=1)
        instance.drive_backfills(defs, None, "host-a:1", max_in_flight=3)
        cli = subprocess.run([sys.executable, "-m", "headwater", "backfill", "cancel", other.backfill_id[:8],
                              "--running", "--json", "--home", str(home)], capture_output=True, text=True,
                             timeout=60, env={k: v for k, v in os.environ.items() if k != "HEADWATER_DATABASE_URL"})
        assert cli.returncode == 0, cli.stderr
        assert len(json.loads(cli.stdout)["canceled_runs"]) == 2
    finally:
        (project_dir / "release").write_text("")
        thread.join(30)
        client.close()
        worker.close()
        instance.close()
