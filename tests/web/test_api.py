"""The JSON API: every endpoint, its shapes (asset rows are `status --json` rows), its errors."""

import json

import pytest
from typer.testing import CliRunner

from headwater.cli.app import app as cli


def status_json(web):
    result = CliRunner().invoke(cli, ["status", "--json", "-f", web.location.file, "--home",
                                      str(web.folder / ".headwater")])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_assets_are_status_json_rows(web):
    cli_rows = status_json(web)
    full = web.client.get("/api/assets?full=true").json()
    assert full == cli_rows
    bounded = web.client.get("/api/assets").json()
    # bounded rows say what they cut instead of counting root causes (counting derives them all)
    assert [{k: v for k, v in r.items() if k != "cut"} for r in bounded] == [
        {k: v for k, v in r.items() if k != "stale_root_cause_count"} for r in cli_rows]
    assert all(r["cut"] == [] for r in bounded)
    by_key = {r["key"]: r for r in bounded}
    assert by_key["flaky"]["health"] == "degraded" and by_key["flaky"]["status"] == "failed"
    assert by_key["revenue"]["checks"][0]["state"] == "passed"


def test_assets_filters(web):
    keys = [r["key"] for r in web.client.get("/api/assets", params={"select": "group:marts"}).json()]
    assert keys == ["revenue", "flaky"] or sorted(keys) == ["flaky", "revenue"]
    degraded = web.client.get("/api/assets", params={"health": "degraded"}).json()
    assert [r["key"] for r in degraded] == ["flaky"]
    assert web.client.get("/api/assets", params={"select": "nope+"}).status_code == 400
    assert web.client.get("/api/assets", params={"health": "sad"}).status_code == 400


def test_asset_detail(web):
    d = web.client.get("/api/assets/revenue").json()
    assert d["asset"]["key"] == "revenue" and d["asset"]["health"] == "healthy"
    assert d["why"][0].startswith("revenue: healthy")
    assert d["definition"]["source_file"].endswith("pipeline.py") and d["definition"]["source_line"] > 0
    assert d["definition"]["owners"] == ["finance@example.com"]
    assert d["materializations"][0]["data"]["metadata"] == {"total": 12}
    assert d["check_history"]["revenue_positive"][0]["data"]["passed"] is True
    nodes = {n["key"]: n for n in d["lineage"]["nodes"]}
    assert nodes["revenue"]["direction"] == "self" and nodes["raw/orders"]["direction"] == "upstream"
    assert nodes["dashboard"]["direction"] == "downstream" and nodes["dashboard"]["health"] in ("healthy", "warning")
    assert ["staging/orders", "revenue"] in d["lineage"]["edges"]
    src = web.client.get("/api/assets/raw/orders").json()
    assert src["observations"][0]["data"]["metadata"] == {"bytes": 6}
    assert web.client.get("/api/assets/nope").status_code == 404
    assert web.client.get("/api/assets/bad key!").status_code == 404


def test_ran_on_stale_inputs_is_reported(web):
    (web.folder / "orders.txt").write_text("3 4 5 6\n")
    web.instance.observe(web.defs)           # raw has news; staging not rebuilt
    web.materialize("revenue")               # revenue reads a stale staging/orders
    d = web.client.get("/api/assets/revenue").json()
    assert d["asset"]["ran_on_stale_inputs"] is True
    assert d["ran_on_stale_inputs"] == [{"key": "staging/orders", "state": "stale", "data_version":
                                         d["ran_on_stale_inputs"][0]["data_version"], "detail":
                                         d["ran_on_stale_inputs"][0]["detail"]}]
    page = web.client.get("/assets/revenue").text
    assert "ran on stale inputs" in page
    # stale through staging/orders: the row names the root cause, the page tells it in words
    assert d["asset"]["stale_root_causes"] == [{"kind": "upstream_updated", "key": "staging/orders",
                                                "dep": "raw/orders"}]
    assert d["asset"]["stale_causes"] == [{"kind": "upstream_stale", "key": "revenue", "dep": "staging/orders"}]
    assert "<li>stale: staging/orders: raw/orders has a new data version" in page  # the lone root, with its detail
    assert any("raw/orders has a new data version" in line for line in d["why"])


def test_graph_api(web):
    g = web.client.get("/api/graph").json()
    ids = {n["id"] for n in g["nodes"]}
    assert ids == {"raw/orders", "staging/orders", "revenue", "flaky", "dashboard"}
    assert {"source": "revenue", "target": "dashboard"} in g["edges"]
    assert {lane["group"] for lane in g["lanes"]} == {"raw", "staging", "marts", "reporting"}
    collapsed = web.client.get("/api/graph", params={"collapse": "marts"}).json()
    box = next(n for n in collapsed["nodes"] if n["id"] == "group:marts")
    assert box["group_box"] and box["members"] == 2 and box["counts"]["degraded"] == 1
    assert {"source": "group:marts", "target": "dashboard"} in collapsed["edges"]
    assert web.client.get("/api/graph", params={"select": "revenue+"}).json()["nodes"][0]["id"] == "revenue"


