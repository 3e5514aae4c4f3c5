"""Web UI benchmarks (issue 6, acceptance point 9).

    python bench/web_bench.py               # both workloads, full size (~1 min, mostly seeding)
    python bench/web_bench.py --quick       # 1,000 / 500 assets, a few seconds
    python bench/web_bench.py --only graph  # or: --only status

* ``status_api_10k``: ``GET /api/assets`` (the rows of ``status --json``) for 10,000 assets
  over the ``status_10k`` history of ``hw_bench.py`` (100,000 events, 500 runs), through a
  real Uvicorn server. The target (< 300 ms) is for the first request after a change: a
  small run is written, the UI's snapshot is dropped, and the request computes the health
  of the whole graph and writes the rows while it waits (best of 7; the machine may be
  shared) — the rows of assets that did not change are kept from the last snapshot
  (``web/rows.py``), so it is timed again with every row written anew. Also reported: the health computation alone after a change (``Instance.healths``,
  no web code), the very first request of a new process (cold caches), requests served
  from the snapshot, and a change-feed poll that finds nothing new (what every open page
  sends every two seconds).
* ``graph_page_5k``: the asset graph page (the canvas) of 5,000 assets in 20 groups, loaded
  in headless Chromium (Debian's ``/usr/bin/chromium``) until it is fully drawn (the page's
  own ``data-graph-ready``, set two animation frames after the first draw). Target: < 2 s.
  Also the change feed that page polls (``/api/changes``): with nothing new, and the first
  poll after a change. ``bench/graph_bench.py`` measures the page at 10,000 assets, with
  pan and zoom steps.

Prints one line per figure with PASS/FAIL and exits 0 (a benchmark is not a test).
"""

from __future__ import annotations

import argparse
import json
import re
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
from hw_bench import CHECKS, _check_fn, _noop_factory, _policy, build_assets, check_events, seed_events  # noqa: E402

import headwater as hw  # noqa: E402
from headwater.core.events import (  # noqa: E402
    AssetMaterialized,
    InputRecord,
    InputState,
    RunFinished,
    RunStarted,
    RunStatus,
    StepStarted,
    StepSucceeded,
)
from headwater.core.keys import AssetKey  # noqa: E402
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


