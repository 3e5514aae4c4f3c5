"""Issue 16 in a real browser (Debian's Chromium): the canvas graph's levels, minimap and
keyboard; selecting on the graph and in the catalog and launching from there with tags and
an executor; one click from a failed asset to its cause; badges people can read."""

import re

import pytest
from playwright.sync_api import expect

from .browser import CHROMIUM, chromium, serving
from .test_browser import IMAGES

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")]


def ready(page, url):
    page.goto(url)
    page.wait_for_selector("body[data-graph-ready='1']", state="attached")


def test_graph_levels_minimap_keyboard_selection_and_launch(web, make_web):
    ui = make_web(launch="auto")  # the UI starts the worker itself: no daemon in this test
    problems: list[str] = []
    with serving(ui.app) as base, chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        ready(page, base + "/graph")
        graph = page.locator("#graph")
        box = page.locator("#graph-canvas").bounding_box()

        def at(key):
            p = page.evaluate("(k) => hwGraph.point(k)", key)
            return box["x"] + p["x"], box["y"] + p["y"]

        # fit fits: the whole laid-out graph is inside the canvas; small enough, with words
        size = page.evaluate("() => hwGraph.size()")
        view = page.evaluate("() => hwGraph.view")
        assert view["x"] >= 0 and view["y"] >= 0
        assert view["x"] + size["width"] * view["s"] <= box["width"] + 1
        assert view["y"] + size["height"] * view["s"] <= box["height"] + 1
        assert graph.get_attribute("data-level") == "labels"
        # level of detail as you zoom out: labels -> nodes -> groups
        page.evaluate("() => hwGraph.zoom(0.3)")
        expect(graph).to_have_attribute("data-level", "nodes")
        page.evaluate("() => hwGraph.zoom(0.1)")
        expect(graph).to_have_attribute("data-level", "groups")
        # the minimap moves the view to where it is clicked
        mini = page.locator("#graph-minimap").bounding_box()
        before = page.evaluate("() => [hwGraph.view.x, hwGraph.view.y]")
        page.mouse.click(mini["x"] + mini["width"] - 5, mini["y"] + mini["height"] - 5)
        page.wait_for_function("b => hwGraph.view.x !== b[0] || hwGraph.view.y !== b[1]", arg=before)
        page.click("button[data-zoom='fit']")
        expect(graph).to_have_attribute("data-level", "labels")

        # keyboard: Tab walks the assets, arrows move to the nearest one that way, Enter opens
        page.focus("#graph-canvas")
        page.keyboard.press("Tab")
        expect(graph).to_have_attribute("data-focus", "raw/orders")
        expect(page.locator("#graph-live")).to_contain_text("raw/orders: healthy · observed")
        page.keyboard.press("ArrowRight")
        expect(graph).to_have_attribute("data-focus", "staging/orders")
        page.keyboard.press("Shift+Tab")
        expect(graph).to_have_attribute("data-focus", "raw/orders")
        page.keyboard.press("Enter")
        page.wait_for_url("**/assets/raw/orders")
        ready(page, base + "/graph")

        # click, shift-click and a shift-drag box select; Escape clears
        page.mouse.click(*at("flaky"))
        expect(page.locator("#launch-count")).to_have_text("1 selected")
        page.keyboard.down("Shift")
        page.mouse.click(*at("revenue"))
        page.keyboard.up("Shift")
        assert page.evaluate("() => hwGraph.selectedKeys()") == ["flaky", "revenue"]
        page.keyboard.press("Escape")
        expect(page.locator("#launch-bar")).to_be_hidden()
        (x1, y1), (x2, y2) = at("raw/orders"), at("staging/orders")
        page.keyboard.down("Shift")
        page.mouse.move(x1 - 30, y1 - 50)
        page.mouse.down()
        page.mouse.move(x2 + 30, y2 + 50, steps=5)
        page.mouse.up()
        page.keyboard.up("Shift")
        assert page.evaluate("() => hwGraph.selectedKeys()") == ["raw/orders", "staging/orders"]

        # a selection query, then the launch dialog with tags and an executor
        page.fill("#graph-pick", "group:marts")
        page.click("#graph-pick-go")
        expect(page.locator("#launch-count")).to_have_text("2 selected")
        page.click("[data-launch='dialog']")
        dialog = page.locator("#launch-dialog")
        expect(dialog).to_be_visible()
        dialog.locator("input[name='downstream']").check()
        dialog.locator("select[name='executor']").select_option("in_process")
        dialog.locator("textarea[name='tags']").fill("ticket=OPS-7\nwho = on-call")
        page.screenshot(path=str(IMAGES / "launch.png"))
        dialog.locator("#launch-go").click()
        page.wait_for_url("**/runs/*")
        # the run opens with live progress, and says where it came from
        expect(page.locator("#run-badge")).to_contain_text("succeeded", timeout=60_000)
        summary = page.inner_text("#run-summary")
        assert "ui" in summary and "ticket=OPS-7" in summary and "who=on-call" in summary
        assert "headwater/executor=in_process" in summary
        for key in ("revenue", "flaky", "dashboard"):
            assert key in page.inner_text("#steps")

        # the catalog: tick rows, or every asset matching the filters, then launch
        page.goto(base + "/assets?select=group:marts")
        page.check("input.pick[data-key='revenue']")
        expect(page.locator("#launch-count")).to_have_text("1 selected")
        page.check("#pick-all")
        expect(page.locator("#launch-count")).to_have_text("2 selected")
        page.screenshot(path=str(IMAGES / "catalog-select.png"))
        page.click("[data-launch='missing']")
        page.wait_for_url("**/runs/*")
        run_id = page.url.rsplit("/", 1)[1]
        run = ui.instance.run(run_id)
        assert sorted(map(str, run.asset_keys)) == ["flaky", "revenue"] and run.mode == "missing"
        assert run.origin == "ui"
    assert not problems, problems


