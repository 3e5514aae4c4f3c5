"""The API's rows, written as JSON text for speed (``web/rows.py``), against ``status --json``
(``reports.health_to_dict``): the same value in every field, bounded only as documented."""

import json

import orjson
import pytest

import headwater as hw
from headwater.core.root_counts import root_cause_counts
from headwater.reports import CAUSES_LISTED, health_to_dict
from headwater.service import status_snapshot
from headwater.service.status_snapshot import StatusRows
from headwater.web.row_bounds import api_body, api_row
from headwater.web.rows import MAX_ROOTS, REASON_CHARS, RowWriter
from headwater.web.shapes import asset_row

ODD = 'quote" back\\slash é ✓ \u2028 tab\t nul\x01 <script>'
# one wide asset gets more root causes (and direct causes) than are listed
SOURCES = [f"src/s{i}" for i in range(max(MAX_ROOTS, CAUSES_LISTED) + 2)]


def bounded(full: dict) -> dict:
    """What the documentation says the API does to a ``status --json`` row."""
    row = dict(full)
    cut = []
    if row.pop("stale_root_cause_count") > MAX_ROOTS:
        row["stale_root_causes"] = row["stale_root_causes"][:MAX_ROOTS]
        cut.append("stale_root_causes")
    if any(len(r) > REASON_CHARS for r in row["health_reasons"]):
        row["health_reasons"] = [r if len(r) <= REASON_CHARS else r[:REASON_CHARS] + f"… ({len(r)} characters)"
                                 for r in row["health_reasons"]]
        cut.append("health_reasons")
    row["cut"] = cut
    return row


@pytest.fixture
def made(tmp_path):
    """Definitions and a store that meet every bound: (defs, instance)."""
    versions = {s: "1" for s in SOURCES}

    def observer(name):
        return lambda: hw.Observation(data_version=versions[name] + ODD, data_time=1_700_000_000.0)

    sources = [hw.source_asset(s, observe=observer(s), group="raw", kinds={"csv", "s3"}) for s in SOURCES]

    @hw.asset(deps=SOURCES, group="wide", code_version="1", freshness=hw.FreshnessPolicy.within(3600, 1800))
    def wide() -> hw.Output:
        return hw.Output(1, metadata={"text": ODD, "n": 3})

    @hw.asset(deps=["wide"], freshness=hw.FreshnessPolicy.by_deadline("0 9 * * *", 3600))
    def deep() -> None:
        return None

    @hw.asset
    def broken() -> None:
        raise RuntimeError("broken: " + ODD)

    @hw.asset
    def never() -> None:
        return None

    @hw.check(asset="wide")
    def odd_check(wide: int) -> hw.CheckResult:
        # a long description: its health reason is longer than the API keeps
        return hw.CheckResult(passed=False, description=ODD * 8,
                              metadata={"odd": ODD, "nested": {"a": [1, 2.5, None]}})

    @hw.check(asset="wide")
    def flat_check(wide: int) -> hw.CheckResult:  # flat metadata: written without json.dumps
        return hw.CheckResult(passed=True, metadata={"f": 2.5, "big": 1e300, "b": True, "none": None, "i": -7,
                                                     "s": ODD, "é": "x"})

    defs = hw.Definitions(assets=[*sources, wide, deep, broken, never], checks=[odd_check, flat_check])
    instance = hw.Instance(home=tmp_path / "home")
    try:
        instance.observe(defs)
        instance.materialize(defs, "wide, deep")
        instance.materialize(defs, "broken")
        for s in SOURCES:
            versions[s] = "2"
        instance.observe(defs)  # every source has news: wide (and deep) are stale, with a root cause each
        yield defs, instance
    finally:
        instance.close()


@pytest.fixture
def healths(made):
    defs, instance = made
    return defs.graph, instance.healths(defs)


