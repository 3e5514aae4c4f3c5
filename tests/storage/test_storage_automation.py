"""The event store contract for automation — queued runs and run keys, ticks, instigator state,
leases — run on every backend like ``test_storage_conformance.py`` (see ``conftest.py``)."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import text
from storage_events import T0, finished, key, queued, started, step_started, tick, toggled
from storage_workers import race_for_keys_and_leases

from headwater.core.events import (
    ErrorInfo,
    InstigatorToggled,
    LogMessage,
    RunQueued,
    RunStatus,
    TickRecorded,
    TickStatus,
)
from headwater.core.records import InstigatorState, StepStatus
from headwater.errors import StorageError


def _rows(store, sql: str) -> list[tuple]:
    with store.engines.read.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(sql))]
        conn.rollback()
    return rows


def _types(store, run_id: str) -> list[str]:
    return [s.event.type_name for s in store.run_events(run_id)]


# --- queued runs ------------------------------------------------------------------------------


def test_run_queued_makes_a_queued_run_with_everything_it_asked_for(store):
    event = RunQueued(run_id="r1", timestamp=T0, selection="sales/*", asset_keys=(key("sales/a"), key("sales/b")),
                      tags={"team": "data"}, run_key="daily:2024-01-01", origin="schedule:daily", mode="stale",
                      location='{"module": "pipeline"}', parent_run_id="r0")
    store.write([event])
    run = store.get_run("r1")
    assert (run.status, run.created_at, run.started_at, run.ended_at, run.duration) == (
        RunStatus.QUEUED, T0, None, None, None)
    assert (run.selection, run.asset_keys, dict(run.tags)) == ("sales/*", (key("sales/a"), key("sales/b")),
                                                               {"team": "data"})
    assert (run.run_key, run.origin, run.mode, run.location, run.parent_run_id) == (
        "daily:2024-01-01", "schedule:daily", "stale", '{"module": "pipeline"}', "r0")
    assert store.run_for_key("daily:2024-01-01") == run
    assert store.run_for_key("daily:2024-01-02") is None
    assert store.list_runs(statuses=[RunStatus.QUEUED]) == [run] == store.queued_runs()
    [stored] = store.run_events("r1")
    assert (stored.event, stored.extra["family"]) == (event, "run")


def test_a_run_started_without_a_queue_has_the_default_automation_fields(store):
    store.write([started("r1")])
    run = store.get_run("r1")
    assert (run.run_key, run.origin, run.mode) == (None, "", "all")
    assert store.queued_runs() == []


def test_a_run_key_is_queued_once_across_writes(store):
    store.write([queued("r1", T0, "k", origin="sensor:s", tags={"first": "yes"})])
    store.write([queued("r2", T0 + 1, "k", origin="automation")])  # a restarted daemon asks again
    assert store.run_for_key("k").run_id == "r1"
    assert store.run_for_key("k").origin == "sensor:s"
    assert store.get_run("r2") is None
    assert store.run_events("r2") == []  # dropped entirely: not even the event is stored
    assert [r.run_id for r in store.list_runs()] == ["r1"]


def test_a_run_key_is_queued_once_within_a_batch(store):
    store.write([queued("r1", T0, "k"), queued("r2", T0 + 1, "k"), queued("r3", T0 + 2, "other"),
                 queued("r4", T0 + 3), queued("r5", T0 + 4)])  # no key: never a duplicate
    assert [r.run_id for r in store.queued_runs()] == ["r1", "r3", "r4", "r5"]
    assert (store.run_for_key("k").run_id, store.run_for_key("other").run_id) == ("r1", "r3")
    ids = [e.id for r in ("r1", "r3", "r4", "r5") for e in store.run_events(r)]
    assert ids == list(range(ids[0], ids[0] + 4)), "a dropped event takes no id"


def test_an_empty_run_key_is_no_key(store):
    store.write([queued("r1", T0, ""), queued("r2", T0 + 1, "")])
    assert [(r.run_id, r.run_key) for r in store.queued_runs()] == [("r1", None), ("r2", None)]
    assert store.run_for_key("") is None


def test_queueing_a_known_run_again_is_dropped(store):
    store.write([queued("r1", T0, tags={"try": "1"})])
    store.write([queued("r1", T0 + 1, tags={"try": "2"})])  # a retried request
    store.write([started("r2", T0 + 2), queued("r2", T0 + 3, "k2")])  # already running
    assert (dict(store.get_run("r1").tags), store.get_run("r1").created_at) == ({"try": "1"}, T0)
    assert _types(store, "r1") == ["run_queued"]
    assert (store.get_run("r2").status, store.get_run("r2").run_key) == (RunStatus.STARTED, None)
    assert store.run_for_key("k2") is None
    assert _types(store, "r2") == ["run_started"]


def test_queued_started_finished_keeps_what_was_queued(store):
    store.write([queued("r1", T0, "k", selection="sales/*", asset_keys=(key("sales/a"),), tags={"a": "1"},
                        origin="schedule:daily", mode="stale", location="loc", parent_run_id="r0")])
    # the launcher claims it, then the worker reports in
    store.write([started("r1", T0 + 5, executor="queued", host="daemon-host", tags={"b": "2"})])
    run = store.get_run("r1")
    assert (run.status, run.created_at, run.started_at, run.executor, run.host, run.pid) == (
        RunStatus.STARTED, T0, T0 + 5, "queued", "daemon-host", None)
    assert (run.selection, run.asset_keys, dict(run.tags), run.location, run.parent_run_id) == (
        "sales/*", (key("sales/a"),), {"a": "1", "b": "2"}, "loc", "r0")
    assert (run.run_key, run.origin, run.mode) == ("k", "schedule:daily", "stale")
    assert store.queued_runs() == []

    store.write([started("r1", T0 + 6, executor="multiprocess", pid=4242, host="worker-host",
                         asset_keys=(key("sales/a"), key("sales/b")), tags={"a": "x"}),
                 step_started("r1", "sales/a", at=T0 + 7)])
    run = store.get_run("r1")
    assert (run.started_at, run.executor, run.pid, run.host) == (T0 + 6, "multiprocess", 4242, "worker-host")
    assert (run.asset_keys, dict(run.tags), run.selection) == ((key("sales/a"), key("sales/b")),
                                                               {"a": "x", "b": "2"}, "sales/*")

    store.write([finished("r1", T0 + 10, RunStatus.SUCCEEDED, "done")])
    run = store.get_run("r1")
    assert (run.status, run.created_at, run.ended_at, run.duration, run.reason) == (
        RunStatus.SUCCEEDED, T0, T0 + 10, 4, "done")
    assert store.run_for_key("k") == run
    store.write([queued("r2", T0 + 20, "k")])  # the key stays taken after the run ended
    assert store.get_run("r2") is None
    assert _types(store, "r1") == ["run_queued", "run_started", "run_started", "step_started", "run_finished"]


def test_queue_start_and_finish_in_one_batch(store):
    store.write([queued("r1", T0, "k", origin="cli"), started("r1", T0 + 1, executor="in_process"),
                 finished("r1", T0 + 2)])
    run = store.get_run("r1")
    assert (run.status, run.created_at, run.started_at, run.run_key, run.origin) == (
        RunStatus.SUCCEEDED, T0, T0 + 1, "k", "cli")


@pytest.mark.parametrize("status", [RunStatus.CANCELED, RunStatus.FAILED])
def test_a_queued_run_can_end_before_it_starts(store, status):
    store.write([queued("r1", T0, "k", origin="ui")])
    store.write([finished("r1", T0 + 3, status, "canceled by the user")])
    run = store.get_run("r1")
    assert (run.status, run.created_at, run.started_at, run.ended_at, run.reason) == (
        status, T0, None, T0 + 3, "canceled by the user")
    assert (run.run_key, run.origin, run.duration) == ("k", "ui", None)
    assert store.queued_runs() == []
    assert store.run_steps("r1") == []

    store.write([started("r1", T0 + 4, executor="multiprocess", pid=9)])  # a worker that lost the race
    run = store.get_run("r1")
    assert (run.status, run.reason, run.run_key, run.created_at) == (status, "canceled by the user", "k", T0)
    store.write([finished("r1", T0 + 5, RunStatus.SUCCEEDED)])  # the first end wins
    assert store.get_run("r1").status is status


def test_queued_runs_are_first_in_first_out_and_list_runs_newest_first(store):
    store.write([queued("b", T0 + 2)])
    store.write([queued("a", T0 + 1), queued("c", T0 + 3), queued("a2", T0 + 1)])  # clocks disagree
    store.write([queued("d", T0 + 4), started("d", T0 + 5)])
    store.write([queued(name, T0 + 9) for name in ("z", "m", "e")])  # a frozen clock: all tie
    assert [r.run_id for r in store.queued_runs()] == ["b", "a", "c", "a2", "z", "m", "e"]  # as committed
    assert [r.run_id for r in store.queued_runs(limit=2)] == ["b", "a"]
    assert store.queued_runs(limit=0) == []
    assert [r.run_id for r in store.list_runs(statuses=[RunStatus.QUEUED])] == ["z", "m", "e", "c", "b", "a2", "a"]
    assert [r.run_id for r in store.list_runs(limit=5)] == ["z", "m", "e", "d", "c"]
    store.write([finished("b", T0 + 6, RunStatus.CANCELED), started("z", T0 + 10)])
    assert [r.run_id for r in store.queued_runs()] == ["a", "c", "a2", "m", "e"]


def test_a_queued_run_left_by_a_step_is_not_revived(store):
    """Steps of a queued run (a worker that skipped RunStarted) change the steps, not the queue."""
    store.write([queued("r1", T0), step_started("r1", "a", at=T0 + 1)])
    assert store.get_run("r1").status is RunStatus.QUEUED
    assert store.run_steps("r1")[0].status is StepStatus.STARTED


def test_a_queued_run_needs_a_run_id(store):
    with pytest.raises(StorageError, match="run_queued.*needs a run id"):
        store.write([RunQueued(run_id=None, timestamp=T0, run_key="k")])
    assert store.run_for_key("k") is None


# --- ticks and instigator state ---------------------------------------------------------------


def test_ticks_round_trip_and_are_newest_first_per_instigator(store):
    full = tick("sensor:s", T0 + 1, TickStatus.FAILED, cursor="c1", tick_time=T0,
                error=ErrorInfo("boom", "ValueError", "Traceback ..."), run_keys=("k1",), run_ids=("r1",),
                skip_reason="", evaluations={"sales/a": {"requested": True, "why": ["missing"]}})
    store.write([tick("schedule:daily", T0), full, LogMessage(run_id="r9", timestamp=T0 + 2, message="x"),
                 toggled("sensor:s", False, T0 + 3)])
    store.write([tick("schedule:daily", T0 + 4, TickStatus.SKIPPED, skip_reason="not yet"),
                 tick("automation", T0 + 5)])
    store.write([tick("sensor:s", T0 + 6, TickStatus.SUCCESS)])

    assert [(t.instigator, t.timestamp) for t in store.ticks()] == [
        ("sensor:s", T0 + 6), ("automation", T0 + 5), ("schedule:daily", T0 + 4), ("sensor:s", T0 + 1),
        ("schedule:daily", T0)]
    assert [t.timestamp for t in store.ticks(limit=2)] == [T0 + 6, T0 + 5]
    assert [t.timestamp for t in store.ticks("schedule:daily")] == [T0 + 4, T0]
    assert store.ticks("sensor:s") == [tick("sensor:s", T0 + 6, TickStatus.SUCCESS), full]
    assert store.ticks("sensor:s")[1].evaluations["sales/a"]["why"] == ["missing"]
    assert [t.timestamp for t in store.ticks("sensor:s", limit=1)] == [T0 + 6]
    assert store.ticks("sensor:nope") == []
    assert store.ticks(limit=0) == []
    assert all(isinstance(t, TickRecorded) for t in store.ticks())
    # operational events, with no run; the instigator column is set for ticks and toggles only
    assert _rows(store, "SELECT type, instigator FROM run_events ORDER BY id") == [
        ("tick", "schedule:daily"), ("tick", "sensor:s"), ("log", None), ("instigator_toggled", "sensor:s"),
        ("tick", "schedule:daily"), ("tick", "automation"), ("tick", "sensor:s")]
    assert _rows(store, "SELECT count(*) FROM asset_events") == [(0,)]


def test_instigator_state_follows_the_latest_tick_and_keeps_the_cursor(store):
    assert store.instigator_states() == {}
    store.write([tick("sensor:s", T0, cursor="c1", tick_time=T0 - 5)])
    assert store.instigator_states() == {"sensor:s": InstigatorState(
        "sensor:s", enabled=None, last_tick_time=T0 - 5, last_status="success", cursor="c1")}

    store.write([tick("sensor:s", T0 + 10, TickStatus.FAILED, error=ErrorInfo("boom"))])  # no cursor, no tick_time
    state = store.instigator_states()["sensor:s"]
    assert (state.last_tick_time, state.last_status, state.cursor) == (T0 + 10, "failed", "c1")

    store.write([tick("sensor:s", T0 + 20, cursor="c2"), tick("sensor:s", T0 + 30, TickStatus.SKIPPED),
                 tick("schedule:daily", T0 + 40, tick_time=T0 + 36)])
    states = store.instigator_states()
    assert (states["sensor:s"].last_tick_time, states["sensor:s"].last_status, states["sensor:s"].cursor) == (
        T0 + 30, "skipped", "c2")
    assert states["schedule:daily"] == InstigatorState("schedule:daily", None, T0 + 36, "success", None)

    store.write([tick("sensor:s", T0 + 50, cursor="")])  # an empty cursor is a cursor
    assert store.instigator_states()["sensor:s"].cursor == ""


def test_instigators_are_toggled_on_and_off(store):
    store.write([toggled("schedule:daily", False, T0)])
    assert store.instigator_states() == {"schedule:daily": InstigatorState("schedule:daily", enabled=False)}
    store.write([tick("schedule:daily", T0 + 1, cursor="x")])
    assert store.instigator_states()["schedule:daily"] == InstigatorState(
        "schedule:daily", False, T0 + 1, "success", "x")  # a tick leaves the switch alone
    store.write([toggled("schedule:daily", True, T0 + 2), toggled("sensor:s", True, T0 + 2),
                 toggled("sensor:s", False, T0 + 3)])
    states = store.instigator_states()
    assert (states["schedule:daily"].enabled, states["schedule:daily"].cursor) == (True, "x")
    assert states["sensor:s"] == InstigatorState("sensor:s", enabled=False)
    assert store.ticks() == [tick("schedule:daily", T0 + 1, cursor="x")]  # toggles are not ticks


def test_ticks_and_toggles_need_an_instigator(store):
    with pytest.raises(StorageError, match="'tick'.*needs an instigator"):
        store.write([tick("sensor:ok", T0), tick("", T0)])
    with pytest.raises(StorageError, match="'instigator_toggled'.*needs an instigator"):
        store.write([InstigatorToggled(run_id=None, timestamp=T0, enabled=False)])
    assert (store.ticks(), store.instigator_states()) == ([], {})


# --- leases -----------------------------------------------------------------------------------


def test_a_lease_is_exclusive_until_it_expires(opener):
    a, b = opener(), opener()
    assert a.acquire_lease("daemon", "host-a:1", 30, T0) is True
    assert b.acquire_lease("daemon", "host-b:2", 30, T0 + 10) is False
    assert b.acquire_lease("daemon", "host-b:2", 30, T0 + 29.9) is False
    assert b.acquire_lease("other", "host-b:2", 30, T0 + 10) is True  # leases are independent
    assert b.acquire_lease("daemon", "host-b:2", 30, T0 + 30) is True  # expired: taken over
    assert a.acquire_lease("daemon", "host-a:1", 30, T0 + 31) is False  # and the old holder lost it
    assert b.acquire_lease("daemon", "host-b:2", 30, T0 + 59) is True  # renewed until T0 + 89
    assert a.acquire_lease("daemon", "host-a:1", 30, T0 + 88) is False
    assert a.acquire_lease("daemon", "host-a:1", 30, T0 + 89) is True


def test_a_lease_is_released_only_by_its_owner(store):
    assert store.acquire_lease("daemon", "me", 60, T0)
    store.release_lease("daemon", "someone-else")
    assert store.acquire_lease("daemon", "someone-else", 60, T0 + 1) is False
    store.release_lease("daemon", "me")
    assert store.acquire_lease("daemon", "someone-else", 60, T0 + 2) is True
    store.release_lease("never-taken", "me")  # nothing to release: fine


def test_a_lease_records_no_event(store):
    store.acquire_lease("daemon", "me", 60, T0)
    store.release_lease("daemon", "me")
    assert _rows(store, "SELECT count(*) FROM run_events") == [(0,)]
    assert _rows(store, "SELECT count(*) FROM leases") == [(0,)]


@pytest.mark.parametrize(("args", "message"), [
    (("", "me", 10, T0), "a lease needs a name"),
    (("daemon", "", 10, T0), "lease 'daemon': the owner must be"),
    (("daemon", "me", 0, T0), "lease 'daemon': the ttl must be a positive"),
    (("daemon", "me", float("nan"), T0), "the ttl must be"),
    (("daemon", "me", 10, float("inf")), "now must be a time"),
])
def test_bad_lease_requests_are_refused_by_name(store, args, message):
    with pytest.raises(StorageError, match=message):
        store.acquire_lease(*args)
    assert _rows(store, "SELECT count(*) FROM leases") == [(0,)]


# --- many processes ---------------------------------------------------------------------------


def test_two_processes_racing_queue_each_key_once_and_take_each_lease_once(opener, store_url):
    store = opener()  # creates the schema first: this test is about the race
    ctx = multiprocessing.get_context("spawn")
    rounds = 40
    step, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=race_for_keys_and_leases, args=(store_url, name, rounds, step, results))
               for name in ("w1", "w2")]
    for w in workers:
        w.start()
    try:
        outcomes = dict(results.get(timeout=90) for _ in workers)
    finally:
        for w in workers:
            w.join(timeout=30)
    assert {name: outcome[0] for name, outcome in outcomes.items()} == {"w1": "ok", "w2": "ok"}, outcomes

    runs = store.list_runs(limit=1000)
    assert sorted(r.run_key for r in runs) == sorted(f"key-{i}" for i in range(rounds))
    for i in range(rounds):
        run = store.run_for_key(f"key-{i}")
        assert run.run_id == f"{run.origin}-{i}"
    assert _rows(store, "SELECT count(*) FROM run_events WHERE type = 'run_queued'") == [(rounds,)]

    wins = list(zip(outcomes["w1"][1], outcomes["w2"][1]))
    assert all(w1 != w2 for w1, w2 in wins), "exactly one worker takes each lease"
    assert 0 < sum(outcomes["w1"][1]) < rounds, "each worker should have won some rounds: a real race"
    for i, (w1_won, _) in enumerate(wins):
        winner, loser = ("w1", "w2") if w1_won else ("w2", "w1")
        assert store.acquire_lease(f"lease-{i}", loser, 60.0, T0 + 1) is False
        assert store.acquire_lease(f"lease-{i}", winner, 60.0, T0 + 1) is True
