"""The event store contract for data health — check results, unchanged observations, alerts —
run on every backend like ``test_storage_conformance.py`` (see ``conftest.py``)."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from storage_events import (
    T0,
    checked,
    delivery,
    finished,
    key,
    materialized,
    observed,
    started,
    step_started,
    transition,
    unchanged,
)

from headwater.core.events import (
    AlertState,
    CheckEvaluated,
    CheckSeverity,
    ErrorInfo,
    RunStatus,
)
from headwater.core.records import AttemptStatus
from headwater.errors import StorageError


def _count_selects(store):
    counter = {"n": 0}

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        if statement.lstrip().upper().startswith("SELECT"):
            counter["n"] += 1

    sa_event.listen(store.engines.read, "before_cursor_execute", count)
    return counter


def _types_in(store, table: str) -> list[str]:
    with store.engines.read.connect() as conn:
        types = list(conn.execute(text(f"SELECT type FROM {table} ORDER BY id")).scalars())
        conn.rollback()
    return types


# --- check results -------------------------------------------------------------------------


def test_new_event_types_round_trip_in_their_families(store):
    check = CheckEvaluated(
        run_id="r1", timestamp=T0 + 1, step_key="a", key=key("sales/a"), check_name="no_nulls", passed=False,
        severity=CheckSeverity.WARN, blocking=True, description="3 nulls", metadata={"nulls": 3, "cols": ["x"]},
        target_run_id="r1", target_timestamp=T0, error=ErrorInfo("boom", "ValueError", "Traceback ..."))
    store.write([started("r1", T0), check, unchanged("src", T0 + 2), transition("late", "sales/a", at=T0 + 3),
                 delivery("late", "sales/a", at=T0 + 4)])

    assert [s.event for s in store.run_events("r1")] == [started("r1", T0), check]
    assert store.run_events("r1")[1].extra["family"] == "asset"
    [stored] = store.check_history(key("sales/a"))
    assert stored.event == check and stored.extra["family"] == "asset"
    assert store.latest_check_results() == {key("sales/a"): {"no_nulls": check}}
    assert store.alert_states() == {("late", key("sales/a")): transition("late", "sales/a", at=T0 + 3)}
    assert store.alert_deliveries() == [delivery("late", "sales/a", at=T0 + 4)]
    # unchanged observations and alerts are operational (compactable); check results are facts
    assert _types_in(store, "asset_events") == ["check_evaluation"]
    assert _types_in(store, "run_events") == ["run_started", "observation_unchanged", "alert_transition",
                                              "alert_delivery"]


def test_a_second_evaluation_replaces_the_latest(store):
    store.write([checked("a", "rows", True, T0)])
    store.write([checked("a", "rows", False, T0 + 10, run_id="r2")])
    result = store.latest_check_results()[key("a")]["rows"]
    assert (result.passed, result.run_id, result.timestamp) == (False, "r2", T0 + 10)
    store.write([checked("a", "rows", True, T0 + 20, run_id="r3"), checked("a", "rows", False, T0 + 21, run_id="r4")])
    assert store.latest_check_results()[key("a")]["rows"].run_id == "r4"  # the last of a batch wins
    assert [s.event.run_id for s in store.check_history(key("a"))] == ["r4", "r3", "r2", "r1"]


def test_checks_of_different_assets_names_and_partitions_do_not_collide(store):
    store.write([checked("a", "rows", True), checked("a", "fresh", False), checked("b", "rows", False),
                 checked("a/rows", "rows", True, run_id="r9"),
                 checked("a", "rows", False, partition="2024-01-01", run_id="rp")])
    results = store.latest_check_results()
    assert {k: {n: e.passed for n, e in v.items()} for k, v in results.items()} == {
        key("a"): {"rows": True, "fresh": False}, key("b"): {"rows": False}, key("a/rows"): {"rows": True}}
    daily = store.latest_check_results(partition="2024-01-01")
    assert list(daily) == [key("a")] and daily[key("a")]["rows"].run_id == "rp"
    assert store.latest_check_results(partition="nope") == {}


def test_latest_check_results_for_many_assets_is_two_queries_and_sees_new_writes(opener):
    reader, writer = opener(), opener()
    writer.write([checked(f"g{i % 5}/asset_{i}", name, i % 3 != 0, T0 + i)
                  for i in range(700) for name in ("rows", "unique")])
    counter = _count_selects(reader)
    results = reader.latest_check_results()
    assert counter["n"] == 2  # whether anything changed, then the rows: never one per asset
    assert len(results) == 700 and all(set(v) == {"rows", "unique"} for v in results.values())
    assert results[key("g3/asset_3")]["unique"].passed is False

    again = reader.latest_check_results()  # nothing written since: one aggregate, the very same mapping
    assert again is results and counter["n"] == 3
    writer.write([checked("g3/asset_3", "unique", True, T0 + 1000, run_id="r2")])
    after = reader.latest_check_results()
    assert after[key("g3/asset_3")]["unique"].run_id == "r2"
    assert after[key("g3/asset_3")]["rows"] is results[key("g3/asset_3")]["rows"]  # decoded once
    assert counter["n"] == 5
    writer.write([checked("g3/asset_9999", "rows", True, T0 + 1001, run_id="r3")])  # a new row
    assert reader.latest_check_results()[key("g3/asset_9999")]["rows"].run_id == "r3"


def test_latest_check_results_are_read_only(store):
    store.write([checked("a", "rows", True)])
    results = store.latest_check_results()
    with pytest.raises(TypeError):
        results[key("b")] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        results[key("a")]["rows"] = None  # type: ignore[index]


def test_check_history_is_newest_first_by_name_partition_and_limit(store):
    store.write([checked("a", "rows", i % 2 == 0, T0 + i, run_id=f"r{i}") for i in range(5)])
    store.write([checked("a", "fresh", True, T0 + 10, run_id="rf"), checked("b", "rows", True, run_id="rb"),
                 checked("a", "rows", True, T0 + 11, partition="p1", run_id="rp"), materialized("r0", "a")])
    assert [s.event.run_id for s in store.check_history(key("a"))] == ["rf", "r4", "r3", "r2", "r1", "r0"]
    assert [s.event.run_id for s in store.check_history(key("a"), "rows", limit=3)] == ["r4", "r3", "r2"]
    assert [s.event.run_id for s in store.check_history(key("a"), "fresh")] == ["rf"]
    assert [s.event.run_id for s in store.check_history(key("a"), partition="p1")] == ["rp"]
    assert store.check_history(key("a"), "nope") == []
    assert store.check_history(key("nope")) == []
    assert store.check_history(key("a"), limit=0) == []
    ids = [s.id for s in store.check_history(key("a"))]
    assert ids == sorted(ids, reverse=True)


def test_check_history_of_a_rare_check_among_many(store):
    events = [checked("a", "often", True, T0 + i, run_id=f"o{i}") for i in range(450)]
    for i in (5, 120, 300):
        events.insert(i, checked("a", "rare", False, T0 + i, run_id=f"rare{i}"))
    store.write(events)
    assert [s.event.run_id for s in store.check_history(key("a"), "rare")] == ["rare300", "rare120", "rare5"]
    assert [s.event.run_id for s in store.check_history(key("a"), "rare", limit=2)] == ["rare300", "rare120"]
    assert len(store.check_history(key("a"), "often", limit=500)) == 450


def test_a_failed_batch_leaves_no_check_result(store):
    with pytest.raises(StorageError):
        store.write([checked("a", "rows", True), started("r1", T0, pid=2**70)])
    assert store.latest_check_results() == {}
    assert store.check_history(key("a")) == []


# --- observations: changed and unchanged -------------------------------------------------------


def test_an_observation_sets_the_checked_at_time(store):
    store.write([observed("src", T0 + 5, "s1")])
    f = store.latest_facts()[key("src")]
    assert (f.last_observation.data_version, f.last_observation_checked_at) == ("s1", T0 + 5)


def test_an_unchanged_observation_moves_only_the_checked_at_time(store):
    store.write(whole := [observed("src", T0, "s1")])
    store.write([unchanged("src", T0 + 60, "s1")])
    f = store.latest_facts()[key("src")]
    assert f.last_observation == whole[0]
    assert f.last_observation_checked_at == T0 + 60
    assert [o.event.data_version for o in store.observations(key("src"))] == ["s1"]  # no new fact

    store.write([observed("src", T0 + 120, "s2"), unchanged("src", T0 + 180, "s2")])
    f = store.latest_facts()[key("src")]
    assert (f.last_observation.data_version, f.last_observation_checked_at) == ("s2", T0 + 180)


def test_an_unchanged_observation_keeps_partitions_and_other_facts_apart(store):
    store.write([materialized("r1", "src", T0), observed("src", T0 + 1, partition="p1"),
                 unchanged("src", T0 + 2, partition="p1"), unchanged("fresh", T0 + 3)])
    facts = store.latest_facts()
    assert facts[key("src")].last_materialization.run_id == "r1"
    assert facts[key("src")].last_observation_checked_at is None
    assert facts[key("src")].last_attempt_status is AttemptStatus.SUCCEEDED
    fresh = facts[key("fresh")]  # checked before anything else was stored about it
    assert (fresh.last_observation, fresh.last_observation_checked_at) == (None, T0 + 3)
    p1 = store.latest_facts(partition="p1")[key("src")]
    assert (p1.last_observation.timestamp, p1.last_observation_checked_at) == (T0 + 1, T0 + 2)


def test_a_reader_sees_a_new_checked_at_time_from_another_store(opener):
    reader, writer = opener(), opener()
    writer.write([observed("src", T0, "s1")])
    first = reader.latest_facts()[key("src")]
    writer.write([unchanged("src", T0 + 30)])
    second = reader.latest_facts()[key("src")]
    assert second.last_observation_checked_at == T0 + 30
    assert second.last_observation is first.last_observation  # the payload was not decoded again


def test_an_unchanged_observation_in_the_batch_that_fails_its_run(store):
    store.write([started("r1"), step_started("r1", "src", at=T0 + 1)])
    store.write([unchanged("src", T0 + 2), finished("r1", T0 + 3, RunStatus.FAILED, "worker died")])
    f = store.latest_facts()[key("src")]
    assert (f.last_attempt_status, f.last_failure.message) == (AttemptStatus.FAILED, "worker died")
    assert f.last_observation_checked_at == T0 + 2


# --- alerts ------------------------------------------------------------------------------------


def test_alert_state_is_the_latest_transition_per_rule_and_asset(store):
    store.write([transition("overdue", "a", AlertState.FIRING, T0), transition("overdue", "b", AlertState.FIRING, T0),
                 transition("failing", "a", AlertState.FIRING, T0 + 1)])
    store.write([transition("overdue", "a", AlertState.RESOLVED, T0 + 10, detail="fresh again")])
    states = store.alert_states()
    assert {k: (v.state, v.timestamp) for k, v in states.items()} == {
        ("overdue", key("a")): (AlertState.RESOLVED, T0 + 10),
        ("overdue", key("b")): (AlertState.FIRING, T0),
        ("failing", key("a")): (AlertState.FIRING, T0 + 1),
    }
    assert states[("overdue", key("a"))].detail == "fresh again"
    store.write([transition("overdue", "a", AlertState.FIRING, T0 + 20),
                 transition("overdue", "a", AlertState.RESOLVED, T0 + 21)])
    assert store.alert_states()[("overdue", key("a"))].timestamp == T0 + 21
    with store.engines.read.connect() as conn:
        row = conn.execute(text("SELECT state, since FROM alert_state WHERE rule = 'overdue' AND asset_key = 'a'"))
        assert tuple(row.one()) == ("resolved", T0 + 21)
        conn.rollback()


def test_alert_states_see_writes_from_another_store(opener):
    reader, writer = opener(), opener()
    assert reader.alert_states() == {}
    writer.write([transition("overdue", "a", at=T0)])
    assert reader.alert_states()[("overdue", key("a"))].state is AlertState.FIRING
    writer.write([transition("overdue", "a", AlertState.RESOLVED, T0 + 1)])
    assert reader.alert_states()[("overdue", key("a"))].state is AlertState.RESOLVED


def test_alert_deliveries_are_newest_first(store):
    store.write([transition("overdue", "a", at=T0), delivery("overdue", "a", "slack", T0 + 1, ok=False),
                 delivery("overdue", "a", "slack", T0 + 2, attempt=2), delivery("overdue", "a", "email", T0 + 3)])
    store.write([started("r1", T0 + 4), delivery("failing", "b", "pager", T0 + 5)])
    deliveries = store.alert_deliveries()
    assert [(d.channel, d.attempt, d.ok) for d in deliveries] == [
        ("pager", 1, True), ("email", 1, True), ("slack", 2, True), ("slack", 1, False)]
    assert deliveries[-1].detail == "HTTP 500"
    assert [d.timestamp for d in store.alert_deliveries(limit=2)] == [T0 + 5, T0 + 3]
    assert store.alert_states().keys() == {("overdue", key("a"))}  # a delivery changes no state
