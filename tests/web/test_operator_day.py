"""Issue 16 through the API and the pages: one click to the cause, skipped as its own state,
plots people read, launching from anywhere, owners and tags, the API page's words."""

import re

import pytest

from headwater.web.canvas_graph import LayoutCache, definitions_version
from headwater.web.charts import time_unit

CATALOG_KEYS = re.compile(r'<td><a href="/assets/([^"]+)">')


@pytest.fixture
def broken(web):
    """flaky fails in a run with its downstream: dashboard is skipped because of it."""
    (web.folder / "FLAKY").write_text("")
    result = web.materialize("flaky+")
    assert not result.success
    return web, result.run_id


def row(web, key, **params):
    return next(r for r in web.client.get("/api/assets", params=params).json() if r["key"] == key)


def test_skipped_because_x_failed_is_its_own_state_everywhere(broken):
    web, run_id = broken
    dash = row(web, "dashboard")
    assert dash["status"] == "skipped" and dash["error"] == "upstream step flaky failed"
    assert dash["health"] == "warning" and "skipped: upstream step flaky failed" in dash["health_reasons"]
    assert row(web, "flaky")["status"] == "failed"
    assert [r["key"] for r in web.client.get("/api/assets", params={"full": "true"}).json()
            if r["status"] == "skipped"] == ["dashboard"]
    catalog = web.client.get("/assets", params={"status": "skipped"}).text
    assert CATALOG_KEYS.findall(catalog) == ["dashboard"]
    assert '<span class="badge s-skipped" title="upstream step flaky failed">skipped: upstream step flaky failed' in catalog
    canvas = web.client.get("/api/graph/canvas", params={"status": "skipped"}).json()
    assert canvas["ids"] == ["dashboard"] and canvas["statuses"][canvas["s"][0]] == "skipped"
    page = web.client.get("/assets/dashboard").text
    cause = page[page.index('id="cause"'):page.index("<h2>Why</h2>")]
    assert '<a href="/assets/flaky">flaky</a> failed' in cause and f'href="/runs/{run_id}?step=dashboard' in cause
    detail = web.client.get("/api/assets/dashboard").json()
    assert detail["latest_cause"]["state"] == "skipped" and detail["latest_cause"]["upstream"] == "flaky"
    assert [(a["state"], a["run_id"]) for a in detail["attempts"]] == [("skipped", run_id)]


def test_a_failed_asset_links_to_the_failing_run_and_step_with_traceback_and_logs(broken):
    web, run_id = broken
    page = web.client.get("/assets/flaky").text
    link = re.search(r'<a href="([^"]+)" id="cause-run">', page).group(1)
    assert link == f"/runs/{run_id}?step=flaky#step-flaky"
    cause = page[page.index('id="cause"'):page.index("<h2>Why</h2>")]
    assert "RuntimeError" in cause and "flaky failed on purpose" in cause and 'class="tb"' in cause
    assert "looking for FLAKY" in cause  # the failing step's own log lines
    run = web.client.get(link.split("#")[0]).text
    focus = run[run.index('id="focus-step"'):run.index("Events and logs")]
    assert "Step flaky" in focus and "RuntimeError" in focus and "looking for FLAKY" in focus
    assert '<tr id="step-flaky" class="focus">' in run
    # the history table lists both failures of flaky, newest first, beside its materialization
    history = page[page.index('id="attempts"'):]
    states = re.findall(r'<tr class="att-(\w+)">', history[:history.index("</table>")])
    assert states == ["failed", "failed", "materialized"]
    api = web.client.get("/api/assets/flaky").json()
    assert [a["state"] for a in api["attempts"]] == ["failed", "failed"] and api["attempts"][0]["run_id"] == run_id
    assert api["latest_cause"]["step_key"] == "flaky" and "RuntimeError" in api["latest_cause"]["traceback"]
    assert [line["message"] for line in api["latest_cause"]["logs"]] == ["looking for FLAKY next to project"]


