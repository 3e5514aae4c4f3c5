"""The event store contract, run on every backend (see ``conftest.py``)."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event
from storage_events import (
    T0,
    checked,
    finished,
    key,
    materialized,
    observed,
    started,
    step_started,
    step_succeeded,
    unchanged,
    whole_run,
)

from headwater.core.events import (
    AssetFailed,
    AssetMaterialized,
    ErrorInfo,
    InputRecord,
    InputState,
    LogMessage,
    RunStarted,
    RunStatus,
    SkipReason,
    StepFailed,
    StepSkipped,
)
from headwater.core.records import AttemptStatus, StepStatus
from headwater.errors import StorageError

# --- round trip -------------------------------------------------------------------------


def test_every_event_type_round_trips(store):
    err = ErrorInfo(message="boom", type_name="ValueError", traceback="Traceback ...\nValueError: boom")
    events = [
        RunStarted(run_id="r1", timestamp=T0, selection="sales/*", asset_keys=(key("sales/a"), key("sales/b")),
                   tags={"team": "data"}, parent_run_id="r0", executor="multiprocess", pid=4242, host="box",
                   location="pipeline.py"),
        step_started("r1", "sales/a", at=T0 + 1),
        LogMessage(run_id="r1", timestamp=T0 + 1.5, step_key="sales/a", level="warning", message="slow ünïcode"),
        AssetMaterialized(
            run_id="r1", timestamp=T0 + 2, step_key="sales/a", key=key("sales/a"), partition="",
            code_version="c7", data_version="d9", data_time=T0 - 100,
            inputs=(InputRecord(key("raw/x"), "s1", T0 - 200, InputState.STALE, "raw/x is overdue", True),),
            deps=(key("raw/x"),), metadata={"rows": 12, "nested": {"a": [1, 2.5, None, "x"]}},
            value_ref="file:///tmp/a.parquet", duration=0.25),
        step_succeeded("r1", "sales/a", at=T0 + 3),
        StepFailed(run_id="r1", timestamp=T0 + 4, step_key="sales/b", asset_keys=(key("sales/b"),), attempt=2,
                   error=err, will_retry=False, duration=1.5),
        AssetFailed(run_id="r1", timestamp=T0 + 4.5, step_key="multi", key=key("sales/c"), error=err),
        StepSkipped(run_id="r1", timestamp=T0 + 5, step_key="sales/d", asset_keys=(key("sales/d"),),
                    reason=SkipReason.UPSTREAM_FAILED, detail="sales/b failed"),
        observed("raw/x", at=T0 + 6),
        finished("r1", T0 + 7, RunStatus.FAILED, "sales/b failed"),
    ]
    store.write(events)

    stored = store.run_events("r1")
    # the observation has no run, so the run's log has everything else, in write order
    assert [s.event for s in stored] == [e for e in events if e.run_id == "r1"]
    assert [s.id for s in stored] == sorted(s.id for s in stored)
    assert len({s.id for s in stored}) == len(stored)
    families = [s.extra["family"] for s in stored]
    assert families == ["asset" if isinstance(s.event, AssetMaterialized) else "run" for s in stored]

    [mat] = store.materializations(key("sales/a"))
    assert mat.event == events[3]
    assert mat.event.inputs[0].state is InputState.STALE
    assert mat.event.metadata["nested"] == {"a": [1, 2.5, None, "x"]}
    [obs] = store.observations(key("raw/x"))
    assert obs.event == events[8]
    assert obs.extra["family"] == "asset"


def test_empty_write_is_a_no_op(store):
    store.write([])
    assert store.list_runs() == []
    assert store.latest_facts() == {}


# --- runs and steps ---------------------------------------------------------------------


def test_run_started_and_finished_make_the_run_record(store):
    store.write([started("r1", T0, selection="a*", asset_keys=(key("a"),), tags={"k": "v"}, executor="in_process",
                         pid=12, host="h", location="p.py", parent_run_id="r0")])
    run = store.get_run("r1")
    assert run is not None
    assert (run.status, run.created_at, run.started_at, run.ended_at) == (RunStatus.STARTED, T0, T0, None)
    assert (run.selection, run.asset_keys, dict(run.tags)) == ("a*", (key("a"),), {"k": "v"})
    assert (run.executor, run.pid, run.host, run.location, run.parent_run_id) == ("in_process", 12, "h", "p.py", "r0")

    store.write([finished("r1", T0 + 5, RunStatus.SUCCEEDED, "all done")])
    run = store.get_run("r1")
    assert (run.status, run.ended_at, run.reason, run.duration) == (RunStatus.SUCCEEDED, T0 + 5, "all done", 5)
    assert store.get_run("nope") is None


def test_first_run_finished_wins_across_writes(store):
    store.write([started("r1"), finished("r1", T0 + 1, RunStatus.FAILED, "worker died")])
    store.write([finished("r1", T0 + 2, RunStatus.SUCCEEDED, "late success")])
    run = store.get_run("r1")
    assert (run.status, run.reason, run.ended_at) == (RunStatus.FAILED, "worker died", T0 + 1)
    ends = [s.event for s in store.run_events("r1") if s.event.type_name == "run_finished"]
    assert len(ends) == 1 and ends[0].reason == "worker died"


def test_first_run_finished_wins_within_one_batch(store):
    store.write([started("r1"), finished("r1", T0 + 1, RunStatus.CANCELED, "user"),
                 finished("r1", T0 + 2, RunStatus.FAILED, "reaper")])
    assert store.get_run("r1").status is RunStatus.CANCELED
    assert [s.event.type_name for s in store.run_events("r1")] == ["run_started", "run_finished"]


def test_run_started_after_the_end_does_not_revive_the_run(store):
    store.write([finished("r1", T0 + 1, RunStatus.CANCELED, "canceled before start")])
    store.write([started("r1", T0)])
    run = store.get_run("r1")
    assert run.status is RunStatus.CANCELED
    assert run.started_at == T0


def test_step_lifecycle(store):
    err = ErrorInfo("flaky", "IOError")
    store.write([started("r1"), step_started("r1", "a", at=T0 + 1)])
    [s] = store.run_steps("r1")
    assert (s.status, s.attempt, s.started_at, s.asset_keys) == (StepStatus.STARTED, 1, T0 + 1, (key("a"),))

    store.write([StepFailed(run_id="r1", timestamp=T0 + 2, step_key="a", asset_keys=(key("a"),), error=err,
                            will_retry=True)])
    [s] = store.run_steps("r1")
    assert (s.status, s.error) == (StepStatus.RETRYING, err)

    store.write([step_started("r1", "a", at=T0 + 3, attempt=2), step_succeeded("r1", "a", at=T0 + 4, attempt=2)])
    [s] = store.run_steps("r1")
    assert (s.status, s.attempt, s.started_at, s.ended_at, s.error) == (StepStatus.SUCCEEDED, 2, T0 + 3, T0 + 4, None)


def test_run_steps_are_in_start_order(store):
    store.write([started("r1"), step_started("r1", "z", at=T0 + 1), step_started("r1", "a", at=T0 + 2),
                 StepSkipped(run_id="r1", timestamp=T0 + 3, step_key="m", asset_keys=(key("m"),),
                             reason=SkipReason.UP_TO_DATE, detail="current")])
    assert [s.step_key for s in store.run_steps("r1")] == ["z", "a", "m"]
    skipped = store.run_steps("r1")[2]
    assert (skipped.status, skipped.detail) == (StepStatus.SKIPPED, "current")


def test_list_runs_newest_first_with_filters_and_paging(store):
    for i in range(5):
        store.write([started(f"r{i}", T0 + i)])
    store.write([finished("r1", T0 + 10, RunStatus.FAILED), finished("r3", T0 + 10, RunStatus.SUCCEEDED)])
    assert [r.run_id for r in store.list_runs()] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.run_id for r in store.list_runs(limit=2)] == ["r4", "r3"]
    assert [r.run_id for r in store.list_runs(before_created_at=T0 + 3)] == ["r2", "r1", "r0"]
    assert [r.run_id for r in store.list_runs(statuses=[RunStatus.STARTED])] == ["r4", "r2", "r0"]
    assert [r.run_id for r in store.list_runs(statuses=[RunStatus.FAILED, RunStatus.SUCCEEDED])] == ["r3", "r1"]


# --- derived latest state ---------------------------------------------------------------


def test_step_started_marks_its_assets_running(store):
    store.write([started("r1"), step_started("r1", "multi", "a", "b", at=T0 + 1)])
    facts = store.latest_facts()
    for k in ("a", "b"):
        f = facts[key(k)]
        assert (f.last_attempt_status, f.last_attempt_run_id, f.last_attempt_at) == (AttemptStatus.RUNNING, "r1", T0 + 1)
        assert f.last_materialization is None


def test_materialization_becomes_the_latest(store):
    store.write(whole_run("r1", ["a"], T0))
    store.write(whole_run("r2", ["a"], T0 + 100))
    f = store.latest_facts()[key("a")]
    assert f.last_materialization.run_id == "r2"
    assert f.last_materialization == store.materializations(key("a"))[0].event
    assert (f.last_attempt_status, f.last_attempt_run_id) == (AttemptStatus.SUCCEEDED, "r2")


def test_step_succeeded_only_settles_its_own_running_attempt(store):
    store.write([started("r1"), started("r2"), step_started("r1", "a", at=T0 + 1),
                 step_started("r2", "a", at=T0 + 2), step_succeeded("r1", "a", at=T0 + 3)])
    f = store.latest_facts()[key("a")]
    assert (f.last_attempt_status, f.last_attempt_run_id) == (AttemptStatus.RUNNING, "r2")
    store.write([step_succeeded("r2", "a", at=T0 + 4)])
    f = store.latest_facts()[key("a")]
    assert (f.last_attempt_status, f.last_attempt_at) == (AttemptStatus.SUCCEEDED, T0 + 4)


def test_step_failed_fails_its_assets_unless_it_will_retry(store):
    err = ErrorInfo("no table", "KeyError")
    store.write([started("r1"), step_started("r1", "multi", "a", "b", at=T0 + 1),
                 materialized("r1", "a", at=T0 + 2),
                 StepFailed(run_id="r1", timestamp=T0 + 3, step_key="multi", asset_keys=(key("b"),), error=err,
                            will_retry=True)])
    facts = store.latest_facts()
    assert facts[key("a")].last_attempt_status is AttemptStatus.SUCCEEDED
    assert facts[key("b")].last_attempt_status is AttemptStatus.RUNNING
    assert facts[key("b")].last_failure is None

    store.write([StepFailed(run_id="r1", timestamp=T0 + 4, step_key="multi", asset_keys=(key("b"),), error=err)])
    facts = store.latest_facts()
    assert facts[key("a")].last_attempt_status is AttemptStatus.SUCCEEDED
    b = facts[key("b")]
    assert (b.last_attempt_status, b.last_failure, b.last_attempt_at) == (AttemptStatus.FAILED, err, T0 + 4)
    [step] = store.run_steps("r1")
    assert (step.status, step.error, step.ended_at) == (StepStatus.FAILED, err, T0 + 4)


@pytest.mark.parametrize("reason", [SkipReason.UPSTREAM_FAILED, SkipReason.CANCELED])
def test_skipping_for_failure_or_cancel_records_an_attempt(store, reason):
    store.write(whole_run("r0", ["a"], T0))
    store.write([started("r1", T0 + 50), StepSkipped(run_id="r1", timestamp=T0 + 51, step_key="a",
                                                     asset_keys=(key("a"),), reason=reason, detail="x failed")])
    f = store.latest_facts()[key("a")]
    assert (f.last_attempt_status, f.last_attempt_run_id, f.last_attempt_at) == (AttemptStatus.SKIPPED, "r1", T0 + 51)
    assert f.last_materialization.run_id == "r0"
    [step] = store.run_steps("r1")
    assert (step.status, step.detail) == (StepStatus.SKIPPED, "x failed")


def test_skipping_an_up_to_date_asset_records_no_attempt(store):
    store.write(whole_run("r0", ["a"], T0))
    before = store.latest_facts()[key("a")]
    store.write([started("r1", T0 + 50), StepSkipped(run_id="r1", timestamp=T0 + 51, step_key="a",
                                                     asset_keys=(key("a"), key("new")), reason=SkipReason.UP_TO_DATE)])
    facts = store.latest_facts()
    assert facts[key("a")] == before
    assert key("new") not in facts


def test_asset_failed_fails_that_asset_and_partition(store):
    err = ErrorInfo("model broke")
    store.write([started("r1"), step_started("r1", "dbt", "m1", "m2", at=T0 + 1),
                 AssetFailed(run_id="r1", timestamp=T0 + 2, step_key="dbt", key=key("m1"), error=err),
                 AssetFailed(run_id="r1", timestamp=T0 + 2, step_key="dbt", key=key("m2"), partition="2024-01-01",
                             error=err)])
    facts = store.latest_facts()
    assert (facts[key("m1")].last_attempt_status, facts[key("m1")].last_failure) == (AttemptStatus.FAILED, err)
    assert facts[key("m2")].last_attempt_status is AttemptStatus.RUNNING
    assert store.latest_facts(partition="2024-01-01")[key("m2")].last_attempt_status is AttemptStatus.FAILED


def test_failed_run_fails_what_it_left_open(store):
    store.write([started("r1"), started("other"), step_started("other", "x", at=T0),
                 step_started("r1", "done", at=T0 + 1), step_succeeded("r1", "done", at=T0 + 2),
                 step_started("r1", "busy", at=T0 + 3),
                 StepFailed(run_id="r1", timestamp=T0 + 4, step_key="flaky", asset_keys=(key("flaky"),),
                            error=ErrorInfo("try again"), will_retry=True)])
    store.write([finished("r1", T0 + 10, RunStatus.FAILED, "worker 4242 died")])

    steps = {s.step_key: s for s in store.run_steps("r1")}
    assert steps["done"].status is StepStatus.SUCCEEDED
    for name in ("busy", "flaky"):
        assert steps[name].status is StepStatus.FAILED
        assert steps[name].error.message == "worker 4242 died"
        assert steps[name].ended_at == T0 + 10
    facts = store.latest_facts()
    assert facts[key("done")].last_attempt_status is AttemptStatus.SUCCEEDED
    busy = facts[key("busy")]
    assert (busy.last_attempt_status, busy.last_failure.message) == (AttemptStatus.FAILED, "worker 4242 died")
    assert facts[key("x")].last_attempt_status is AttemptStatus.RUNNING  # another run's attempt
    assert store.run_steps("other")[0].status is StepStatus.STARTED


def test_failed_run_in_the_same_batch_as_its_steps(store):
    store.write([started("r1"), step_started("r1", "a", at=T0 + 1),
                 finished("r1", T0 + 2, RunStatus.FAILED, "boom"), step_succeeded("r1", "a", at=T0 + 3)])
    assert store.run_steps("r1")[0].status is StepStatus.SUCCEEDED  # the later step event still applies
    assert store.latest_facts()[key("a")].last_attempt_status is AttemptStatus.FAILED  # not running any more


def test_canceled_run_cancels_what_it_left_open(store):
    store.write([started("r1"), step_started("r1", "a", at=T0 + 1)])
    store.write([finished("r1", T0 + 2, RunStatus.CANCELED, "user pressed stop")])
    [step] = store.run_steps("r1")
    assert (step.status, step.error.message) == (StepStatus.CANCELED, "user pressed stop")
    f = store.latest_facts()[key("a")]
    assert (f.last_attempt_status, f.last_failure) == (AttemptStatus.CANCELED, None)


def test_a_run_that_already_ended_fails_nothing_more(store):
    store.write([started("r1"), step_started("r1", "a", at=T0 + 1), finished("r1", T0 + 2)])
    store.write([finished("r1", T0 + 3, RunStatus.FAILED, "reaper")])
    assert store.run_steps("r1")[0].status is StepStatus.STARTED
    assert store.latest_facts()[key("a")].last_attempt_status is AttemptStatus.RUNNING


def test_observation_is_kept_beside_the_materialization(store):
    store.write(whole_run("r1", ["src"], T0))
    store.write([observed("src", T0 + 5, "s1"), observed("src", T0 + 6, "s2")])
    f = store.latest_facts()[key("src")]
    assert f.last_observation.data_version == "s2"
    assert f.last_materialization.run_id == "r1"
    assert f.last_attempt_status is AttemptStatus.SUCCEEDED


def test_partitions_are_kept_apart(store):
    store.write([materialized("r1", "daily", T0, "v-jan", partition="2024-01"),
                 materialized("r1", "daily", T0 + 1, "v-feb", partition="2024-02")])
    assert store.latest_facts() == {}
    assert store.latest_facts(partition="2024-01")[key("daily")].last_materialization.data_version == "v-jan"
    assert [m.event.data_version for m in store.materializations(key("daily"), partition="2024-02")] == ["v-feb"]


# --- latest_facts ------------------------------------------------------------------------


def _count_selects(store):
    counter = {"n": 0}

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        if statement.lstrip().upper().startswith("SELECT"):
            counter["n"] += 1

    sa_event.listen(store.engines.read, "before_cursor_execute", count)
    return counter


def test_latest_facts_for_many_assets_is_one_query(store):
    names = [f"group{i % 7}/asset_{i}" for i in range(1200)]
    store.write([materialized("r1", n, T0 + i, f"v{i}", inputs=(names[i - 1],) if i else ())
                 for i, n in enumerate(names)])
    counter = _count_selects(store)

    facts = store.latest_facts()
    assert counter["n"] == 1
    assert len(facts) == 1200
    assert facts[key("group3/asset_10")].last_materialization.data_version == "v10"
    assert facts[key("group3/asset_10")].last_materialization.inputs[0].key == key("group2/asset_9")

    some = store.latest_facts([key(n) for n in names[:5]] + [key("unknown/asset")])
    assert counter["n"] == 2
    assert set(some) == {key(n) for n in names[:5]}

    many = store.latest_facts(key(n) for n in names[100:1100])  # more keys than fit one IN (...)
    assert counter["n"] == 3
    assert set(many) == {key(n) for n in names[100:1100]}


def test_latest_facts_sees_writes_from_another_store(opener):
    reader, writer = opener(), opener()
    writer.write(whole_run("r1", ["a", "b"]))
    assert reader.latest_facts()[key("a")].last_materialization.run_id == "r1"
    writer.write([started("r2", T0 + 50), step_started("r2", "a", at=T0 + 51)])
    a = reader.latest_facts()[key("a")]
    assert (a.last_attempt_status, a.last_materialization.run_id) == (AttemptStatus.RUNNING, "r1")
    writer.write(whole_run("r3", ["a"], T0 + 100))
    assert reader.latest_facts()[key("a")].last_materialization.run_id == "r3"


def test_a_repeated_read_fetches_only_the_payloads_that_changed(opener, store_url):
    reader, writer = opener(), opener()
    names = [f"g/asset_{i}" for i in range(30)]
    writer.write([materialized("r1", n, T0 + i, f"v{i}") for i, n in enumerate(names)]
                 + [observed("src", T0, "s1")])
    first = reader.latest_facts()
    counter = _count_selects(reader)
    writer.write([materialized("r2", names[3], T0 + 100, "new"), step_started("r2", names[4], at=T0 + 100),
                  unchanged("src", T0 + 100), observed("src2", T0 + 100, "t1")])
    again = reader.latest_facts()
    # SQLite: the scan without payloads, then the payloads of the two rows with new events
    assert counter["n"] == (2 if store_url.startswith("sqlite") else 1)
    assert again[key(names[3])].last_materialization.data_version == "new"
    assert again[key(names[4])].last_attempt_status is AttemptStatus.RUNNING
    assert again[key(names[4])].last_materialization is first[key(names[4])].last_materialization  # reused
    assert again[key("src")].last_observation_checked_at == T0 + 100
    assert again[key("src2")].last_observation.data_version == "t1"
    assert again[key(names[5])] is first[key(names[5])]
    assert reader.latest_facts() == again and counter["n"] == (3 if store_url.startswith("sqlite") else 2)


def test_reads_stay_whole_when_the_decode_cache_overflows(opener, monkeypatch):
    from headwater.storage.sql import latest

    monkeypatch.setattr(latest, "_CACHE_LIMIT", 5)
    reader, writer = opener(), opener()
    writer.write([materialized("r1", f"a{i}", T0 + i, f"v{i}") for i in range(8)])
    for round_ in range(3):
        facts = reader.latest_facts()
        assert {str(k): f.last_materialization.data_version for k, f in facts.items()} == {
            f"a{i}": f"v{i}" if round_ == 0 or i else f"w{round_ - 1}" for i in range(8)}
        writer.write([materialized("r2", "a0", T0 + 10 + round_, f"w{round_}")])


# --- history and logs ------------------------------------------------------------------


def test_materialization_history_is_newest_first_and_pages(store):
    store.write([materialized(f"r{i}", "a", T0 + i, f"v{i}") for i in range(7)])
    store.write([materialized("x", "other", T0)])
    page1 = store.materializations(key("a"), limit=3)
    assert [m.event.data_version for m in page1] == ["v6", "v5", "v4"]
    page2 = store.materializations(key("a"), limit=3, before_id=page1[-1].id)
    assert [m.event.data_version for m in page2] == ["v3", "v2", "v1"]
    page3 = store.materializations(key("a"), limit=3, before_id=page2[-1].id)
    assert [m.event.data_version for m in page3] == ["v0"]
    assert store.materializations(key("missing")) == []
    assert store.observations(key("a")) == []


def test_observation_history_is_newest_first(store):
    store.write([observed("src", T0 + i, f"s{i}") for i in range(4)])
    assert [o.event.data_version for o in store.observations(key("src"), limit=2)] == ["s3", "s2"]


def test_run_events_merge_both_families_and_page_with_one_cursor(store):
    store.write(whole_run("r1", ["a", "b"]))
    store.write(whole_run("r2", ["c"], T0 + 50))
    store.write([LogMessage(run_id="r1", timestamp=T0 + 60, message="late log"),
                 materialized("r1", "late", T0 + 61)])
    everything = store.run_events("r1")
    names = [s.event.type_name for s in everything]
    assert names == ["run_started", "step_started", "materialization", "step_succeeded", "step_started",
                     "materialization", "step_succeeded", "run_finished", "log", "materialization"]
    assert all(s.event.run_id == "r1" for s in everything)

    seen = []
    cursor = 0
    while batch := store.run_events("r1", after_id=cursor, limit=3):
        seen += batch
        cursor = batch[-1].id
    assert seen == everything
    assert store.run_events("r1", after_id=everything[-1].id) == []
    assert store.run_events("unknown") == []


def test_last_event_id_moves_with_every_write_of_either_family(store):
    assert store.last_event_id() == 0
    store.write([started("r1")])                          # a run event
    after_run = store.last_event_id()
    assert after_run == store.run_events("r1")[-1].id
    store.write([materialized(None, "a", T0 + 1)])        # an asset event, outside any run
    after_asset = store.last_event_id()
    assert after_asset > after_run
    assert after_asset == store.materializations(key("a"))[0].id
    store.write([finished("r1", T0 + 2), finished("r1", T0 + 3)])  # the second end is dropped
    assert store.last_event_id() == after_asset + 1
    store.write([finished("r1", T0 + 4)])                 # dropped whole: nothing was written
    assert store.last_event_id() == after_asset + 1


def test_assets_changed_since_names_every_asset_a_later_write_changed(store):
    store.write([started("r1"), step_started("r1", "a"), materialized("r1", "a", T0 + 1)])
    mark = store.last_event_id()
    assert store.assets_changed_since(mark) == set()
    store.write([step_started("r1", "b")])  # b running: its latest row changed
    assert store.assets_changed_since(mark) == {key("b")}
    store.write([checked("c", "ok", run_id=None)])  # a check result only
    store.write([materialized("r1", "d", T0 + 2, partition="p1")])  # another partition: not ''
    assert store.assets_changed_since(mark) == {key("b"), key("c")}
    assert store.assets_changed_since(mark, "p1") == {key("d")}
    before_end = store.last_event_id()
    store.write([finished("r1", T0 + 3, status=RunStatus.FAILED)])  # a run event that fails b, left running
    assert store.assets_changed_since(before_end) == {key("b")}
    later = store.last_event_id()
    assert store.assets_changed_since(later) == set()
    assert store.assets_changed_since(0) == {key("a"), key("b"), key("c")}


# --- failures change nothing --------------------------------------------------------------


def test_an_event_that_cannot_be_serialized_stores_nothing(store):
    loop: dict = {}
    loop["self"] = loop
    batch = [started("r1"), step_started("r1", "a"), materialized("r1", "a", metadata={"loop": loop})]
    with pytest.raises(StorageError, match="event 'materialization' of run 'r1' for asset 'a'"):
        store.write(batch)
    assert store.get_run("r1") is None
    assert store.run_events("r1") == []
    assert store.latest_facts() == {}


def test_a_write_that_fails_half_way_in_the_database_stores_nothing(store):
    store.write(whole_run("r0", ["a"]))
    before = store.latest_facts()
    # the events insert fine; the derived run row then overflows a 64-bit column
    batch = [materialized("r1", "a", T0 + 10, "v-new"), step_started("r1", "b", at=T0 + 11),
             started("r1", T0 + 12, pid=2**70)]
    with pytest.raises(StorageError):
        store.write(batch)
    assert store.get_run("r1") is None
    assert store.run_events("r1") == []
    assert store.latest_facts() == before
    store.write([started("r1", T0 + 12)])  # and the store is fine afterwards
    assert store.get_run("r1").status is RunStatus.STARTED


def test_bad_events_are_refused_by_name(store):
    with pytest.raises(StorageError, match="not a Headwater event"):
        store.write(["run_started"])  # type: ignore[list-item]
    with pytest.raises(StorageError, match="step_started.*needs a run id"):
        store.write([step_started(None, "a")])  # type: ignore[arg-type]


def test_a_closed_store_says_so(opener):
    store = opener()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.latest_facts()
    store.close()  # closing twice is fine


# --- many writers -------------------------------------------------------------------------


def test_first_end_wins_between_concurrent_writers(opener):
    import threading

    stores = [opener(), opener()]
    runs = [f"r{i}" for i in range(15)]
    stores[0].write([started(r) for r in runs])
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def end_all(store, reason: str) -> None:
        try:
            barrier.wait(timeout=10)
            for r in runs:
                store.write([finished(r, T0 + 1, RunStatus.FAILED, reason)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=end_all, args=(s, f"writer {i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for r in runs:
        ends = [s.event for s in stores[0].run_events(r) if s.event.type_name == "run_finished"]
        assert len(ends) == 1
        assert stores[1].get_run(r).reason == ends[0].reason
