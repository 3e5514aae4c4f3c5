"""The run page says, in one line, why a queued run waits (what `headwater runs` says too)."""

import re


def test_a_queued_run_page_says_its_place_and_what_holds_it(web):
    first = web.post("/api/actions/materialize", {"key": "revenue"}).json()["run"]
    second = web.post("/api/actions/materialize", {"key": "revenue"}).json()["run"]
    lines = {}
    for run in (first, second):
        html = web.client.get(f"/runs/{run['run_id']}").text
        found = re.search(r'<dd id="run-waiting">([^<]*)</dd>', html)
        assert found, html
        lines[run["run_id"]] = found.group(1)
    assert lines[first["run_id"]].startswith("1st of 2 in the queue")
    assert lines[second["run_id"]].startswith("2nd of 2 in the queue")
    web.materialize("*")  # a finished run says nothing of the kind
    done = web.instance.runs(limit=1)[0]
    assert 'id="run-waiting"' not in web.client.get(f"/runs/{done.run_id}").text


def test_the_api_and_graph_filter_take_status_selections(web):
    rows = web.client.get("/api/assets", params={"select": "status:failed"}).json()
    assert [r["key"] for r in rows] == ["flaky"]
    downstream = {r["key"] for r in web.client.get("/api/assets", params={"select": "status:failed+"}).json()}
    assert "flaky" in downstream
    assert web.client.get("/graph", params={"select": "status:failed"}).status_code == 200
    bad = web.client.get("/api/assets", params={"select": "status:red"})
    assert bad.status_code == 400 and "unknown state 'red'" in bad.text
