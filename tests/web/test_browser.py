"""In a real browser: open the graph, click an asset, see its health and why, press
Materialize, watch the run finish and the badge turn healthy. The screenshots it takes are
the ones the README shows (docs/images/)."""

import re

import pytest
from playwright.sync_api import expect

from .browser import CHROMIUM, chromium, images_dir, serving

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium "
                                                               "(apt-get install chromium; .ci/run does it)")]
IMAGES = images_dir()


def test_graph_click_materialize_turns_healthy(web, make_web):
    ui = make_web(launch="auto")  # the UI starts the worker itself: no daemon in this test
    IMAGES.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with serving(ui.app) as base, chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(base + "/graph")
        page.wait_for_selector("body[data-graph-ready='1']", state="attached")
        assert page.evaluate("() => hwGraph.state('flaky').health") == "degraded"
        canvas = page.locator("#graph-canvas").bounding_box()

        def at(key):
            p = page.evaluate("(k) => hwGraph.point(k)", key)
            return canvas["x"] + p["x"], canvas["y"] + p["y"]

        # Hover highlights the asset's upstream and downstream and says its reasons.
        page.mouse.move(*at("flaky"))
        expect(page.locator("#graph")).to_have_attribute("data-hover", "flaky")
        expect(page.locator("#graph-tip")).to_contain_text("flaky failed on purpose")
        page.mouse.move(canvas["x"] + 5, canvas["y"] + 300)
        page.fill("#graph-search", "orders")
        expect(page.locator("#graph")).to_have_attribute("data-matches", "2")
        page.fill("#graph-search", "")
        page.screenshot(path=str(IMAGES / "graph.png"))

        # Zoom in and out, pan, and "fit" brings back the whole graph.
        def scale():
            return page.evaluate("() => hwGraph.view.s")

        fitted = scale()
        page.click("button[data-zoom='in']")
        expect(page.locator("#graph")).not_to_have_attribute("data-scale", f"{fitted:.4f}")
        assert scale() > fitted
        page.mouse.move(canvas["x"] + 700, canvas["y"] + 400)
        page.mouse.wheel(0, 1200)                    # the wheel zooms out again
        page.wait_for_function("s => hwGraph.view.s < s", arg=fitted)
        before = page.evaluate("() => [hwGraph.view.x, hwGraph.view.y]")
        page.mouse.move(canvas["x"] + 600, canvas["y"] + 300)
        page.mouse.down()
        page.mouse.move(canvas["x"] + 500, canvas["y"] + 200, steps=4)
        page.mouse.up()
        after = page.evaluate("() => [hwGraph.view.x, hwGraph.view.y]")
        assert after[0] == before[0] - 100 and after[1] == before[1] - 100
        page.click("button[data-zoom='fit']")
        assert abs(scale() - fitted) < 1e-9

        page.mouse.dblclick(*at("flaky"))  # a double-click opens the asset
        page.wait_for_url("**/assets/flaky")
        assert page.inner_text("#health-badge") == "degraded"
        assert "flaky failed: the latest attempt" in page.inner_text("#why")
        assert "flaky failed on purpose" in page.inner_text("#state")

        page.click("form.action.primary button")  # Materialize
        expect(page.locator("#health-badge")).to_have_attribute("data-health", "healthy", timeout=60_000)
        expect(page.locator("#action-status")).to_contain_text("succeeded", timeout=30_000)
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
    ui = make_web(launch="queue", poll_seconds=0.5)
    run = ui.post("/api/actions/materialize", {"key": "revenue", "downstream": True}).json()["run"]
    with serving(ui.app) as base, chromium() as browser:
        page, runs = browser.new_page(), browser.new_page()
        page.goto(f"{base}/runs/{run['run_id']}")
        runs.goto(f"{base}/runs")
        assert "queued" in page.inner_text("#run-badge")
        listed = runs.locator("#runs-body tr", has=runs.locator(f"a[href='/runs/{run['run_id']}']"))
        assert "queued" in listed.inner_text()
        for p in (page, runs):
            p.evaluate("() => { window.__same_page = true; }")
        ui.instance.execute_queued(ui.defs, run["run_id"])  # what a worker would do
        expect(page.locator("#run-badge")).to_contain_text("succeeded", timeout=30_000)
        expect(page.locator("#events tbody tr").nth(3)).to_be_attached()
        expect(listed).to_contain_text("succeeded", timeout=30_000)  # the runs list follows too
        for p in (page, runs):
            assert p.evaluate("() => window.__same_page") is True  # updated in place, never reloaded
        assert "dashboard" in page.inner_text("#steps")


def test_graph_catalog_and_asset_pages_follow_changes_without_reloading(web, make_web):
    """An asset materializes, then fails, from outside the UI (another instance on the same
    store, as a worker or the CLI would): the open graph, catalog and asset pages show it."""
    ui = make_web(poll_seconds=0.3)
    with serving(ui.app) as base, chromium() as browser:
        graph, catalog, asset = browser.new_page(), browser.new_page(), browser.new_page()
        graph.goto(base + "/graph")
        graph.wait_for_selector("body[data-graph-ready='1']", state="attached")
        catalog.goto(base + "/assets?sort=health")
        asset.goto(base + "/assets/dashboard")
        for page in (graph, catalog, asset):
            page.evaluate("() => { window.__same_page = true; }")
        def node_says(text):  # what the canvas draws for flaky
            graph.wait_for_function("t => hwGraph.state('flaky').text.includes(t)", arg=text, timeout=20_000)

        row = catalog.locator("#catalog tbody tr", has=catalog.locator("a[href='/assets/flaky']"))
        neighbour = asset.locator(".mini-graph g.node[data-id='flaky']")
        node_says("degraded · failed")
        assert "degraded" in row.inner_text()

        assert web.instance.materialize(web.defs, "flaky").success
        node_says("healthy · materialized")
        expect(graph.locator("#graph-counts")).not_to_contain_text("degraded")
        expect(row.locator(".badge[class*=h-]")).to_have_text("healthy", timeout=20_000)
        expect(neighbour).to_have_class(re.compile(r"\bh-healthy\b"), timeout=20_000)

        (web.folder / "FLAKY").write_text("")
        assert not web.instance.materialize(web.defs, "flaky").success
        node_says("degraded · failed")
        expect(row.locator(".badge[class*=h-]")).to_have_text("degraded", timeout=20_000)
        expect(asset.locator(".mini-graph g.node[data-id='flaky']")).to_have_class(
            re.compile(r"\bh-degraded\b"), timeout=20_000)
        for page in (graph, catalog, asset):
            assert page.evaluate("() => window.__same_page") is True  # updated in place, never reloaded
