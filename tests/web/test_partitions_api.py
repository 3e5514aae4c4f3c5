"""The partition API: every partition with its state and why, filtered and paged; one
partition's page; launching partitions; the roll-up in asset rows (issue 10, point 8)."""

import json

import pytest

from .partitioned import partitioned_web, seed


@pytest.fixture(scope="module")
def pweb(tmp_path_factory):
    web = partitioned_web(tmp_path_factory.mktemp("partitioned") / "project")
    seed(web)
    yield web
    web.close()


def test_list_counts_filters_and_pages(pweb):
    c = pweb.client
    doc = c.get("/api/assets/events/partitions").json()
    assert doc["summary"] == "5/10 materialized · 1 failed · 4 missing"
    assert doc["counts"] == {"total": 10, "materialized": 5, "missing": 4, "failed": 1, "running": 0, "stale": 0}
    assert doc["definition"]["dimensions"][0]["kind"] == "time" and doc["matching"] == 10
    rows = {r["partition"]: r for r in doc["partitions"]}
    assert list(rows)[0] == "2026-03-01" and list(rows)[-1] == "2026-03-10"
    assert rows["2026-03-06"]["state"] == "failed" and rows["2026-03-06"]["error"] == "no events landed for 2026-03-06"
    assert rows["2026-03-06"]["reason"] == "failed: no events landed for 2026-03-06"
    assert rows["2026-03-07"]["state"] == "missing" and rows["2026-03-07"]["last_materialized_at"] is None
    assert rows["2026-03-02"]["data_version"] == "2026-03-02:v2" and rows["2026-03-02"]["run_id"]

    def keys(asset, **params):
        return [r["partition"] for r in c.get(f"/api/assets/{asset}/partitions", params=params).json()["partitions"]]

    assert keys("events", state="failed") == ["2026-03-06"]
    assert keys("events", state="failed,missing") == ["2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09",
                                                      "2026-03-10"]
    assert keys("events", state="missing", offset=1, limit=2) == ["2026-03-08", "2026-03-09"]
    sales = c.get("/api/assets/sales/partitions", params={"state": "stale"}).json()
    assert sales["matching"] == 1 and sales["counts"]["stale"] == 1 and sales["counts"]["total"] == 30
    stale = sales["partitions"][0]
    assert stale["partition"] == "2026-03-02|us" and stale["dimensions"] == {"day": "2026-03-02", "region": "us"}
    assert stale["stale_causes"][0]["kind"] == "upstream_updated"
    assert "events[2026-03-02]" in stale["stale_causes"][0]["detail"]
    assert keys("sales", state="fresh") == ["2026-03-01|eu"]

    strip = c.get("/api/assets/events/partitions", params={"strip": "true", "limit": 1}).json()["strip"]
    assert strip["bucket"] is None and strip["shown"] == 10 and strip["counts"]["missing"] == 4
    assert [cell["state"] for cell in strip["cells"]] == ["materialized"] * 5 + ["failed"] + ["missing"] * 4
    assert strip["cells"][5]["href"] == "/partitions/events%5B2026-03-06%5D"
    heat = c.get("/api/assets/sales/partitions", params={"strip": "true", "from": "2026-03-02",
                                                         "to": "2026-03-03"}).json()["strip"]
    assert heat["columns"] == "day" and heat["shown"] == 6 and [x["first"] for x in heat["cells"][:2]] == [
        "2026-03-02|eu", "2026-03-03|eu"]
    assert c.get("/api/assets/events/partitions", params={"strip": "true", "from": "2027-01-01"}).status_code == 400

    assert c.get("/api/assets/events/partitions", params={"state": "sad"}).json() == {
        "detail": "unknown partition state 'sad'; one of materialized, missing, failed, running, stale, fresh"}
    assert c.get("/api/assets/summary/partitions").status_code == 400
    assert c.get("/api/assets/nope/partitions").status_code == 404
    assert c.get("/api/assets/events/partitions", params={"limit": 0}).status_code == 422


