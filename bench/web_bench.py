"""Web UI benchmarks (issue 6, acceptance point 9).

    python bench/web_bench.py               # both workloads, full size (~1 min, mostly seeding)
    python bench/web_bench.py --quick       # 1,000 / 500 assets, a few seconds
    python bench/web_bench.py --only graph  # or: --only status

* ``status_api_10k``: ``GET /api/assets`` (the rows of ``status --json``) for 10,000 assets
  over the ``status_10k`` history of ``hw_bench.py`` (100,000 events, 500 runs), through a
  real Uvicorn server. Reported: the health computation itself (``Instance.healths``), the
  first request (computes and serializes), and requests served from the UI's snapshot (what
  every poll gets while the snapshot is current). Target: < 300 ms.
* ``graph_page_5k``: the asset graph page of 5,000 assets in 20 groups, loaded in headless
  Chromium (Debian's ``/usr/bin/chromium``) until it is fully drawn (the page's own
  ``data-graph-ready``, set two animation frames after layout and first paint), with every
  node drawn (``?expand=*``) and as first opened (large groups collapsed). Target: < 2 s.

Prints one line per figure with PASS/FAIL and exits 0 (a benchmark is not a test).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dag_gen import history_plan, layered_dag  # noqa: E402
from hw_bench import build_assets, seed_events  # noqa: E402

import headwater as hw  # noqa: E402
from headwater.web import UiConfig, create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TARGET_STATUS_S = 0.3
TARGET_GRAPH_S = 2.0


def seed(instance: hw.Instance, nodes: list[Any], events: int, runs: int) -> None:
    plan = history_plan(nodes, events, runs)
    chunk: list[Any] = []
    for batch in seed_events(plan, nodes):
        chunk.extend(batch)
        if len(chunk) >= 5000:
            instance.store.write(chunk)
            chunk = []
    if chunk:
        instance.store.write(chunk)


class Server:
    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def get(url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    return time.perf_counter() - t0, body


def line(name: str, seconds: float, target: float | None, extra: str = "") -> None:
    verdict = "" if target is None else ("PASS" if seconds < target else "FAIL")
    goal = f"(target < {target * 1000:.0f} ms)" if target else ""
    print(f"{name:<44} {seconds * 1000:9.1f} ms  {goal:<22} {verdict:<4} {extra}", flush=True)


def status_api(n: int, events: int, runs: int) -> None:
    nodes = layered_dag(n, 20)
    plan = history_plan(nodes, events, runs)
    versions = {nd.name: ("v2" if nd.name in plan.changed_code else "v1") for nd in nodes}
    defs = hw.Definitions(assets=build_assets(nodes, versions))
    with tempfile.TemporaryDirectory(prefix="hw-web-bench-") as tmp:
        instance = hw.Instance(home=Path(tmp) / "home")
        t0 = time.perf_counter()
        seed(instance, nodes, events, runs)
        print(f"status_api: {n} assets, ~{events} events in {runs} runs, seeded in {time.perf_counter() - t0:.1f} s",
              flush=True)
        computes = []
        for _ in range(3):
            t0 = time.perf_counter()
            instance.healths(defs)
            computes.append(time.perf_counter() - t0)
        app = create_app(defs, instance, None, UiConfig(read_only=True))
        with Server(app) as base:
            first, body = get(base + "/api/assets")
            rows = json.loads(body)
            assert len(rows) == n, len(rows)
            served = [get(base + "/api/assets")[0] for _ in range(10)]
            group = [get(base + "/api/assets?select=l19_*")[0] for _ in range(5)]
        instance.close()
    cut = sum(1 for r in rows if r["cut"])
    line(f"health computation, {n} assets (best of 3)", min(computes), None,
         "Instance.healths: core status + health, no web code")
    line(f"GET /api/assets, {n} assets, first request", first, None, f"{len(body) / 1e6:.1f} MB JSON")
    line(f"GET /api/assets, {n} assets, served (median)", statistics.median(served), TARGET_STATUS_S,
         f"best {min(served) * 1000:.0f} ms; {cut} rows bounded")
    line("GET /api/assets?select=l19_* (median)", statistics.median(group), TARGET_STATUS_S)


def graph_page(n: int, events: int, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"graph_page: skipped, no {CHROMIUM} (apt-get install chromium)")
        return
    nodes = layered_dag(n, 20)
    index = {nd.name: i for i, nd in enumerate(nodes)}

    def noop() -> None:
        return None

    assets = [hw.asset(key=nd.name, deps=list(nd.parents), group=f"team{nd.layer // 4}_{index[nd.name] % 4}")(noop)
              for nd in nodes]
    defs = hw.Definitions(assets=assets)
    with tempfile.TemporaryDirectory(prefix="hw-web-bench-") as tmp:
        instance = hw.Instance(home=Path(tmp) / "home")
        seed(instance, nodes, events, runs)
        app = create_app(defs, instance, None, UiConfig(read_only=True))
        with Server(app) as base, sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(tmp + "/profile", executable_path=CHROMIUM, headless=True,
                                                          args=ARGS, viewport={"width": 1400, "height": 900})
            for label, url in (("every node drawn (?expand=*)", "/graph?expand=*"), ("as first opened", "/graph")):
                server_s, html = get(base + url)
                times = []
                for _ in range(3):
                    page = browser.new_page()
                    t0 = time.perf_counter()
                    page.goto(base + url)
                    page.wait_for_selector("body[data-graph-ready='1']", state="attached", timeout=60_000)
                    times.append(time.perf_counter() - t0)
                    drawn = page.locator("g.node").count()
                    page.close()
                line(f"graph page, {n} assets, {label}", min(times), TARGET_GRAPH_S,
                     f"{drawn} boxes, {len(html) / 1e6:.1f} MB HTML, server {server_s * 1000:.0f} ms; "
                     f"median {statistics.median(times) * 1000:.0f} ms")
            browser.close()
        instance.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 / 500 assets")
    parser.add_argument("--only", choices=["status", "graph"])
    a = parser.parse_args()
    if a.only in (None, "status"):
        status_api(*((1000, 10_000, 50) if a.quick else (10_000, 100_000, 500)))
    if a.only in (None, "graph"):
        graph_page(*((500, 2000, 5) if a.quick else (5000, 20_000, 8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
