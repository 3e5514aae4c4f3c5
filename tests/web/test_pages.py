"""The HTML pages: each renders, filters and sorts, shows what the issue asks for."""

import re

import pytest


@pytest.mark.parametrize("url", ["/", "/graph", "/assets", "/assets/revenue", "/assets/raw/orders", "/runs",
                                 "/automation", "/api", "/login", "/graph?collapse=*", "/graph?select=group:marts",
                                 "/graph?health=degraded", "/assets?q=orders", "/runs?status=failed",
                                 "/assets/revenue?fragment=state", "/runs?fragment=rows"])
def test_pages_render(web, url):
    response = web.client.get(url)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")


def test_graph_nodes_show_health_status_time_freshness_and_checks(web):
    html = web.client.get("/graph").text
    node = re.search(r'<g class="node h-degraded" data-id="flaky".*?</g>', html, re.S).group(0)
    assert "degraded · failed" in node and "materialized" in node and 'href="/assets/flaky"' in node
    rev = re.search(r'<g class="node h-healthy" data-id="revenue".*?</g>', html, re.S).group(0)
    assert "1 check(s) ok" in rev and " ago" in rev
    assert len(re.findall(r"<g class=\"lane[\" ]", html)) == 4 and "▾ marts (2) — collapse" in html
    assert 'id="graph-data"' in html and "/static/graph.js" in html


def test_graph_groups_collapse_and_expand(web):
    html = web.client.get("/graph?collapse=marts").text
    assert 'data-id="group:marts"' in html and 'data-id="revenue"' not in html
    assert "1 healthy, 1 degraded" in html and "/graph?expand=marts" in html
    assert 'data-id="revenue"' in web.client.get("/graph?collapse=*&expand=marts").text


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


def test_catalog_sorts_and_filters(web):
    for column in ("key", "group", "kind", "health", "status", "stale", "freshness", "last_materialized", "checks"):
        for desc in ("", "1"):
            assert web.client.get(f"/assets?sort={column}&desc={desc}").status_code == 200
    html = web.client.get("/assets?sort=health").text
    keys = re.findall(r'<tr><td><a href="/assets/([^"]+)">', html)
    assert keys[0] == "flaky"                       # degraded first
    assert re.findall(r'<tr><td><a href="/assets/([^"]+)">', web.client.get("/assets?q=orders").text) == [
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
