"""Canceling a run from the UI: ``POST /api/runs/{id}/cancel`` and the run page's Cancel
button, clicked in Debian's Chromium while a real coordinator (another Instance, in a
thread) runs the run on the multiprocess executor."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

import headwater as hw
from headwater.core.events import RunStarted, RunStatus
from headwater.core.keys import AssetKey
from headwater.core.records import StepStatus
from headwater.definitions.loader import DefinitionsLocation
from headwater.web import UiConfig

from .browser import CHROMIUM, chromium, serving
from .conftest import Web

SLOW = """
import os, time
from pathlib import Path
import headwater as hw

HERE = Path(__file__).parent

@hw.asset
def slow():
    (HERE / "slow.tmp").write_text(str(os.getpid()))
    os.replace(HERE / "slow.tmp", HERE / "slow.pid")
    for _ in range(6000):
        if (HERE / "release").exists():
            return 1
        time.sleep(0.05)
    raise RuntimeError("never released")

@hw.asset
def after(slow):
    return slow

defs = hw.Definitions(assets=[slow, after])
"""


def wait_for(condition, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.05)


def test_cancel_a_queued_run_through_the_api(web):
    queued = web.post("/api/actions/materialize", {"key": "revenue"}).json()["run"]
    assert queued["status"] == "queued"
    assert web.client.post(f"/api/runs/{queued['run_id']}/cancel").status_code == 403  # no CSRF token
    answer = web.post(f"/api/runs/{queued['run_id'][:8]}/cancel")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["requested"] is False and body["run"]["status"] == "canceled"
    assert body["run"]["reason"] == "canceled from the UI"
    before = web.instance.store.last_event_id()
    again = web.post(f"/api/runs/{queued['run_id']}/cancel")
    assert again.status_code == 400 and "already canceled; nothing to cancel" in again.json()["detail"]
    missing = web.post("/api/runs/nosuchrun/cancel")
    assert missing.status_code == 404 and "nosuchrun" in missing.json()["detail"]
    assert web.instance.store.last_event_id() == before  # neither wrote anything


def test_a_started_run_gets_a_request_and_its_page_says_so(web):
    """A run this process coordinates (its pid, alive): the cancel is a request for it to read."""
    run_id = uuid.uuid4().hex
    web.instance.store.write([RunStarted(run_id=run_id, timestamp=time.time(), selection="revenue",
                                         asset_keys=(AssetKey(("revenue",)),), executor="multiprocess",
                                         pid=os.getpid(), host=os.uname().nodename)])
    page = web.client.get(f"/runs/{run_id}").text
    assert f'action="/runs/{run_id}/cancel"' in page
    body = web.post(f"/api/runs/{run_id}/cancel").json()
    assert body["requested"] is True and body["run"]["status"] == "started"
    record = web.instance.run(run_id)
    assert record.cancel_requested_at is not None and record.cancel_reason == "canceled from the UI"
    page = web.client.get(f"/runs/{run_id}").text
    assert f'action="/runs/{run_id}/cancel"' not in page and "its coordinator is stopping it" in page
    events = web.client.get(f"/api/runs/{run_id}/events").json()["events"]
    assert events[-1]["type"] == "run_cancel_requested" and "cancel requested by ui" in events[-1]["text"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_clicking_cancel_stops_a_run_another_instance_runs(tmp_path, monkeypatch):
    """~8 s (Chromium, a spawned worker process): the Cancel button end to end, as people use it."""
    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "pipeline.py").write_text(SLOW)
    location = DefinitionsLocation(file=str(folder / "pipeline.py"), working_dir=str(folder))
    ui = Web(folder, location, UiConfig(launch="queue"))
    coordinator = hw.Instance(home=folder / ".headwater")
    results: list = []
    thread = threading.Thread(target=lambda: results.append(coordinator.materialize(
        ui.defs, "*", executor="multiprocess", workers=1, location=location)), daemon=True)
    try:
        thread.start()
        wait_for(lambda: (folder / "slow.pid").exists(), "the slow step starts")
        step_pid = int((folder / "slow.pid").read_text())
        [run] = ui.instance.runs(statuses=[RunStatus.STARTED])
        problems: list[str] = []
        with serving(ui.app) as base, chromium() as browser:
            page = browser.new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{base}/runs/{run.run_id}")
            expect(page.locator("#run-badge")).to_have_text("started")
            page.get_by_role("button", name="Cancel run").click()
            expect(page.locator("#run-badge")).to_have_text("canceled", timeout=30_000)
            expect(page.locator("#steps")).to_contain_text("canceled")
            expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
            with urllib.request.urlopen(f"{base}/api/runs/{run.run_id}") as answer:
                shown = json.loads(answer.read())
            assert shown["status"] == "canceled" and shown["cancel_requested_at"]  # the API says when it was asked
        assert problems == []
        thread.join(30)
        assert results and results[0].status is RunStatus.CANCELED
        steps = {s.step_key: s.status for s in ui.instance.run_steps(run.run_id)}
        assert steps == {"slow": StepStatus.CANCELED, "after": StepStatus.SKIPPED}
        wait_for(lambda: _gone(step_pid), "the step's worker process is gone", timeout=10)
    finally:
        (folder / "release").write_text("")
        thread.join(30)
        coordinator.close()
        ui.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
