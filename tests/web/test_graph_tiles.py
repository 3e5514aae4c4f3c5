"""The graph's tile cache in a real browser (Debian's Chromium): a pan, a zoom step or a
change of what is drawn, shown first from the last picture (moved, scaled or as it was),
ends in the full picture, the same as painting everything again, with every node where it
belongs."""

import pytest

from .browser import CHROMIUM, chromium, serving

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")]

# The canvas as a string of its pixels (compared whole), and one pixel's colour.
PIXELS = "() => document.getElementById('graph-canvas').toDataURL()"
PIXEL = """([x, y]) => Array.from(document.getElementById('graph-canvas').getContext('2d')
  .getImageData(Math.round(x * devicePixelRatio), Math.round(y * devicePixelRatio), 1, 1).data.slice(0, 3))"""
COLOUR = """(name) => { const c = document.createElement('canvas').getContext('2d');
  c.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--' + name).trim();
  c.fillRect(0, 0, 1, 1); return Array.from(c.getImageData(0, 0, 1, 1).data.slice(0, 3)); }"""
COUNTS = "() => Object.assign({}, hwGraph.tiles.counts)"


def settled(page) -> None:
    page.wait_for_function("() => hwGraph.tiles.counts.complete && document.getElementById('graph').dataset.complete === '1'")


def assert_full_and_correct(page) -> None:
    """What the tiles built up equals everything painted again at once, and a node's health
    stripe has its health's colour where the node is (the pointer off the graph: nothing lit)."""
    page.mouse.move(1, 1)
    page.wait_for_function("() => !document.getElementById('graph').dataset.hover")
    settled(page)
    shown = page.evaluate(PIXELS)
    before = page.evaluate(COUNTS)
    painted, copied = before["painted"], before["copied"]
    page.evaluate("() => { hwGraph.invalidate(); hwGraph.draw(true); }")  # every tile painted again, now
    again = page.evaluate(COUNTS)
    assert again["painted"] - painted > 1 and again["copied"] == copied and again["complete"]  # none reused
    assert page.evaluate(PIXELS) == shown
    r = page.evaluate("() => hwGraph.rect('flaky')")
    assert page.evaluate(PIXEL, [r["x"] + r["w"] * 0.015, r["y"] + r["h"] / 2]) == page.evaluate(COLOUR, "degraded")


def test_pan_and_zoom_from_the_last_picture_end_in_the_full_picture(web):
    problems: list[str] = []
    with serving(web.app) as base, chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(base + "/graph")
        page.wait_for_selector("body[data-graph-ready='1']", state="attached")
        settled(page)
        page.evaluate("() => { hwGraph.tiles.config.budget = 0; }")  # one new tile a frame
        box = page.locator("#graph-canvas").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        before = page.evaluate(PIXELS)

        # a drag that uncovers more than one tile: shown at once from the last picture, moved
        counts = page.evaluate(COUNTS)
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx - 330, cy - 150, steps=3)
        page.mouse.up()
        settled(page)
        after = page.evaluate(COUNTS)
        assert after["borrowed"] > counts["borrowed"]          # frames drawn from the last picture
        assert after["frames"] - counts["frames"] > 1         # then completed on later frames
        assert page.evaluate(PIXELS) != before
        assert_full_and_correct(page)

        # a zoom step: the last picture scaled, the detail painted on the following frames
        counts = page.evaluate(COUNTS)
        page.mouse.move(cx - 200, cy - 80)
        page.mouse.wheel(0, -120)
        settled(page)
        after = page.evaluate(COUNTS)
        assert after["borrowed"] > counts["borrowed"]
        assert page.evaluate("() => hwGraph.view.s") != pytest.approx(0)
        assert_full_and_correct(page)

        # a change of what is drawn (search dims the rest): painted again, over the old picture
        counts = page.evaluate(COUNTS)
        page.fill("#graph-search", "flaky")
        assert_full_and_correct(page)
        after = page.evaluate(COUNTS)
        assert after["version"] > counts["version"] and after["borrowed"] > counts["borrowed"]
        r = page.evaluate("() => hwGraph.rect('revenue')")  # dimmed: its stripe a pale green
        assert page.evaluate(PIXEL, [r["x"] + r["w"] * 0.015, r["y"] + r["h"] / 2]) != page.evaluate(COLOUR, "healthy")
    assert problems == []
