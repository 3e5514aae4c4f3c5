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
