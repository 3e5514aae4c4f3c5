"""Backfills in the UI: the JSON API and the pages, over the backfill test project."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.definitions.loader import find_location, load_definitions
from headwater.service import Instance
from headwater.web import UiConfig, create_app

BASE = "http://127.0.0.1:3000"


@pytest.fixture
def web(project_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    location = find_location(str(project_dir / "project.py"), None, None)
    defs = load_definitions(location)
    instance = Instance(home=project_dir / "home")
    made: list[TestClient] = []

    def make(launch: str, poll_seconds: float = 2.0) -> tuple[TestClient, Instance, object]:
        app = create_app(defs, instance, location, UiConfig(launch=launch, poll_seconds=poll_seconds))
        client = TestClient(app, base_url=BASE)
        made.append(client)
        return client, instance, defs

    yield make
    for client in made:
        client.close()
    instance.close()


def _post(client: TestClient, url: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    token = client.get("/api/session").json()["csrf_token"]
    return client.post(url, json=body or {}, headers={"X-CSRF-Token": token})


def test_api_and_pages_follow_a_backfill(web):  # type: ignore[no-untyped-def]
    client, instance, defs = web("queue")
    bad = _post(client, "/api/backfills", {"selection": "events", "start": "2025-01-01"})
    assert bad.status_code == 400 and "outside the partitions" in bad.json()["detail"]
    assert client.get("/api/backfills").json() == []

    made = _post(client, "/api/backfills", {"selection": "events+", "start": "2026-01-02", "end": "2026-01-03",
                                            "chunk_size": 1})
    assert made.status_code == 200, made.text
    backfill_id = made.json()["backfill"]["backfill_id"]
    one = client.get(f"/api/backfills/{backfill_id[:8]}").json()
    assert one["status"] == "requested" and one["counts"]["remaining"] == one["total"] > 0

    page = client.get(f"/backfills/{backfill_id}")
    assert page.status_code == 200 and 'data-live="1"' in page.text and "/static/backfill.js" in page.text
    instance.run_backfill(defs, backfill_id)
    done = client.get(f"/api/backfills/{backfill_id}").json()
    assert done["status"] == "completed" and done["counts"]["done"] == done["total"]
    assert done["runs"] and all(r["status"] == "succeeded" for r in done["runs"])
    listed = client.get("/backfills")
    assert backfill_id[:8] in listed.text and f"{done['total']}/{done['total']} done" in listed.text
    page = client.get(f"/backfills/{backfill_id}")
    assert 'data-live=""' in page.text and "completed" in page.text
    assert client.get("/backfills/nope").status_code == 404
    assert client.get("/api/backfills/nope").status_code == 404
    refused = _post(client, f"/api/backfills/{backfill_id}/cancel")
    assert refused.status_code == 400 and "already completed" in refused.json()["detail"]
    assert client.post(f"/api/backfills/{backfill_id}/resume").status_code in (401, 403)  # no CSRF token


@pytest.mark.slow
def test_without_a_daemon_the_ui_starts_a_driver(web):  # type: ignore[no-untyped-def]
    client, instance, _defs = web("auto")
    made = _post(client, "/api/backfills", {"selection": "events", "start": "2026-01-01", "end": "2026-01-03"})
    backfill_id = made.json()["backfill"]["backfill_id"]
    deadline = time.monotonic() + 120
    while (status := client.get(f"/api/backfills/{backfill_id}").json()["status"]) == "requested":
        assert time.monotonic() < deadline, "the driver never finished"
        time.sleep(0.2)
    assert status == "completed"
    from headwater.web.backfill_view import drivers_of

    drivers = drivers_of(client.app.state.ctx)  # type: ignore[attr-defined]
    assert len(drivers) == 1
    assert drivers[0].wait(60) == 0


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_the_backfill_page_follows_progress_live_in_a_browser(web):  # type: ignore[no-untyped-def]
    import sys

    from playwright.sync_api import expect

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
    from browser import chromium, serving  # the web tests' helpers: uvicorn in a thread, Debian's Chromium

    client, instance, defs = web("queue", poll_seconds=0.3)
    made = _post(client, "/api/backfills", {"selection": "events", "start": "2026-01-01", "end": "2026-01-03",
                                            "chunk_size": 1})
    backfill_id = made.json()["backfill"]["backfill_id"]
    with serving(client.app) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base}/backfills/{backfill_id}")
        expect(page.locator("#bf-summary")).to_contain_text("0/3 done")
        page.evaluate("() => { window.__same_page = true; }")
        run_id = instance.drive_backfills(defs, None, "test-driver:1", max_in_flight=1)[0]  # what the daemon does
        expect(page.locator("#bf-summary")).to_contain_text("1 queued", timeout=30_000)
        instance.claim(instance.run(run_id))
        instance.execute_queued(defs, run_id)  # what the daemon's worker does
        expect(page.locator("#bf-summary")).to_contain_text("1/3 done", timeout=30_000)
        expect(page.locator("#bf-assets td[data-count=done]")).to_have_text("1")
        assert page.evaluate("() => window.__same_page") is True  # updated in place
        instance.cancel_backfill(backfill_id)
        expect(page.locator("#bf-status")).to_have_text("canceled", timeout=30_000)
