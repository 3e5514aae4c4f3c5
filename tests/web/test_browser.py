"""In a real browser: open the graph, click an asset, see its health and why, press
Materialize, watch the run finish and the badge turn healthy. The screenshots it takes are
the ones the README shows (docs/images/)."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browser import CHROMIUM, chromium, serving

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium "
                                                               "(apt-get install chromium; .ci/run does it)")]
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def test_graph_click_materialize_turns_healthy(web, make_web):
    ui = make_web(launch="auto")  # the UI starts the worker itself: no daemon in this test
    IMAGES.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with serving(ui.app) as base, chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(base + "/graph")
        page.wait_for_selector("body[data-graph-ready='1']")
        flaky = page.locator("g.node[data-id='flaky']")
        assert "h-degraded" in flaky.get_attribute("class")
        # Hover highlights the asset's upstream and downstream; search marks matches.
        flaky.hover()
        assert page.locator("#graph-svg.focus").count() == 1
        highlighted = set(page.eval_on_selector_all("g.node.hl", "ns => ns.map(n => n.dataset.id)"))
        assert highlighted == {"flaky", "staging/orders", "raw/orders", "dashboard"}
        page.mouse.move(5, 300)
        page.fill("#graph-search", "orders")
        assert page.locator("g.node.match").count() == 2
        page.fill("#graph-search", "")
        page.screenshot(path=str(IMAGES / "graph.png"))

        flaky.click()
        page.wait_for_url("**/assets/flaky")
        assert page.inner_text("#health-badge") == "degraded"
        assert "flaky failed: the latest attempt" in page.inner_text("#why")
        assert "flaky failed on purpose" in page.inner_text("#state")

        page.click("form.action.primary button")  # Materialize
        expect(page.locator("#health-badge")).to_have_attribute("data-health", "healthy", timeout=60_000)
        status = page.inner_text("#action-status")
        assert "succeeded" in status, status
        assert page.inner_text("#asset-status") == "materialized"
        page.screenshot(path=str(IMAGES / "asset.png"), full_page=True)

        page.click("#action-status a")
        page.wait_for_url("**/runs/*")
        assert "succeeded" in page.inner_text("#run-badge")
        assert page.locator("svg.timeline .bar").count() == 1
        page.screenshot(path=str(IMAGES / "run.png"), full_page=True)

        page.goto(base + "/assets?sort=health")
        page.screenshot(path=str(IMAGES / "catalog.png"))
    assert not problems, problems


def test_run_page_follows_a_live_run(web, make_web):
    """A run queued for a daemon that is not there yet: the page polls, then shows the run
    going by once a worker picks it up, without a reload."""
    ui = make_web(launch="queue")
    run = ui.post("/api/actions/materialize", {"key": "revenue", "downstream": True}).json()["run"]
    with serving(ui.app) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base}/runs/{run['run_id']}")
        assert "queued" in page.inner_text("#run-badge")
        page.evaluate("() => { window.__same_page = true; }")
        ui.instance.execute_queued(ui.defs, run["run_id"])  # what a worker would do
        expect(page.locator("#run-badge")).to_contain_text("succeeded", timeout=30_000)
        expect(page.locator("#events tbody tr").nth(3)).to_be_attached()
        assert page.evaluate("() => window.__same_page") is True  # updated in place, never reloaded
        assert "dashboard" in page.inner_text("#steps")
