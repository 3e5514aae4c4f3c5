"""In a real browser: the partition strip on the asset page (hover says why, a click opens
the partition), "Materialize missing" building exactly the missing days, the partition page
and its own launch, and the day × region heat-map. Its screenshots are the ones docs/web.md
shows (docs/images/partition-strip.png, partition.png, partitions.png)."""


import pytest
from playwright.sync_api import expect

from .browser import CHROMIUM, chromium, images_dir, serving
from .partitioned import partitioned_web, seed

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")]
IMAGES = images_dir()


@pytest.fixture
def ui(tmp_path, monkeypatch):
    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "project" / ".headwater"))
    web = partitioned_web(tmp_path / "project", launch="auto")  # the UI starts the worker itself
    seed(web)
    yield web
    web.close()


def test_strip_hover_launch_missing_and_partition_page(ui):
    IMAGES.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with serving(ui.app) as base, chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(base + "/assets/events")
        card = page.locator("#partitions")
        expect(card.locator("#partition-summary")).to_have_text("5/10 materialized · 1 failed · 4 missing")
        cells = card.locator("svg.pstrip a.pc")
        assert cells.count() == 10
        states = cells.evaluate_all("cs => cs.map(c => c.dataset.state)")
        assert states == ["materialized"] * 5 + ["failed"] + ["missing"] * 4
        failed = card.locator("a.pc[data-first='2026-03-06']")
        failed.hover()  # the reason at once, without the native title's delay
        expect(page.locator(".ptip")).to_have_text("2026-03-06 — failed: no events landed for 2026-03-06")
        page.mouse.move(5, 5)
        card.screenshot(path=str(IMAGES / "partition-strip.png"))

        page.fill("form.pick input[name=partition]", "2026-02-30")  # a day the asset does not have
        page.click("form.pick button")
        expect(page.locator("#action-status")).to_contain_text("unknown partition '2026-02-30' of asset events")

        page.click("button[data-only='missing']")
        expect(card.locator("#partition-summary")).to_have_text("9/10 materialized · 1 failed", timeout=60_000)
        expect(page.locator("#action-status")).to_contain_text("succeeded", timeout=60_000)
        states = page.locator("#partitions svg.pstrip a.pc").evaluate_all("cs => cs.map(c => c.dataset.state)")
        assert states == ["materialized"] * 5 + ["failed"] + ["materialized"] * 4
        assert page.locator("#partitions button[data-only='missing']").is_disabled()

        page.locator("#partitions a.pc[data-first='2026-03-06']").click()
        page.wait_for_url("**/partitions/events%5B2026-03-06%5D")
        expect(page.locator("#partition-badge")).to_have_text("failed")
        assert "error: no events landed for 2026-03-06" in page.inner_text("#why")
        back = page.url

        # A rolling week that cannot be built yet says which day it waits for, and links to it.
        page.goto(base + "/partitions/events_7d%5B2026-03-08%5D")
        expect(page.locator("#partition-badge")).to_have_text("missing")
        assert "not there yet: events[2026-03-06]" in page.inner_text("#why")
        reads = page.locator("#partition-upstream")
        assert "7 partition(s) of events: 6 materialized, 1 failed" in reads.inner_text()
        assert reads.locator("a.pbadge").first.get_attribute("href") == "/partitions/events%5B2026-03-06%5D"
        page.screenshot(path=str(IMAGES / "partition.png"), full_page=True)
        page.goto(back)

        page.click("form.paction.primary button")  # Materialize this partition (the day has landed now)
        expect(page.locator("#partition-badge")).to_have_text("materialized", timeout=60_000)
        assert page.locator("#partition-history tbody tr").count() == 1
        expect(page.locator("#partition-checks")).to_contain_text("passed")

        page.goto(base + "/partitions/sales")
        rows = page.locator("svg.pstrip text.plabel")
        assert rows.evaluate_all("ts => ts.map(t => t.textContent)")[:3] == ["eu", "us", "apac"]
        stale = page.locator("svg.pstrip a.pc[data-state='stale']")
        assert stale.count() == 1 and stale.get_attribute("data-first") == "2026-03-02|us"
        page.click(".filters-inline a[data-state='stale']")
        page.wait_for_url("**/partitions/sales?state=stale")
        assert page.locator("#partitions-table tbody tr").count() == 1
        page.screenshot(path=str(IMAGES / "partitions.png"), full_page=True)
    assert [p for p in problems if "status of 400" not in p] == []  # the 400: the unknown day, on purpose
