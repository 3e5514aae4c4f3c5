"""The writer's shortcuts, on every backend: it reads only the rows a batch's rules read,
writes through prepared driver SQL, and still derives exactly what the rules say."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError, IntegrityError
from storage_events import (
    T0,
    finished,
    key,
    materialized,
    observed,
    started,
    step_started,
    step_succeeded,
    unchanged,
)

from headwater.core.events import AssetFailed, ErrorInfo, RunStatus, StepFailed
from headwater.core.records import AttemptStatus, StepStatus
from headwater.storage.sql.driver import Driver
from headwater.storage.sql.tables import runs

DERIVED = ("runs", "steps", "asset_latest", "check_latest", "alert_state", "instigator_state")


def _reads_of_derived_rows(store) -> list[str]:  # type: ignore[no-untyped-def]
    """The SELECTs of derived tables every later write issues (the next-id query reads none)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        text = statement.lstrip()
        if text.upper().startswith("SELECT") and any(f'FROM "{t}"' in text for t in DERIVED):
            seen.append(text)

    sa_event.listen(store.engines.write, "before_cursor_execute", record)
    return seen


def test_recording_a_step_reads_no_derived_row(store):
    store.write([started("r1", T0)])
    reads = _reads_of_derived_rows(store)
    store.write([step_started("r1", "a", at=T0 + 1)])
    store.write([materialized("r1", "a", T0 + 2), step_succeeded("r1", "a", at=T0 + 2)])
    assert reads == []
    [step] = store.run_steps("r1")
    assert step.status is StepStatus.SUCCEEDED and step.asset_keys == (key("a"),)
    facts = store.latest_facts()[key("a")]
    assert facts.last_attempt_status is AttemptStatus.SUCCEEDED
    assert facts.last_materialization.data_version == "v1"


def test_a_step_succeeding_alone_reads_its_assets_attempts_once(store):
    store.write([started("r1", T0), step_started("r1", "multi", "a", "b", at=T0 + 1)])
    reads = _reads_of_derived_rows(store)
    store.write([step_succeeded("r1", "multi", "a", "b", at=T0 + 2)])
    assert len(reads) == 1 and '"asset_latest"' in reads[0]
    facts = store.latest_facts()
    assert {k: f.last_attempt_status for k, f in facts.items()} == {
        key("a"): AttemptStatus.SUCCEEDED, key("b"): AttemptStatus.SUCCEEDED}


def test_a_step_ending_keeps_the_assets_it_started_with(store):
    """``asset_keys`` of a step is written when the row is new, never over a stored one."""
    store.write([started("r1", T0), step_started("r1", "multi", "a", "b", at=T0 + 1)])
    store.write([step_succeeded("r1", "multi", "a", at=T0 + 2)])
    store.write([StepFailed(run_id="r1", timestamp=T0 + 3, step_key="late", asset_keys=(key("c"),),
                            error=ErrorInfo("boom"))])
    steps = {s.step_key: s for s in store.run_steps("r1")}
    assert steps["multi"].asset_keys == (key("a"), key("b"))
    assert steps["multi"].status is StepStatus.SUCCEEDED
    assert steps["late"].asset_keys == (key("c"),) and steps["late"].status is StepStatus.FAILED


def test_a_retry_within_one_batch_keeps_the_first_assets(store):
    store.write([
        started("r1", T0),
        StepFailed(run_id="r1", timestamp=T0 + 1, step_key="s", asset_keys=(key("a"), key("b")),
                   error=ErrorInfo("flaky"), will_retry=True),
        StepFailed(run_id="r1", timestamp=T0 + 2, step_key="s", asset_keys=(key("a"),), attempt=2,
                   error=ErrorInfo("boom")),
    ])
    [step] = store.run_steps("r1")
    assert step.asset_keys == (key("a"), key("b")) and step.status is StepStatus.FAILED and step.attempt == 2


@pytest.mark.parametrize("touch", [
    lambda: observed("a", T0 + 2),
    lambda: unchanged("a", T0 + 2),
])
def test_a_failed_run_ends_attempts_whose_rows_the_batch_touched_without_reading(store, touch):
    """A rule that only writes some columns of a row leaves the others to be read by a later
    rule of the same batch: here the run's end must still see the asset's running attempt."""
    store.write([started("r1", T0), step_started("r1", "a", at=T0 + 1)])
    store.write([touch(), finished("r1", T0 + 3, RunStatus.FAILED, "worker died")])
    facts = store.latest_facts()[key("a")]
    assert facts.last_attempt_status is AttemptStatus.FAILED
    assert facts.last_failure.message == "worker died"
    assert store.run_steps("r1")[0].status is StepStatus.FAILED


def test_an_asset_failure_then_success_in_one_batch_is_settled_in_order(store):
    store.write([started("r1", T0), step_started("r1", "multi", "a", "b", at=T0 + 1)])
    store.write([AssetFailed(run_id="r1", timestamp=T0 + 2, step_key="multi", key=key("b"), error=ErrorInfo("x")),
                 materialized("r1", "a", T0 + 2), step_succeeded("r1", "multi", "a", "b", at=T0 + 3)])
    facts = store.latest_facts()
    assert facts[key("a")].last_attempt_status is AttemptStatus.SUCCEEDED
    assert facts[key("b")].last_attempt_status is AttemptStatus.FAILED  # not running: success leaves it


def test_ids_keep_growing_across_both_families_and_stores(opener):
    one, two = opener(), opener()
    one.write([started("r1", T0), step_started("r1", "a", at=T0 + 1)])
    two.write([materialized("r1", "a", T0 + 2), step_succeeded("r1", "a", at=T0 + 3)])
    one.write([finished("r1", T0 + 4)])
    ids = [e.id for e in one.run_events("r1")]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [e.event.type_name for e in one.run_events("r1")] == [
        "run_started", "step_started", "materialization", "step_succeeded", "run_finished"]


def test_driver_errors_come_out_as_sqlalchemy_errors(store):
    with store.engines.write.connect() as conn:
        db = Driver(conn)
        try:
            with pytest.raises(IntegrityError) as raised:  # runs.status is NOT NULL
                db.executemany(db.sql.insert(runs, ("run_id", "status")), [("r1", None)])
        finally:
            db.close()
            conn.rollback()
    assert isinstance(raised.value, DBAPIError) and raised.value.orig is not None


def test_statements_name_only_columns_the_table_has(store):
    with store.engines.write.connect() as conn:
        db = Driver(conn)
        try:
            with pytest.raises(KeyError):  # SQLite would read an unknown quoted name as a string
                db.sql.select(runs, ("no_such_column",), (("run_id", 0),))
        finally:
            db.close()
            conn.rollback()
