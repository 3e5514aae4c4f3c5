"""The partition strip at 10,000 partitions, in a real browser (issue 10, point 8).

    python bench/partitions_web_bench.py           # 10,000 daily partitions (+ 3 regions × 2,000 days)
    python bench/partitions_web_bench.py --quick   # 2,000

An asset of 10,000 daily partitions (1999-08-01 … 2026-12-17) is seeded straight into a
SQLite store: most days materialized, a gap of missing days, a failed day every 97, and a
day × region asset (3 × 2,000 days) over part of it. Then, through a real Uvicorn server and
Debian's Chromium (headless):

* the asset page with its partitions card: the strip aggregated by week (1,430 cells);
* ``/partitions/events`` (strip + first page of the table), and zoomed to 2,000 days — the
  largest strip drawn with one element per partition;
* the day × region heat-map (6,000 partitions: columns aggregated by week);
* ``GET /api/assets/events/partitions?limit=5000``, and the same filtered to failed ones.

A page is timed from ``goto`` until it is loaded and two animation frames have been drawn
(so layout and first paint are in), best of 3, after one warm-up load per page (the UI's
snapshot and Python's caches warm, as in an open UI). The server's share is timed alone
with urllib, and the browser's in the page (first byte to the second frame). Also the
strip's own server time (layout + SVG). Target: < 1 s for every page. Prints one line per figure with PASS/FAIL and
exits 0 (a benchmark is not a test).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from web_bench import ARGS, CHROMIUM, Server, get, line  # noqa: E402

import headwater as hw  # noqa: E402
from headwater.core.events import (  # noqa: E402
    AssetMaterialized,
    ErrorInfo,
    InputRecord,
    InputState,
    RunFinished,
    RunStarted,
    RunStatus,
    StepFailed,
    StepStarted,
)
from headwater.core.keys import AssetKey  # noqa: E402
from headwater.core.partitions import DailyPartitions, MultiPartitions, PartitionContext, StaticPartitions  # noqa: E402
from headwater.web import UiConfig, create_app  # noqa: E402

TARGET_PAGE_S = 1.0
NOW = 1_800_000_000.0  # 2027-01-15: the definitions' end is fixed, so the keys are too


def definitions(days: int) -> tuple[hw.Definitions, Any, Any]:
    from datetime import date, timedelta

    end = (date(1999, 8, 1) + timedelta(days=days)).isoformat()
    daily = DailyPartitions(start="1999-08-01", end=end)
    sub = DailyPartitions(start=(date(1999, 8, 1) + timedelta(days=days - min(days, 2000))).isoformat(), end=end)
    regions = MultiPartitions(day=sub, region=StaticPartitions(["eu", "us", "apac"]))

    def noop() -> None:
        return None

    events = hw.asset(key="events", partitions=daily, code_version="1")(noop)
    sales = hw.asset(key="sales", partitions=regions, deps=["events"])(noop)
    return hw.Definitions(assets=[events, sales]), daily, regions


def seed(instance: hw.Instance, daily: Any, regions: Any) -> tuple[int, int]:
    ctx = PartitionContext(NOW)
    keys = ctx.keys(daily)
    run_id = "seed".ljust(32, "0")
    t = NOW - 86400.0
    ev: list[Any] = [RunStarted(run_id=run_id, timestamp=t, selection="*", executor="in_process")]
    key = AssetKey(("events",))
    gap = set(keys[len(keys) // 3:len(keys) // 3 + 40])
    failed = 0
    for i, k in enumerate(keys):
        if k in gap:
            continue
        if i % 97 == 5:
            ev += [StepStarted(run_id=run_id, timestamp=t, step_key=f"events[{k}]", asset_keys=(key,), partitions=(k,)),
                   StepFailed(run_id=run_id, timestamp=t + 0.001, step_key=f"events[{k}]", asset_keys=(key,),
                              partitions=(k,), error=ErrorInfo(f"no events landed for {k}", "RuntimeError"))]
            failed += 1
            continue
        ev.append(AssetMaterialized(run_id=run_id, timestamp=t + i * 1e-4, step_key=f"events[{k}]", key=key,
                                    partition=k, code_version="1", data_version=f"{k}:v1", data_time=t))
    sales = AssetKey(("sales",))
    for i, k in enumerate(ctx.keys(regions)):
        if i % 5 == 0:
            continue
        day = k.split("|")[0]
        ev.append(AssetMaterialized(
            run_id=run_id, timestamp=t + 10 + i * 1e-4, step_key=f"sales[{k}]", key=sales, partition=k,
            data_version=f"{k}:v1", data_time=t, deps=(key,),
            inputs=(InputRecord(key, f"{day}:v1" if i % 11 else "old", t, InputState.OK, partition=day),)))
    ev.append(RunFinished(run_id=run_id, timestamp=t + 20, status=RunStatus.SUCCEEDED))
    for i in range(0, len(ev), 5000):
        instance.store.write(ev[i:i + 5000])
    return len(keys), failed


# In the page: from the first byte of the answer to two frames after the load (parse, style,
# layout, first paint) — what the browser spends, without the server or the harness.
RENDERED = ("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => "
            "r(performance.now() - performance.getEntriesByType('navigation')[0].responseStart))))")


def page_time(browser: Any, url: str, ready: str) -> tuple[float, float, int]:
    page = browser.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(ready, state="attached", timeout=60_000)
    rendered = page.evaluate(RENDERED) / 1000
    seconds = time.perf_counter() - t0
    cells = page.locator("svg.pstrip a.pc").count()
    page.close()
    return seconds, rendered, cells


INSERT = ("(svg) => new Promise(r => { const t0 = performance.now(); document.body.innerHTML = svg; "
          "document.body.offsetHeight; requestAnimationFrame(() => requestAnimationFrame(() => "
          "r(performance.now() - t0))); })")


def strip_alone(defs: hw.Definitions, instance: hw.Instance, browser: Any) -> None:
    """The strip's own share of a page: laying out the partitions and writing the SVG on the
    server, and drawing it in a blank page (inserted, laid out, two frames)."""
    from headwater.core.keys import to_key
    from headwater.web.partition_strip import build_strip, strip_svg

    st = instance.statuses(defs)[to_key("events")]
    ctx = PartitionContext(NOW)
    d = defs.graph.spec(to_key("events")).partitions
    keys = st.partitions.keys
    page = browser.new_page()
    for label, span in (("every day, by week", (None, None)), ("2,000 days, a cell each", (keys[-2000], keys[-1]))):
        server, drawn = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            strip = build_strip("events", d, keys, st.partitions.statuses, ctx, *span)
            svg = str(strip_svg(strip))
            server.append(time.perf_counter() - t0)
            page.set_content("<html><body></body></html>")
            drawn.append(page.evaluate(INSERT, svg) / 1000)
        line(f"strip of {len(keys)} partitions, {label}: server", min(server), None,
             f"{len(strip.cells)} cells, {len(svg) / 1e3:.0f} kB SVG")
        line(f"strip of {len(keys)} partitions, {label}: browser", min(drawn), None)
    page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 partitions")
    a = parser.parse_args()
    days = 2000 if a.quick else 10_000
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"skipped: no {CHROMIUM} (apt-get install chromium)")
        return 0
    defs, daily, regions = definitions(days)
    with tempfile.TemporaryDirectory(prefix="hw-partitions-bench-") as tmp:
        instance = hw.Instance(home=Path(tmp) / "home", clock=lambda: NOW)
        t0 = time.perf_counter()
        total, failed = seed(instance, daily, regions)
        print(f"seeded {total} daily partitions ({failed} failed) and 6,000 day × region ones "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        app = create_app(defs, instance, None, UiConfig(read_only=True))
        ctx = PartitionContext(NOW)
        keys = ctx.keys(daily)
        zoom_from, zoom_to = keys[-2000], keys[-1]
        pages = (
            ("asset page with its strip", "/assets/events", "#partitions svg.pstrip"),
            ("/partitions/events (strip + table)", "/partitions/events", "#partitions-table"),
            ("/partitions/events zoomed to 2,000 days", f"/partitions/events?from={zoom_from}&to={zoom_to}",
             "#partitions-table"),
            ("/partitions/sales (3 regions × 2,000 days)", "/partitions/sales", "#partitions-table"),
        )
        with Server(app) as base, sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(tmp + "/profile", executable_path=CHROMIUM, headless=True,
                                                          args=ARGS, viewport={"width": 1400, "height": 900})
            for label, url, ready in pages:
                get(base + url)  # warm: the snapshot, the caches
                server = min(get(base + url)[0] for _ in range(3))
                size = len(get(base + url)[1])
                page_time(browser, base + url, ready)
                times, renders = [], []
                for _ in range(3):
                    seconds, rendered, cells = page_time(browser, base + url, ready)
                    times.append(seconds)
                    renders.append(rendered)
                line(f"{label}, {total} partitions", min(times), TARGET_PAGE_S,
                     f"{cells} cells, {size / 1e3:.0f} kB HTML, server {server * 1000:.0f} ms, "
                     f"browser {min(renders) * 1000:.0f} ms; median {statistics.median(times) * 1000:.0f} ms")
            strip_alone(defs, instance, browser)
            browser.close()
            for label, url in (("GET /api/assets/events/partitions?limit=5000", "/api/assets/events/partitions"
                                                                               "?limit=5000"),
                               ("... ?state=failed", "/api/assets/events/partitions?state=failed")):
                get(base + url)
                seconds = min(get(base + url)[0] for _ in range(5))
                line(label, seconds, None, f"{len(get(base + url)[1]) / 1e3:.0f} kB")
        instance.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