def contrast(page):
    """The worst contrast ratio of any badge's text on its background (WCAG formula)."""
    return page.evaluate("""() => {
      const lum = (rgb) => {
        const [r, g, b] = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
          v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      let worst = 99, which = "";
      for (const el of document.querySelectorAll(".badge")) {
        const s = getComputedStyle(el);
        const [a, b] = [lum(s.color), lum(s.backgroundColor)];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < worst) { worst = ratio; which = el.className + ": " + el.textContent; }
      }
      return [worst, which, document.querySelectorAll(".badge").length];
    }""")


def test_one_click_from_a_failed_asset_to_its_cause_and_readable_badges(web, make_web):
    (web.folder / "FLAKY").write_text("")
    run_id = web.materialize("flaky+").run_id
    ui = make_web()
    with serving(ui.app) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(base + "/assets/flaky")
        cause = page.locator("#cause")
        expect(cause.locator("pre.tb")).to_contain_text("RuntimeError: flaky failed on purpose")
        expect(cause.locator("pre.logs")).to_contain_text("looking for FLAKY")
        history = page.locator("#attempts tbody tr")
        assert [c.split()[0] for c in history.locator("td:nth-child(2)").all_inner_texts()] == [
            "failed", "failed", "materialized"]
        chart = page.locator("figure[data-chart='duration'] svg")
        expect(chart).to_be_visible()
        assert chart.locator("title", has_text="failed").count() == 2  # failed attempts, marked with hover text
        page.screenshot(path=str(IMAGES / "asset-failed.png"), full_page=True)
        page.click("#cause-run")  # one click
        page.wait_for_url(re.compile(rf".*/runs/{run_id}\?step=flaky#step-flaky"))
        focus = page.locator("#focus-step")
        expect(focus).to_contain_text("RuntimeError")
        expect(focus).to_contain_text("looking for FLAKY")
        expect(page.locator("#step-flaky")).to_have_class("focus")

        page.goto(base + "/assets/dashboard")
        expect(page.locator("#cause")).to_contain_text("skipped because flaky failed")
        page.click("#cause a[href='/assets/flaky']")
        page.wait_for_url("**/assets/flaky")

        # every badge on every page: white text on a background of WCAG AA contrast
        for url in ("/assets?sort=health", "/assets/flaky", "/assets/dashboard", f"/runs/{run_id}", "/runs",
                    "/automation"):
            page.goto(base + url)
            worst, which, count = contrast(page)
            assert worst >= 4.5, (url, worst, which)
            assert count, url
        ready(page, base + "/graph?status=skipped")
        assert page.evaluate("() => hwGraph.state('dashboard').status") == "skipped"