def test_one_partition(pweb):
    c = pweb.client
    failed = c.get("/api/assets/events/partitions/2026-03-06").json()
    assert failed["partition"]["state"] == "failed" and failed["materializations"] == []
    assert failed["why"][0] == "events[2026-03-06]: failed"
    assert "  error: no events landed for 2026-03-06" in failed["why"]
    assert failed["time_window"] == {"start": "2026-03-06T00:00:00+00:00", "end": "2026-03-07T00:00:00+00:00"}
    assert (failed["previous"], failed["next"]) == ("2026-03-05", "2026-03-07")

    rebuilt = c.get("/api/assets/events/partitions/2026-03-02").json()
    assert [m["data"]["data_version"] for m in rebuilt["materializations"]] == ["2026-03-02:v2", "2026-03-02:v1"]
    assert rebuilt["checks"][0]["name"] == "events_not_empty" and rebuilt["checks"][0]["state"] == "passed"
    assert rebuilt["check_history"]["events_not_empty"][0]["data"]["metadata"] == {"day": "2026-03-02"}

    stale = c.get("/api/assets/sales/partitions/2026-03-02|us").json()
    assert stale["partition"]["state"] == "stale"
    assert any(line.startswith("  upstream_updated: events[2026-03-02] has a new data version")
               for line in stale["why"]), stale["why"]
    assert stale["upstream"] == [{"key": "events", "mapping": "DimensionMapping", "total": 1,
                                  "counts": {"materialized": 1},
                                  "partitions": [{"address": "events[2026-03-02]", "state": "materialized"}]}]

    # A rolling week that was never built names the parent days it cannot read yet.
    week = c.get("/api/assets/events_7d/partitions/2026-03-08").json()
    assert week["partition"]["state"] == "missing"
    reads = week["upstream"][0]
    assert reads["mapping"] == "TimeWindowMapping" and reads["total"] == 7
    assert reads["counts"] == {"materialized": 4, "failed": 1, "missing": 2}
    assert reads["partitions"][0] == {"address": "events[2026-03-06]", "state": "failed"}
    assert any("not there yet: events[2026-03-06], events[2026-03-07], events[2026-03-08]" in line
               for line in week["why"])

    unknown = c.get("/api/assets/events/partitions/2026-04-01")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == ("unknown partition '2026-04-01' of asset events (daily from 2026-03-01 (UTC)): "
                                        "it has 10 partition(s), '2026-03-01' … '2026-03-10'")
    dims = c.get("/api/assets/sales/partitions/2026-03-02")
    assert dims.status_code == 404 and "has 1 dimension(s); it needs 2: day|region" in dims.json()["detail"]


def test_rows_carry_the_roll_up(pweb):
    rows = {r["key"]: r for r in pweb.client.get("/api/assets").json()}
    assert rows["events"]["partitions"] == {"total": 10, "materialized": 5, "missing": 4, "failed": 1,
                                            "running": 0, "stale": 0,
                                            "summary": "5/10 materialized · 1 failed · 4 missing"}
    assert rows["sales"]["partitions"]["summary"] == "2/30 materialized · 28 missing · 1 stale"
    assert rows["summary"]["partitions"] is None
    full = {r["key"]: r for r in pweb.client.get("/api/assets", params={"full": "true"}).json()}
    # bounded rows say what they cut; full rows (status --json's) count the root causes instead
    assert [{k: v for k, v in r.items() if k != "cut"} for r in rows.values()] == [
        {k: v for k, v in r.items() if k != "stale_root_cause_count"} for r in full.values()]
    catalog = pweb.client.get("/assets").text
    assert '<a href="/partitions/events">5/10 materialized · 1 failed · 4 missing</a>' in catalog


def runs(web):
    return [r.run_id for r in web.instance.runs(limit=1000)]