def change(instance: hw.Instance, nodes: list[Any], i: int) -> None:
    """A small run after the seeded history, as a worker writes it: one mid-graph asset
    materialized again from its parents' current versions. It and everything downstream of
    it change state (and every other row stays as it was)."""
    node = nodes[len(nodes) // 2 + i]
    key = AssetKey((node.name,))
    parents = [AssetKey((p,)) for p in node.parents]
    facts = instance.store.latest_facts(parents)
    inputs = tuple(InputRecord(p, m.data_version, m.data_time, InputState.OK, produced_in_run=False)
                   for p in parents if p in facts and (m := facts[p].last_materialization) is not None)
    run_id, t = f"change{i:04d}".ljust(32, "c"), instance.clock()
    instance.store.write([
        RunStarted(run_id=run_id, timestamp=t, selection=node.name, asset_keys=(key,), executor="in_process"),
        StepStarted(run_id=run_id, timestamp=t, step_key=node.name, asset_keys=(key,)),
        AssetMaterialized(run_id=run_id, timestamp=t + 0.01, step_key=node.name, key=key, code_version="v1",
                          data_version=f"change-{i}", data_time=min((x.data_time for x in inputs if x.data_time),
                                                                    default=t), inputs=inputs, deps=tuple(parents)),
        StepSucceeded(run_id=run_id, timestamp=t + 0.01, step_key=node.name, asset_keys=(key,), duration=0.01),
        RunFinished(run_id=run_id, timestamp=t + 0.02, status=RunStatus.SUCCEEDED),
    ])


def change_top(instance: hw.Instance, nodes: list[Any], i: int) -> None:
    """A run that rebuilds every asset of the graph's first layer: everything downstream, i.e.
    nearly every asset, changes state — the worst case for a request right after it."""
    roots = [nd for nd in nodes if not nd.parents]
    run_id, t = f"top{i:04d}".ljust(32, "t"), instance.clock()  # the bench's clock, fixed or not
    events: list[Any] = [RunStarted(run_id=run_id, timestamp=t, selection="top", executor="in_process",
                                    asset_keys=tuple(AssetKey((nd.name,)) for nd in roots))]
    for nd in roots:
        key = AssetKey((nd.name,))
        events += [StepStarted(run_id=run_id, timestamp=t, step_key=nd.name, asset_keys=(key,)),
                   AssetMaterialized(run_id=run_id, timestamp=t + 0.01, step_key=nd.name, key=key, code_version="v1",
                                     data_version=f"top-{i}-{nd.name}", data_time=t),
                   StepSucceeded(run_id=run_id, timestamp=t + 0.01, step_key=nd.name, asset_keys=(key,),
                                 duration=0.01)]
    events.append(RunFinished(run_id=run_id, timestamp=t + 0.02, status=RunStatus.SUCCEEDED))
    instance.store.write(events)


def status_api(n: int, events: int, runs: int, repeats: int = 7, policies: bool = False) -> None:
    nodes = layered_dag(n, 20)
    plan = history_plan(nodes, events, runs)
    versions = {nd.name: ("v2" if nd.name in plan.changed_code else "v1") for nd in nodes}
    clock = None
    if policies:  # hw_bench's health workload: a freshness policy and two checks with results per asset
        assets = [hw.asset(key=nd.name, deps=list(nd.parents), code_version=versions[nd.name],
                           freshness=_policy(i))(_noop_factory()) for i, nd in enumerate(nodes)]
        checks = [hw.check(nd.name, name=name, severity=severity)(_check_fn()) for nd in nodes
                  for name, severity in CHECKS]
        defs = hw.Definitions(assets=assets, checks=checks)
        now = plan.start_time + len(plan.runs) * 600.0 + 3 * 3600.0

        def clock() -> float:
            return now
    else:
        defs = hw.Definitions(assets=build_assets(nodes, versions))
    with tempfile.TemporaryDirectory(prefix="hw-web-bench-") as tmp:
        instance = hw.Instance(home=Path(tmp) / "home", clock=clock)
        t0 = time.perf_counter()
        seed(instance, nodes, events, runs)
        if policies:
            instance.store.write(check_events(instance.store.latest_facts()))
        print(f"status_api: {n} assets, ~{events} events in {runs} runs"
              f"{', a freshness policy and 2 checks each' if policies else ''}, "
              f"seeded in {time.perf_counter() - t0:.1f} s", flush=True)
        app = create_app(defs, instance, None, UiConfig(read_only=True))
        ctx = app.state.ctx
        computes, firsts, changes = [], [], 0
        with Server(app) as base:
            cold, body = get(base + "/api/assets")
            rows = json.loads(body)
            assert len(rows) == n, len(rows)
            for _ in range(repeats):
                # Health alone, just after a change (what the core computes for the request).
                change(instance, nodes, changes)
                changes += 1
                t0 = time.perf_counter()
                instance.healths(defs)
                computes.append(time.perf_counter() - t0)
                # The whole request, just after another change, with no snapshot to serve.
                change(instance, nodes, changes)
                changes += 1
                ctx.cache.drop()
                firsts.append(get(base + "/api/assets")[0])
            rewrites = []
            for _ in range(repeats):
                # The same, with no row kept from the last snapshot: every one written again.
                change(instance, nodes, changes)
                changes += 1
                ctx.cache.drop()
                ctx.rows.forget()
                rewrites.append(get(base + "/api/assets")[0])
            tops = []
            for i in range(3):
                # A run at the top of the graph: nearly every asset's state, and so its row, changes.
                change_top(instance, nodes, i)
                ctx.cache.drop()
                tops.append(get(base + "/api/assets")[0])
            served = [get(base + "/api/assets")[0] for _ in range(10)]
            group = [get(base + "/api/assets?select=l19_*")[0] for _ in range(5)]
            cursor = json.loads(get(base + "/api/changes")[1])["cursor"]
            polls = [get(base + "/api/changes?since=" + cursor)[0] for _ in range(5)]
            moved = []
            for _ in range(3):
                change(instance, nodes, changes)
                changes += 1
                ctx.cache.drop()
                seconds, answer = get(base + "/api/changes?since=" + cursor)
                moved.append(seconds)
                cursor = json.loads(answer)["cursor"]
            changed = json.loads(answer)["changed"]
        instance.close()
    cut = sum(1 for r in rows if r["cut"])
    line(f"health computation after a change (best of {repeats})", min(computes), None,
         f"Instance.healths: core status + health, no web code; median {statistics.median(computes) * 1000:.0f} ms")
    line(f"GET /api/assets, {n} assets, first after a change", min(firsts), TARGET_STATUS_S,
         f"best of {repeats}, median {statistics.median(firsts) * 1000:.0f} ms; {len(body) / 1e6:.1f} MB JSON; "
         f"web part ~{(min(firsts) - min(computes)) * 1000:.0f} ms")
    line(f"GET /api/assets, {n} assets, first after a change, all rows", min(rewrites), TARGET_STATUS_S,
         f"every row written again; median {statistics.median(rewrites) * 1000:.0f} ms; "
         f"web part ~{(min(rewrites) - min(computes)) * 1000:.0f} ms")
    line(f"GET /api/assets, {n} assets, first after a run at the top of the graph", min(tops), None,
         f"nearly every status and row derived again; best of 3, median {statistics.median(tops) * 1000:.0f} ms")
    line(f"GET /api/assets, {n} assets, first in a new process", cold, None, "cold caches (decoding, times)")
    line(f"GET /api/assets, {n} assets, served (median)", statistics.median(served), None,
         f"best {min(served) * 1000:.0f} ms; {cut} rows bounded")
    line("GET /api/assets?select=l19_* (median)", statistics.median(group), None)
    line("GET /api/changes, nothing changed (median)", statistics.median(polls), None, "what an open page polls")
    line("GET /api/changes, first after a change (best of 3)", min(moved), None,
         f"computes health, compares every asset; {changed} assets changed")


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
            for label, url in (("every node drawn", "/graph"),):
                server_s, html = get(base + url)
                times = []
                for _ in range(3):
                    page = browser.new_page()
                    t0 = time.perf_counter()
                    page.goto(base + url)
                    page.wait_for_selector("body[data-graph-ready='1']", state="attached", timeout=60_000)
                    times.append(time.perf_counter() - t0)
                    drawn = page.evaluate("() => hwGraph.size().nodes")
                    page.close()
                line(f"graph page, {n} assets, {label}", min(times), TARGET_GRAPH_S,
                     f"{drawn} nodes, server {server_s * 1000:.0f} ms; "
                     f"median {statistics.median(times) * 1000:.0f} ms")
            browser.close()
            # What the open page polls: nothing new, and the first poll after a change (the
            # health computed, every asset compared, the view laid out, the changed nodes drawn).
            feed = base + "/api/changes?since="
            cursor = re.search(r'name="hw-cursor" content="([^"]+)"', html.decode()).group(1)
            quiet = [get(feed + cursor)[0] for _ in range(5)]
            moved = []
            for i in range(3):
                change(instance, nodes, i)
                app.state.ctx.cache.drop()
                seconds, answer = get(feed + cursor)
                moved.append(seconds)
                cursor = json.loads(answer)["cursor"]
            redrawn = len(json.loads(answer)["assets"])
        line("GET /api/changes (graph page), nothing changed (median)", statistics.median(quiet), None)
        line("GET /api/changes (graph page), first after a change (best of 3)", min(moved), None,
             f"{redrawn} asset(s) changed")
        instance.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 / 500 assets")
    parser.add_argument("--only", choices=["status", "graph"])
    parser.add_argument("--policies", action="store_true",
                        help="status: every asset with a freshness policy and two checks (hw_bench's health workload)")
    a = parser.parse_args()
    if a.only in (None, "status"):
        status_api(*((1000, 10_000, 50) if a.quick else (10_000, 100_000, 500)), policies=a.policies)
    if a.only in (None, "graph"):
        graph_page(*((500, 2000, 5) if a.quick else (5000, 20_000, 8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