def ticks(svg, axis):
    """The tick labels of the chart's x or y axis."""
    group = re.search(rf'aria-label="{axis}-axis.*?<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg, re.S)
    return re.findall(r">([^<]+)</text>", group.group(1))


def charts(html):
    return dict(re.findall(r'<figure class="chart" data-chart="([^"]+)"[^>]*>(.*?)</figure>', html, re.S))


def test_plots_have_real_axes_units_by_magnitude_hover_values_and_failures_marked(broken):
    web, _ = broken
    for _ in range(2):
        web.materialize("revenue")
    found = charts(web.client.get("/assets/revenue").text)
    assert set(found) == {"duration", "lag", "metadata:total"}
    for name, svg in found.items():
        assert len(ticks(svg, "X")) >= 4 and len(ticks(svg, "Y")) >= 4, name
        assert all(re.fullmatch(r"[A-Z][a-z]{2} \d\d \d\d:\d\d|\d\d:\d\d:\d\d(\.\d{3})?", t) for t in ticks(svg, "X")), name
    # a no-op asset takes milliseconds: said in ms, not "0.00 s"
    assert re.search(r'aria-label="Y-axis titled \'ms\'', found["duration"])
    assert re.findall(r"<title>[^<]*UTC: [\d.]+ ms</title>", found["duration"])  # hover values
    assert re.findall(r"<title>[^<]*UTC: 12</title>", found["metadata:total"])  # metadata, unconfigured
    flaky = charts(web.client.get("/assets/flaky").text)["duration"]
    assert len(re.findall(r"<title>[^<]*: failed[^<]*flaky failed on purpose</title>", flaky)) == 2
    # the time range control
    assert 'href="/assets/flaky?range=24h#history"' in web.client.get("/assets/flaky").text
    assert charts(web.client.get("/assets/flaky", params={"range": "24h"}).text)
    assert web.client.get("/assets/flaky", params={"range": "1y"}).status_code == 400


def test_units_follow_the_magnitude():
    assert time_unit([0.004, 0.009]) == ("ms", 0.001)
    assert time_unit([0.5, 3.0]) == ("s", 1.0)
    assert time_unit([90.0]) == ("s", 1.0) and time_unit([300.0]) == ("min", 60.0)
    assert time_unit([5 * 3600.0]) == ("h", 3600.0) and time_unit([5 * 86400.0]) == ("d", 86400.0)


def runs_count(web):
    return len(web.client.get("/api/runs", params={"limit": 1000}).json())


def test_launch_keys_with_downstream_tags_and_executor(web):
    run = web.post("/api/actions/materialize", {"keys": ["flaky", "revenue"], "downstream": True,
                                                "tags": {"ticket": "OPS-1"}, "executor": "in_process"}).json()["run"]
    assert run["asset_keys"] == ["revenue", "flaky", "dashboard"] or set(run["asset_keys"]) == {
        "revenue", "flaky", "dashboard"}
    assert run["tags"] == {"origin": "ui", "ticket": "OPS-1", "headwater/executor": "in_process"}
    assert web.instance.run(run["run_id"]).origin == "ui"
    page = web.client.get(f"/runs/{run['run_id']}").text
    assert "<dt>origin</dt><dd>ui" in page
    matched = web.post("/api/actions/materialize", {"match": {"select": "group:marts"}, "mode": "stale"}).json()["run"]
    assert sorted(matched["asset_keys"]) == ["flaky", "revenue"]
    # downstream is honoured with a selection too
    down = web.post("/api/actions/materialize", {"selection": "group:marts", "downstream": True}).json()["run"]
    assert sorted(down["asset_keys"]) == ["dashboard", "flaky", "revenue"] and down["selection"] == "(group:marts)+"


@pytest.mark.parametrize("body, words", [
    ({"keys": ["revenue"], "executor": "gpu"}, "unknown executor 'gpu'"),
    ({"keys": ["revenue"], "tags": {"origin": "me"}}, "tag 'origin' is set by Headwater"),
    ({"keys": []}, "no asset selected"),
    ({"keys": ["nope"]}, "no asset has the key 'nope'"),
    ({"match": {"health": "degraded", "select": "group:raw"}}, "no asset matches these filters"),
])
def test_a_bad_launch_says_why_and_queues_nothing(web, body, words):
    before = runs_count(web)
    answer = web.post("/api/actions/materialize", body)
    assert answer.status_code in (400, 404) and words in answer.json()["detail"]
    assert runs_count(web) == before


def test_owners_and_tags_in_the_api_rows(web):
    assert row(web, "revenue")["owners"] == ["finance@example.com"]
    assert row(web, "staging/orders")["tags"] == {"tier": "silver"}
    full = row(web, "staging/orders", full="true")
    assert full["tags"] == {"tier": "silver"} and full["owners"] == []


def test_the_api_page_renders_its_docstrings(web):
    html = web.client.get("/api").text
    assert "``" not in html and "<code>headwater status --json</code>" in html


def test_the_layout_is_cached_per_definitions_version_on_disk(web, tmp_path):
    graph = web.defs.graph
    first = LayoutCache(tmp_path)
    data = first.get(graph, graph.keys)
    [written] = list(tmp_path.glob("layout-*.json"))
    assert written.name == f"layout-{definitions_version(graph)}.json"
    before = written.stat().st_mtime_ns
    again = LayoutCache(tmp_path).get(graph, graph.keys)  # a restarted UI: read, not laid out again
    assert again == data and written.stat().st_mtime_ns == before
    sub = first.get(graph, graph.toposorted(graph.keys[:2]))
    assert len(sub["ids"]) == 2 and len(list(tmp_path.glob("layout-*.json"))) == 1


def test_chart_text_from_the_project_is_escaped():
    from headwater.web.charts import line_chart

    chart = line_chart("m", "metadata: <script>alert(1)</script>", "", [(1e9, 1.0), (1e9 + 60, 2.0)],
                       [(1e9 + 30, None, "failed", "<img src=x onerror=alert(1)>")])
    svg = str(chart.svg)
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;img src=x onerror=alert(1)&gt;</title>" in svg and chart.marked == 1
