"""Partition state in the store, on every backend (issue 10, point 2): per-partition latest rows
derived in the write's transaction, step events per partition, dynamic keys as events,
backfills as stored objects, and the 0004 migration of a store written by 0003."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from storage_events import T0, key, materialized, started

from headwater.core.events import (
    AssetMaterialized,
    BackfillRequested,
    BackfillUpdated,
    DynamicPartitionsChanged,
    ErrorInfo,
    InputRecord,
    StepFailed,
    StepStarted,
)
from headwater.core.records import AttemptStatus
from headwater.storage.sql import schema
from headwater.storage.sql.engines import create_engines
from headwater.storage.sql.store import open_store


def test_each_partition_has_its_own_latest_state(opener):
    store = opener()
    store.write([started("r1"), StepStarted(run_id="r1", timestamp=T0, step_key="events[d1]",
                                            asset_keys=(key("events"),), partitions=("d1", "d2"))])
    running = store.partition_facts([key("events")])[key("events")]
    assert {p: f.last_attempt_status for p, f in running.items()} == {
        "d1": AttemptStatus.RUNNING, "d2": AttemptStatus.RUNNING}
    store.write([
        materialized("r1", "events", T0 + 1, "v1", partition="d1"),
        StepFailed(run_id="r1", timestamp=T0 + 2, step_key="events[d2]", asset_keys=(key("events"),),
                   partitions=("d2",), error=ErrorInfo("boom")),
        AssetMaterialized(run_id="r1", timestamp=T0 + 3, key=key("rolling"), partition="d2", data_version="w1",
                          inputs=(InputRecord(key("events"), "v1", T0, partition="d1"),
                                  InputRecord(key("events"), None, None, partition="d2")), deps=(key("events"),)),
    ])
    facts = store.partition_facts([key("events"), key("rolling"), key("nothing")])
    assert set(facts) == {key("events"), key("rolling")}
    events = facts[key("events")]
    assert events["d1"].last_materialization.data_version == "v1"
    assert (events["d2"].last_attempt_status, events["d2"].last_failure.message) == (AttemptStatus.FAILED, "boom")
    assert events["d2"].last_materialization is None
    inputs = facts[key("rolling")]["d2"].last_materialization.inputs
    assert [(i.partition, i.data_version) for i in inputs] == [("d1", "v1"), ("d2", None)]
    assert store.latest_facts([key("events")]) == {}  # the unpartitioned row is untouched
    # Unchanged rows come back as the same objects (what the incremental status relies on).
    again = store.partition_facts([key("events")])[key("events")]
    assert again["d1"] is events["d1"]
    store.write([materialized("r2", "events", T0 + 9, "v2", partition="d2")])
    later = store.partition_facts([key("events")])[key("events")]
    assert later["d1"] is events["d1"] and later["d2"].last_materialization.data_version == "v2"


def test_dynamic_keys_are_derived_from_their_events(opener):
    store = opener()
    store.write([DynamicPartitionsChanged(run_id=None, timestamp=T0, name="customers", added=("acme", "globex")),
                 DynamicPartitionsChanged(run_id=None, timestamp=T0 + 1, name="customers", added=("initech",),
                                          removed=("globex",)),
                 DynamicPartitionsChanged(run_id=None, timestamp=T0 + 2, name="regions", added=("eu",))])
    assert store.dynamic_partitions() == {"customers": ("acme", "initech"), "regions": ("eu",)}
    store.write([DynamicPartitionsChanged(run_id=None, timestamp=T0 + 3, name="customers", added=("globex",),
                                          removed=("acme",))])
    assert store.dynamic_partitions()["customers"] == ("initech", "globex")


def test_a_backfill_is_a_stored_object(opener):
    store = opener()
    store.write([BackfillRequested(run_id=None, timestamp=T0, backfill_id="b1", selection="events+", mode="missing",
                                   partition_range=("d1", "d3"),
                                   targets=(("events", ("d1", "d2", "d3")), ("rolling", ("d2", "d3"))),
                                   tags={"team": "x"}, chunk_size=2)])
    row = store.backfill("b1")
    assert (row["status"], row["total"], row["targets"][1], row["partition_range"], row["tags"]) == (
        "requested", 5, ("rolling", ("d2", "d3")), ("d1", "d3"), {"team": "x"})
    store.write([BackfillUpdated(run_id=None, timestamp=T0 + 5, backfill_id="b1", status="canceled", reason="by me")])
    assert [(b["backfill_id"], b["status"], b["reason"]) for b in store.backfills()] == [("b1", "canceled", "by me")]
    assert store.backfill("nope") is None
    store.write([BackfillUpdated(run_id=None, timestamp=T0 + 6, backfill_id="nope", status="canceled")])
    assert store.backfill("nope") is None  # an update of an unknown backfill is dropped


def test_a_0003_store_upgrades_in_place_and_keeps_its_partitions(store_url):
    from test_storage_migrations import _write_as_0001  # writes rows as the old revisions did

    engines = create_engines(store_url)
    try:
        with engines.write.begin() as conn:
            command.upgrade(schema._alembic_config(conn), "0003")
            _write_as_0001(conn, [started("r1", T0), materialized("r1", "events", T0 + 1, "v1", partition="d1"),
                                  materialized("r1", "plain", T0 + 2, "p1")])
    finally:
        engines.dispose()
    with open_store(store_url) as store:
        with store.engines.read.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == schema.HEAD
            conn.rollback()
        assert store.partition_facts([key("events")])[key("events")]["d1"].last_materialization.data_version == "v1"
        assert store.latest_facts()[key("plain")].last_materialization.data_version == "p1"
        assert store.dynamic_partitions() == {} and store.backfills() == []
        store.write([materialized("r2", "events", T0 + 5, "v2", partition="d2"),
                     DynamicPartitionsChanged(run_id=None, timestamp=T0, name="c", added=("x",))])
        assert set(store.partition_facts([key("events")])[key("events")]) == {"d1", "d2"}
        assert store.dynamic_partitions() == {"c": ("x",)}


def test_a_0004_store_upgrades_and_its_partitions_read_as_summaries_of_their_events(store_url):
    """Migration 0005 fills the summary columns from the stored payloads: a partition written
    by 0004 reads back with the versions and inputs of its event, and decodes the rest whole."""
    from test_storage_migrations import _write_as_0001  # writes rows as the old revisions did

    from headwater.core.events import InputState
    from headwater.core.materialization_summary import SummarizedMaterialization

    stale_read = AssetMaterialized(
        run_id="r1", timestamp=T0 + 2, key=key("rolling"), partition="d2", code_version="c1", data_version="w1",
        data_time=T0, deps=(key("events"),), metadata={"rows": 3},
        inputs=(InputRecord(key("events"), "v1", T0, partition="d1"),
                InputRecord(key("events"), None, None, state=InputState.MISSING, partition="d2")))
    engines = create_engines(store_url)
    try:
        with engines.write.begin() as conn:
            command.upgrade(schema._alembic_config(conn), "0004")
            _write_as_0001(conn, [started("r1", T0), materialized("r1", "events", T0 + 1, "v1", partition="d1"),
                                  stale_read])
    finally:
        engines.dispose()
    with open_store(store_url) as store:
        mat = store.partition_facts([key("rolling")])[key("rolling")]["d2"].last_materialization
        assert type(mat) is SummarizedMaterialization
        assert (mat.run_id, mat.code_version, mat.data_version, mat.data_time, mat.deps) == (
            "r1", "c1", "w1", T0, (key("events"),))
        assert [list(i) for i in mat.input_versions()] == [["events", "d1", "v1"], ["events", "d2", None, "missing"]]
        assert mat.ran_on_stale_inputs
        assert mat == stale_read and mat.metadata == {"rows": 3} and mat.inputs == stale_read.inputs
        store.write([materialized("r2", "events", T0 + 5, "v2", partition="d1")])  # written by 0005: the same
        fresh = store.partition_facts([key("events")])[key("events")]["d1"].last_materialization
        assert (type(fresh), fresh.data_version, fresh.input_versions(), fresh.run_id) == (
            SummarizedMaterialization, "v2", [], "r2")
