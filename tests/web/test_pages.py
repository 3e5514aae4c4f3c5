"""The HTML pages: each renders, filters and sorts, shows what the issue asks for."""

import re

import pytest


@pytest.mark.parametrize("url", ["/", "/graph", "/assets", "/assets/revenue", "/assets/raw/orders", "/runs",
                                 "/automation", "/api", "/login", "/graph?status=stale", "/graph?select=group:marts",
                                 "/graph?health=degraded", "/assets?q=orders", "/runs?status=failed",
                                 "/assets/revenue?fragment=state", "/runs?fragment=rows"])
def test_pages_render(web, url):
    response = web.client.get(url)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")


def canvas(web, **params):
    answer = web.client.get("/api/graph/canvas", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def node(data, key):
    """One node of ``/api/graph/canvas`` as a dict of its parallel fields."""
    i = data["ids"].index(key)
    return {"health": data["healths"][data["h"][i]], "status": data["statuses"][data["s"][i]],
            "stale": data["stale"][i], "t": data["t"][i], "bad": data["bad"][i], "tip": data["tips"].get(str(i)),
            "group": data["groups"][data["group"][i]], "x": data["x"][i], "y": data["y"][i]}


def test_graph_nodes_show_health_status_time_freshness_and_checks(web):
    html = web.client.get("/graph").text
    assert 'id="graph-canvas"' in html and 'tabindex="0"' in html and "/static/graph.js" in html
    assert 'id="graph-minimap"' in html and 'data-launch="downstream"' in html
    data = canvas(web)
    flaky = node(data, "flaky")
    assert flaky["health"] == "degraded" and flaky["status"] == "failed" and "flaky failed on purpose" in flaky["tip"]
    rev = node(data, "revenue")
    assert rev["health"] == "healthy" and rev["status"] == "materialized" and rev["t"] and rev["tip"] is None
    assert len(data["lanes"]) == 4 and sorted(data["groups"]) == ["marts", "raw", "reporting", "staging"]
    edges = {(data["ids"][data["edges"][i]], data["ids"][data["edges"][i + 1]]) for i in range(0, len(data["edges"]), 2)}
    assert ("staging/orders", "flaky") in edges and ("flaky", "dashboard") in edges and len(edges) == 5
    for a, b in edges:  # every edge points right
        assert node(data, a)["x"] < node(data, b)["x"]
    assert data["shown"] == data["total"] == 5 and data["summary"] == {"healthy": 4, "degraded": 1}


def test_graph_groups_collapse_and_expand_in_the_api(web):
    nodes = web.client.get("/api/graph", params={"collapse": "marts"}).json()["nodes"]
    ids = {n["id"] for n in nodes}
    assert "group:marts" in ids and "revenue" not in ids
    assert "revenue" in {n["id"] for n in web.client.get("/api/graph", params={"collapse": "*", "expand": "marts"}).json()["nodes"]}


def test_large_graphs_start_collapsed(make_web, tmp_path):
    from headwater.web.graph_view import GROUP_COLLAPSE, default_collapsed

    sizes = {"a": GROUP_COLLAPSE + 1, "b": 3}
    from collections import Counter

    assert default_collapsed(Counter(sizes), 500) == {"a"}
    assert default_collapsed(Counter(sizes), 100) == set()
    assert default_collapsed(Counter({"a": 900}), 900) == set()  # one group: nothing to fold


def test_graph_filter_errors_are_shown(web):
    response = web.client.get("/graph?select=nope+")
    assert response.status_code == 400 and "nope" in response.text and 'class="error"' in response.text


CATALOG_KEYS = re.compile(r'<tr><td><input type="checkbox" class="pick"[^>]*></td>\s*<td><a href="/assets/([^"]+)">')


def test_catalog_sorts_and_filters(web):
    for column in ("key", "group", "kind", "owners", "tags", "health", "status", "stale", "freshness",
                   "last_materialized", "checks"):
        for desc in ("", "1"):
            assert web.client.get(f"/assets?sort={column}&desc={desc}").status_code == 200
    html = web.client.get("/assets?sort=health").text
    keys = CATALOG_KEYS.findall(html)
    assert keys[0] == "flaky"                       # degraded first
    assert CATALOG_KEYS.findall(web.client.get("/assets?q=orders").text) == [
        "raw/orders", "staging/orders"]
    assert "1 failing" not in html
    assert web.client.get("/assets?sort=colour").status_code == 400


def test_asset_page_has_everything(web):
    html = web.client.get("/assets/revenue").text
    for text in ("healthy", "Why", "is up to date with its code", "Latest materialization", "Lineage", "History",
                 "metadata: total", "duration", "data time lag", "revenue_positive", "Definition", "pipeline.py:",
                 "finance@example.com", "Materialize", "Materialize with downstream", "Run checks"):
        assert text in html, text
    assert '<a href="/assets/revenue">revenue</a>' in html  # keys in the why chain are links
    source = web.client.get("/assets/raw/orders").text
    assert "Observe" in source and "Materialize" not in source


def test_asset_page_explains_failure(web):
    html = web.client.get("/assets/flaky").text
    assert "flaky failed on purpose" in html and "degraded" in html


def test_run_page_shows_steps_events_and_tracebacks(web):
    failed = web.client.get("/api/runs", params={"status": "failed"}).json()[0]["run_id"]
    html = web.client.get(f"/runs/{failed}").text
    for text in ("Steps", "Errors", "Traceback", "flaky failed on purpose", "Re-execute from failure",
                 'class="timeline"', "Events and logs"):
        assert text in html, text
    steps = web.client.get(f"/runs/{failed}?fragment=steps").text
    assert "<html" not in steps and "flaky" in steps
    ok = web.client.get("/api/runs", params={"status": "succeeded"}).json()[0]["run_id"]
    assert "Re-execute from failure" not in web.client.get(f"/runs/{ok}").text


def test_form_actions_redirect(web):
    token = web.csrf()
    obs = web.client.post("/actions/observe", data={"key": "raw/orders", "csrf_token": token}, follow_redirects=False)
    assert obs.status_code == 303 and obs.headers["location"] == "/assets/raw/orders?notice=observed"
    assert "Observation recorded." in web.client.get(obs.headers["location"]).text
    chk = web.client.post("/actions/check", data={"key": "revenue", "csrf_token": token}, follow_redirects=False)
    assert chk.status_code == 303
    failed = web.client.get("/api/runs", params={"status": "failed"}).json()[0]["run_id"]
    again = web.client.post(f"/runs/{failed}/reexecute", data={"csrf_token": token}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/runs/")
    tog = web.client.post("/automation/schedule/nightly/toggle", data={"csrf_token": token, "enabled": "0"},
                          follow_redirects=False)
    assert tog.status_code == 303
    assert "turn on" in web.client.get("/automation").text


def test_unknown_things_are_404_pages(web):
    for url in ("/assets/nope", "/runs/nope"):
        response = web.client.get(url)
        assert response.status_code == 404 and "Not found" in response.text


def test_a_queued_run_says_it_waits(web):
    run = web.post("/api/actions/materialize", {"key": "revenue"}).json()["run"]
    html = web.client.get(f"/runs/{run['run_id']}").text
    assert "queued" in html and "waiting for a worker" in html
    assert 'data-live="1"' in web.client.get("/runs").text


def nodes_of(html):
    return set(re.findall(r'<g class="node[^"]*" data-id="([^"]+)"', html))


def test_graph_filters_by_selection_health_and_status(web):
    assert set(canvas(web, select="group:marts")["ids"]) == {"revenue", "flaky"}
    assert set(canvas(web, select="+dashboard")["ids"]) == {  # upstream of dashboard, and it
        "raw/orders", "staging/orders", "revenue", "flaky", "dashboard"}
    assert canvas(web, health="degraded")["ids"] == ["flaky"]
    assert canvas(web, select="group:marts", health="healthy")["ids"] == ["revenue"]
    assert canvas(web, status="failed")["ids"] == ["flaky"]
    assert canvas(web, status="skipped")["ids"] == []
    bad = web.client.get("/api/graph/canvas", params={"status": "purple"})
    assert bad.status_code == 400 and "unknown status 'purple'" in bad.json()["detail"]


OVERDUE = '''
import headwater as hw

@hw.asset(freshness=hw.FreshnessPolicy.within(0.001))
def late() -> int:
    return 0

@hw.check(asset="late")
def never_positive(late: int) -> hw.CheckResult:
    return hw.CheckResult(passed=late > 0)

defs = hw.Definitions(assets=[late], checks=[never_positive])
'''


def test_graph_nodes_show_freshness_and_failing_checks(tmp_path, monkeypatch):
    from headwater.definitions.loader import DefinitionsLocation
    from headwater.web import UiConfig

    from .conftest import Web

    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    (tmp_path / "late.py").write_text(OVERDUE)
    web = Web(tmp_path, DefinitionsLocation(file=str(tmp_path / "late.py"), working_dir=str(tmp_path)),
              UiConfig(launch="queue"))
    try:
        web.materialize()
        late = node(canvas(web), "late")
        assert late["health"] == "degraded" and late["bad"] == 1 and "overdue" in late["tip"]
        row = re.search(r'<td><a href="/assets/late">.*?</tr>', web.client.get("/assets").text, re.S).group(0)
        assert 'class="f-overdue">overdue' in row and "1 failing: never_positive" in row
    finally:
        web.close()


def test_catalog_columns_and_filters(web):
    html = web.client.get("/assets").text
    headers = [h.strip() for h in re.findall(r'<th><a href="[^"]*"[^>]*>([a-z ]+)', html)]
    assert headers == ["key", "group", "kind", "owners", "tags", "health", "status", "stale", "freshness",
                       "last materialized", "checks"]
    row = re.search(r'<td><a href="/assets/revenue">.*?</tr>', html, re.S).group(0)
    for cell in ("marts", "h-healthy", "materialized", " ago", "1 ok", "finance@example.com"):
        assert cell in row, cell
    staging = re.search(r'<td><a href="/assets/staging/orders">.*?</tr>', html, re.S).group(0)
    assert '<span class="kv">tier=silver</span>' in staging
    keys = CATALOG_KEYS
    assert keys.findall(web.client.get("/assets?health=degraded").text) == ["flaky"]
    assert sorted(keys.findall(web.client.get("/assets?select=group:marts").text)) == ["flaky", "revenue"]
    assert keys.findall(web.client.get("/assets?status=failed").text) == ["flaky"]
    assert 'class="badge s-failed"' in web.client.get("/assets?status=failed").text
    assert keys.findall(web.client.get("/assets?sort=key&desc=1").text)[0] == "staging/orders"


def test_asset_page_lineage_checks_and_definition(web):
    html = web.client.get("/assets/revenue").text
    lineage = html[html.index('class="mini-graph"'):]
    lineage = lineage[:lineage.index("</svg>")]
    assert nodes_of(lineage) == {"raw/orders", "staging/orders", "revenue", "dashboard"}
    assert re.search(r'class="node h-healthy self" data-id="revenue"', lineage)   # health on every node
    assert '<span class="cdot pass"' in html                                        # the check's history
    staging = web.client.get("/assets/staging/orders").text
    assert '<span class="kv">tier=silver</span>' in staging and "<dt>code version</dt><dd>1</dd>" in staging