def test_launch_chooses_partitions(pweb):
    before = runs(pweb)
    missing = pweb.post("/api/actions/materialize-partitions", {"key": "events", "only": "missing"})
    assert missing.status_code == 200, missing.text
    doc = missing.json()
    assert doc["partitions"] == ["2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"] and doc["count"] == 4
    assert doc["run"]["status"] == "queued" and doc["run"]["asset_keys"] == ["events"]
    assert json.loads(doc["run"]["tags"]["headwater/targets"]) == {"events": doc["partitions"]}

    both = pweb.post("/api/actions/materialize-partitions",
                     {"key": "events", "only": "missing,failed", "from": "2026-03-05", "to": "2026-03-07"}).json()
    assert both["partitions"] == ["2026-03-06", "2026-03-07"]
    one = pweb.post("/api/actions/materialize-partitions",
                    {"key": "sales", "partitions": ["2026-03-04|eu"], "downstream": True}).json()
    assert one["run"]["tags"]["headwater/partition"] == "2026-03-04|eu" and one["run"]["selection"] == '"sales"+'
    span = pweb.post("/api/actions/materialize-partitions", {"key": "events", "from": "2026-03-03",
                                                             "to": "2026-03-04"}).json()
    assert span["run"]["tags"]["headwater/partition_range_start"] == "2026-03-03" and span["count"] == 2
    assert len(runs(pweb)) == len(before) + 4

    # Bad input: one line naming the culprit, and nothing queued.
    for body, words in (
        ({"key": "events", "partitions": ["2026-02-30"]}, "unknown partition '2026-02-30' of asset events"),
        ({"key": "events", "from": "2025-01-01"}, "'2025-01-01' is outside the partitions of asset events"),
        ({"key": "events", "only": "often"}, "unknown partition state 'often'"),
        ({"key": "events", "only": "materialized"}, "launch only missing, failed or stale partitions"),
        ({"key": "events"}, "say which partitions of events to materialize"),
        ({"key": "events", "only": "failed", "from": "2026-03-01", "to": "2026-03-02"},
         "no partition of events is failed in that range"),
        ({"key": "summary", "only": "missing"}, "asset summary is not partitioned"),
    ):
        answer = pweb.post("/api/actions/materialize-partitions", body)
        assert answer.status_code == 400 and words in answer.json()["detail"], (body, answer.text)
    assert pweb.post("/api/actions/materialize-partitions", {"key": "nope", "only": "missing"}).status_code == 404
    assert pweb.client.post("/api/actions/materialize-partitions", json={"key": "events",
                                                                         "only": "missing"}).status_code == 403
    assert len(runs(pweb)) == len(before) + 4


def test_launched_missing_partitions_are_built(tmp_path):
    """The queued run, executed by a worker, builds exactly the partitions that were missing."""
    web = partitioned_web(tmp_path / "project")
    try:
        seed(web)
        doc = web.post("/api/actions/materialize-partitions", {"key": "events", "only": "missing"}).json()
        result = web.instance.execute_queued(web.defs, doc["run"]["run_id"])
        assert result.success
        # The run went around the UI: on a busy machine a snapshot that was costly to compute is
        # served while a fresh one is computed in the background; start from a fresh one.
        web.app.state.ctx.cache.drop()
        after = web.client.get("/api/assets/events/partitions").json()
        assert after["summary"] == "9/10 materialized · 1 failed"
        assert {r["partition"] for r in after["partitions"] if r["run_id"] == doc["run"]["run_id"]} == set(
            doc["partitions"])
        form = web.client.post("/actions/materialize-partitions",
                               data={"csrf_token": web.csrf(), "key": "events", "only": "failed"},
                               follow_redirects=False)
        assert form.status_code == 303 and form.headers["location"].startswith("/runs/")
    finally:
        web.close()


def test_openapi_describes_the_partition_endpoints(pweb):
    spec = pweb.client.get("/openapi.json").json()
    assert "/api/assets/{key}/partitions" in spec["paths"]
    assert "/api/assets/{key}/partitions/{partition}" in spec["paths"]
    assert "/api/actions/materialize-partitions" in spec["paths"]
    assert {"PartitionsPage", "PartitionDetail", "MaterializePartitionsRequest"} <= set(spec["components"]["schemas"])
