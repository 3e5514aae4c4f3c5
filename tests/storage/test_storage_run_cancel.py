"""Canceling a started run, as the store sees it (every backend, see ``conftest.py``): the
request is recorded on the run for its coordinator to read, and once the run has ended
nothing a step reports any more — a worker that finished regardless — changes the store
of such a worker (``drop_late_reports``, what Dask workers open)."""

from __future__ import annotations

import pytest
from storage_events import T0, finished, key, materialized, started, step_started, step_succeeded

from headwater.core.events import (
    CheckEvaluated,
    LogMessage,
    RunCancelRequested,
    RunQueued,
    RunStatus,
    SkipReason,
    StepFailed,
    StepSkipped,
)
from headwater.core.records import AttemptStatus, StepStatus
from headwater.storage.sql.store import open_store


@pytest.fixture
def worker_store(store, store_url):  # type: ignore[no-untyped-def]
    """A second store on the same database, as a Dask worker opens it."""
    opened = open_store(store_url, drop_late_reports=True)
    yield opened
    opened.close()


def cancel_request(run_id: str, at: float, reason: str = "stop it", by: str = "cli") -> RunCancelRequested:
    return RunCancelRequested(run_id=run_id, timestamp=at, reason=reason, requested_by=by)


def test_a_cancel_request_is_recorded_on_a_started_run_and_the_first_one_stands(store):
    store.write([started("r1", selection="*", asset_keys=(key("a"),), executor="dask", pid=7)])
    assert store.run_stop_state("r1") == (RunStatus.STARTED, None, "")
    store.write([cancel_request("r1", T0 + 5)])
    store.write([cancel_request("r1", T0 + 9, "again", by="ui")])
    assert store.run_stop_state("r1") == (RunStatus.STARTED, T0 + 5, "stop it")
    run = store.get_run("r1")
    assert (run.status, run.cancel_requested_at, run.cancel_reason) == (RunStatus.STARTED, T0 + 5, "stop it")
    assert (run.executor, run.pid, run.asset_keys) == ("dask", 7, (key("a"),))  # the rest of the row untouched
    requests = [s.event for s in store.run_events("r1") if isinstance(s.event, RunCancelRequested)]
    assert requests == [cancel_request("r1", T0 + 5), cancel_request("r1", T0 + 9, "again", by="ui")]
    assert store.run_stop_state("nope") is None


def test_a_cancel_request_for_an_unknown_or_ended_run_stores_nothing(store):
    store.write([started("r1"), finished("r1", T0 + 1)])
    before = store.last_event_id()
    store.write([cancel_request("r1", T0 + 2), cancel_request("ghost", T0 + 2)])
    assert store.last_event_id() == before
    assert store.run_stop_state("r1") == (RunStatus.SUCCEEDED, None, "")
    assert store.get_run("ghost") is None


def test_a_cancel_request_on_a_queued_run_is_kept_for_whoever_starts_it(store):
    store.write([RunQueued(run_id="q1", timestamp=T0, selection="a", asset_keys=(key("a"),))])
    store.write([cancel_request("q1", T0 + 1)])
    assert store.run_stop_state("q1") == (RunStatus.QUEUED, T0 + 1, "stop it")
    assert [r.run_id for r in store.queued_runs()] == ["q1"]  # still queued, until someone ends it


def test_the_coordinators_cancel_ends_started_steps_canceled_and_the_others_skipped(store):
    store.write([started("r1"), step_started("r1", "done", at=T0 + 1), materialized("r1", "done", at=T0 + 2),
                 step_succeeded("r1", "done", at=T0 + 2), step_started("r1", "busy", at=T0 + 3),
                 cancel_request("r1", T0 + 4)])
    why = "canceled on request"
    store.write([StepSkipped(run_id="r1", timestamp=T0 + 5, step_key=name, asset_keys=(key(name),),
                             reason=SkipReason.CANCELED, detail=why) for name in ("busy", "later")]
                + [finished("r1", T0 + 5, RunStatus.CANCELED, why)])
    steps = {s.step_key: s for s in store.run_steps("r1")}
    assert steps["done"].status is StepStatus.SUCCEEDED
    assert (steps["busy"].status, steps["busy"].detail, steps["busy"].ended_at) == (StepStatus.CANCELED, why, T0 + 5)
    assert steps["busy"].error.message == why
    assert (steps["later"].status, steps["later"].detail) == (StepStatus.SKIPPED, why)
    facts = store.latest_facts()
    assert facts[key("done")].last_materialization.run_id == "r1"  # what was made before the cancel stays
    assert facts[key("busy")].last_attempt_status is AttemptStatus.CANCELED
    assert facts[key("later")].last_attempt_status is AttemptStatus.SKIPPED
    run = store.get_run("r1")
    assert (run.status, run.reason, run.cancel_requested_at) == (RunStatus.CANCELED, why, T0 + 4)


def test_what_a_step_reports_after_its_run_ended_is_dropped_by_a_workers_store(store, worker_store):
    store.write(whole_run_before("a"))
    store.write([started("r1"), step_started("r1", "a", at=T0 + 101), finished("r1", T0 + 102, RunStatus.CANCELED,
                                                                              "canceled on request")])
    before = store.last_event_id()
    late = [step_started("r1", "b", at=T0 + 103), materialized("r1", "a", at=T0 + 104, version="late"),
            CheckEvaluated(run_id="r1", timestamp=T0 + 104, step_key="a", key=key("a"), check_name="c",
                           passed=True),
            step_succeeded("r1", "a", at=T0 + 105),
            StepFailed(run_id="r1", timestamp=T0 + 105, step_key="b", asset_keys=(key("b"),))]
    worker_store.write(late)
    worker_store.write([LogMessage(run_id="r1", timestamp=T0 + 106, step_key="a", message="worker still talking")])
    stored = [s.event for s in store.run_events("r1") if s.id > before]
    assert stored == [LogMessage(run_id="r1", timestamp=T0 + 106, step_key="a", message="worker still talking")]
    [step] = store.run_steps("r1")
    assert (step.step_key, step.status) == ("a", StepStatus.CANCELED)
    fact = store.latest_facts()[key("a")]
    assert fact.last_materialization.run_id == "r0" and fact.last_materialization.data_version == "v1"
    assert fact.last_attempt_status is AttemptStatus.CANCELED
    assert store.latest_check_results() == {}
    assert [m.event.run_id for m in store.materializations(key("a"))] == ["r0"]


def whole_run_before(asset: str) -> list:
    return [started("r0"), step_started("r0", asset, at=T0 + 1), materialized("r0", asset, at=T0 + 2),
            step_succeeded("r0", asset, at=T0 + 2), finished("r0", T0 + 3)]


def test_a_workers_store_records_a_running_runs_steps_as_any_store(store, worker_store):
    store.write([started("r1")])
    worker_store.write([step_started("r1", "a", at=T0 + 1), materialized("r1", "a", at=T0 + 2),
                        step_succeeded("r1", "a", at=T0 + 2)])
    assert [s.status for s in store.run_steps("r1")] == [StepStatus.SUCCEEDED]
    assert store.latest_facts()[key("a")].last_materialization.run_id == "r1"


def test_a_plain_store_still_records_what_comes_after_the_end(store):
    """The coordinator's own store never reports a step after the end it wrote itself: it
    reads nothing extra per write (test_storage_writer.py holds that)."""
    store.write([started("r1"), step_started("r1", "a", at=T0 + 1), finished("r1", T0 + 2, RunStatus.FAILED, "x"),
                 step_succeeded("r1", "a", at=T0 + 3)])
    assert store.run_steps("r1")[0].status is StepStatus.SUCCEEDED