def test_rows_are_status_json_rows_bounded_as_documented(healths):
    graph, by_key = healths
    writer = RowWriter(graph)
    rows = writer.rows(by_key.values())
    assert [json.loads(r) for r in rows] == [bounded(health_to_dict(h, graph)) for h in by_key.values()]
    wide = json.loads(rows[list(by_key).index(next(k for k in by_key if str(k) == "wide"))])
    # The interesting cases occurred: bounded roots and reasons, freshness, a failing check, odd text.
    assert wide["cut"] == ["stale_root_causes", "health_reasons"]
    assert len(wide["stale_causes"]) == CAUSES_LISTED < wide["stale_cause_count"] == len(SOURCES)
    assert wide["freshness"]["policy"] and wide["checks"][0]["metadata"]["odd"] == ODD
    assert wide["checks"][1]["metadata"] == {"f": 2.5, "big": 1e300, "b": True, "none": None, "i": -7, "s": ODD,
                                             "é": "x"}
    assert all(r.isascii() for r in rows)                  # escaped like json.dumps
    broken = json.loads(writer.row(next(h for k, h in by_key.items() if str(k) == "broken")))
    assert broken["error"].endswith(ODD) and broken["health"] == "degraded"


def test_status_rows_bounded_as_text_are_the_api_rows(healths):
    """``row_bounds.api_row`` on ``status --json``'s text (what a UI just started sends from the
    stored rows) gives the API's row: the same values, including a tag named like the count."""
    graph, by_key = healths
    statuses = {k: h.status for k, h in by_key.items()}
    counts = root_cause_counts(statuses)
    writer = RowWriter(graph)
    bounded_rows = [api_row(orjson.dumps(health_to_dict(h, graph, counts.get(k, 0)))) for k, h in by_key.items()]
    assert [json.loads(r) for r in bounded_rows] == [json.loads(writer.row(h)) for h in by_key.values()]
    status_rows = [orjson.dumps(health_to_dict(h, graph, counts.get(k, 0))) for k, h in by_key.items()]
    assert json.loads(api_body(StatusRows([], status_rows))) == [json.loads(r) for r in bounded_rows]
    assert api_body(StatusRows([], [])) == b"[]"
    wide = json.loads(bounded_rows[[str(k) for k in by_key].index("wide")])
    assert wide["cut"] == ["stale_root_causes", "health_reasons"]  # both bounds were met
    tagged = (b'{"key":"t","tags":{"x":"]","stale_root_cause_count":"9"},"stale_root_causes":[],'
              b'"stale_root_cause_count":0,"health":"healthy","health_reasons":[],"freshness":null,"checks":[]}')
    assert json.loads(api_row(tagged)) == {"key": "t", "tags": {"x": "]", "stale_root_cause_count": "9"},
                                           "stale_root_causes": [], "health": "healthy", "health_reasons": [],
                                           "freshness": None, "checks": [], "cut": []}
    with pytest.raises(ValueError):
        api_row(b'{"key":"not a status row"}')


def test_stored_rows_with_policies_bounded_in_place_are_the_completed_rows_bounded(made):
    """The rows of assets with a policy are stored without their clock-bound fields; the API's
    body puts them back and bounds the row in one pass (``_clock_bound_pieces``): byte for
    byte what bounding each completed row gives."""
    defs, instance = made
    status_snapshot.status_rows(instance, defs).close()  # computed and stored
    for _ in range(2):
        found = status_snapshot.load(instance, defs)
        assert found is not None and found.stored_document() is not None
        assert {str(defs.graph.keys[i]) for i in found.stored_document()[2]} == {"wide", "deep"}  # clock-bound
        body = api_body(found)
        assert body == b"[" + b",".join(api_row(r) for r in found.rows()) + b"]"
        found.close()
        assert json.loads(body)[[str(k) for k in defs.graph.keys].index("wide")]["cut"] == \
            ["stale_root_causes", "health_reasons"]
        instance.clock = lambda: 1_800_000_000.0  # then past every deadline: other reasons, other health


def test_one_row_as_data_is_the_same_row(healths):
    graph, by_key = healths
    for h in by_key.values():
        assert asset_row(h, graph) == json.loads(RowWriter(graph).row(h))
        assert asset_row(h, graph, full=True) == health_to_dict(h, graph)


def test_rows_written_again_only_when_their_asset_changed(web):
    """A writer reuses the rows of assets whose status the service handed out again; what it
    answers is what a new writer writes, before and after a change."""
    writer = RowWriter(web.defs.graph)
    before = web.instance.healths(web.defs)
    assert writer.rows(before.values()) == RowWriter(web.defs.graph).rows(before.values())
    assert web.materialize("flaky").success
    after = web.instance.healths(web.defs)
    rows = writer.rows(after.values())
    assert rows == RowWriter(web.defs.graph).rows(after.values())
    flaky = json.loads(rows[[str(k) for k in after].index("flaky")])
    assert flaky["health"] == "healthy" and flaky["error"] is None