def test_runs_and_events(web):
    runs = web.client.get("/api/runs").json()
    assert len(runs) == 2 and runs[0]["status"] == "failed"
    assert web.client.get("/api/runs", params={"status": "succeeded"}).json()[0]["run_id"] == runs[1]["run_id"]
    assert len(web.client.get("/api/runs", params={"asset": "raw/orders"}).json()) == 0
    assert len(web.client.get("/api/runs", params={"asset": "revenue"}).json()) == 1
    detail = web.client.get(f"/api/runs/{runs[0]['run_id'][:10]}").json()
    assert detail["steps"][0]["step_key"] == "flaky" and "flaky failed on purpose" in detail["steps"][0]["error"]
    page = web.client.get(f"/api/runs/{runs[1]['run_id']}/events").json()
    assert page["status"] == "succeeded" and page["events"][0]["id"] > 0
    types = [e["type"] for e in page["events"]]
    assert "materialization" in types and "log" in types
    log = next(e for e in page["events"] if e["type"] == "log")
    assert log["text"].startswith("read 3 rows")
    after = web.client.get(f"/api/runs/{runs[1]['run_id']}/events", params={"after_id": page["last_id"]}).json()
    assert after["events"] == [] and after["last_id"] == page["last_id"]
    assert web.client.get("/api/runs/nope").status_code == 404
    assert web.client.get("/api/runs", params={"status": "weird"}).status_code == 400


def test_automation_and_ticks(web):
    auto = web.client.get("/api/automation").json()
    assert auto["schedules"][0]["name"] == "nightly" and auto["sensors"] == []
    assert web.client.get("/api/ticks").json() == []


def test_materialize_queues_runs(web):
    run = web.post("/api/actions/materialize", {"key": "revenue"}).json()["run"]
    assert run["status"] == "queued" and run["asset_keys"] == ["revenue"] and run["tags"]["origin"] == "ui"
    down = web.post("/api/actions/materialize", {"key": "revenue", "downstream": True}).json()["run"]
    assert down["asset_keys"] == ["revenue", "dashboard"]
    sel = web.post("/api/actions/materialize", {"selection": "group:marts", "mode": "stale"}).json()["run"]
    assert sorted(sel["asset_keys"]) == ["flaky", "revenue"]
    assert web.post("/api/actions/materialize", {"key": "nope"}).status_code == 404
    assert web.post("/api/actions/materialize", {}).status_code == 400
    assert web.post("/api/actions/materialize", {"selection": "(("}).status_code == 400
    assert web.post("/api/actions/materialize", {"key": "revenue", "mode": "x"}).status_code == 422


def test_observe_and_check_actions(web):
    obs = web.post("/api/actions/observe", {"key": "raw/orders"}).json()
    assert obs["failures"] == [] and obs["observed"][0]["data"]["key"] == "raw/orders"
    assert web.post("/api/actions/observe", {"key": "revenue"}).status_code == 400
    res = web.post("/api/actions/check", {"key": "revenue"}).json()["results"]
    assert res[0]["data"]["check_name"] == "revenue_positive" and res[0]["data"]["passed"] is True
    assert web.post("/api/actions/check", {"key": "flaky"}).status_code == 400


def test_reexecute_from_failure(web):
    failed = web.client.get("/api/runs", params={"status": "failed"}).json()[0]
    run = web.post(f"/api/runs/{failed['run_id']}/reexecute").json()["run"]
    assert run["asset_keys"] == ["flaky"] and run["tags"]["parent_run_id"] == failed["run_id"]
    ok = web.client.get("/api/runs", params={"status": "succeeded"}).json()[0]
    assert web.post(f"/api/runs/{ok['run_id']}/reexecute").status_code == 400


def test_toggle_schedule(web):
    assert web.post("/api/automation/schedule/nightly", {"enabled": False}).json()["enabled"] is False
    assert web.client.get("/api/automation").json()["schedules"][0]["enabled"] is False
    assert web.post("/api/automation/schedule/nope", {"enabled": True}).status_code == 400
    assert web.post("/api/automation/widget/nightly", {"enabled": True}).status_code == 400


def test_openapi_describes_every_api_route(web):
    spec = web.client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for route in web.app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/"):
            assert path.replace(":path", "") in paths, path
    assert "AssetRow" in spec["components"]["schemas"]
    assert web.client.get("/api").status_code == 200


@pytest.mark.parametrize("url", ["/api/assets", "/api/graph", "/api/runs", "/api/automation", "/api/ticks",
                                 "/api/session", "/api/assets/revenue"])
def test_json_endpoints_answer(web, url):
    response = web.client.get(url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")


def cli_json(web, *args):
    result = CliRunner().invoke(cli, [*args, "--json", "--home", str(web.folder / ".headwater")])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_runs_are_cli_runs_json(web):
    assert web.client.get("/api/runs").json() == cli_json(web, "runs")
    for run in cli_json(web, "runs"):
        assert web.client.get(f"/api/runs/{run['run_id']}").json() == cli_json(web, "run", "show", run["run_id"])
