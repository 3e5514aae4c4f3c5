"""``ix_run_events_type_id`` holds only the events of no step (migration 0007): the reads by
type it serves (run ends, ticks, alert deliveries, retention) answer as before, and a
step's own events, which those reads never ask for, no longer go into it."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event
from storage_events import T0, delivery, finished, key, step_started, step_succeeded, tick, whole_run

from headwater.core.events import LogMessage, RunStatus, StepFailed
from headwater.core.retention import RetentionPolicy


def _mixed_log(store) -> None:  # type: ignore[no-untyped-def]
    """Runs with step events and step log lines, between ticks, alert deliveries and run ends."""
    store.write(whole_run("r1", ["a", "b"], T0))
    store.write([tick("schedule:daily", T0 + 10, cursor="c1"), delivery("overdue", "a", at=T0 + 11)])
    store.write([LogMessage(run_id="r2", timestamp=T0 + 12, step_key="a", message="hello"),
                 LogMessage(run_id="r2", timestamp=T0 + 12.5, step_key=None, message="run level")])
    store.write([step_started("r2", "a", at=T0 + 13),
                 StepFailed(run_id="r2", timestamp=T0 + 14, step_key="a", asset_keys=(key("a"),)),
                 finished("r2", T0 + 15, RunStatus.FAILED, "a failed")])
    store.write([tick("sensor:files", T0 + 16), delivery("overdue", "b", "email", at=T0 + 17, ok=False)])
    store.write(whole_run("r3", ["c"], T0 + 20))
    store.write([step_succeeded("r4", "x", at=T0 + 30), tick("schedule:daily", T0 + 31, cursor="c2")])


def test_the_reads_by_type_answer_as_before(store):
    _mixed_log(store)
    assert [(record.run_id, record.status) for _id, record in store.finished_runs()] == [
        ("r1", RunStatus.SUCCEEDED), ("r2", RunStatus.FAILED), ("r3", RunStatus.SUCCEEDED)]
    first_id = store.finished_runs()[0][0]
    assert [record.run_id for _id, record in store.finished_runs(after_id=first_id)] == ["r2", "r3"]
    assert [record.run_id for _id, record in store.finished_runs(after_id=first_id, limit=1)] == ["r2"]
    assert [(t.instigator, t.cursor) for t in store.ticks()] == [
        ("schedule:daily", "c2"), ("sensor:files", None), ("schedule:daily", "c1")]
    assert [t.cursor for t in store.ticks("schedule:daily", limit=1)] == ["c2"]
    assert [(d.channel, d.ok) for d in store.alert_deliveries()] == [("email", False), ("slack", True)]


def test_retention_still_finds_what_it_deletes_by_type(store):
    _mixed_log(store)
    policy = RetentionPolicy(logs=1.0, step_events=1.0, asset_facts=None, ticks=1.0)
    assert store.collect_garbage(policy, now=T0 + 1000, dry_run=True).rows == {
        "logs": 2, "step_events": 13, "ticks": 3, "step_rows": 4}
    assert store.collect_garbage(policy, now=T0 + 1000).rows == {
        "logs": 2, "step_events": 13, "ticks": 3, "step_rows": 4}
    assert [t.cursor for t in store.ticks()] == ["c2", None]  # each instigator's latest tick stays
    assert store.alert_deliveries() == []


def _type_index_entries(store) -> int:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(store.engines.path)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        try:
            return conn.execute("SELECT sum(ncell) FROM dbstat WHERE name = 'ix_run_events_type_id' "
                                "AND pagetype = 'leaf'").fetchone()[0]
        except sqlite3.OperationalError:  # a SQLite built without dbstat
            return conn.execute("SELECT count(*) FROM run_events INDEXED BY ix_run_events_type_id "
                                "WHERE type > '' AND step_key IS NULL").fetchone()[0]
    finally:
        conn.close()


def test_a_steps_own_events_are_not_indexed_by_type_and_the_reads_by_type_use_the_index(sqlite_url):
    from headwater.storage.sql.store import open_store

    with open_store(sqlite_url) as store:
        _mixed_log(store)
        conn = sqlite3.connect(store.engines.path)
        try:
            no_step = conn.execute("SELECT count(*) FROM run_events WHERE step_key IS NULL").fetchone()[0]
            total = conn.execute("SELECT count(*) FROM run_events").fetchone()[0]
        finally:
            conn.close()
        assert 0 < no_step < total
        assert _type_index_entries(store) == no_step

        statements: list[tuple[str, object]] = []
        event.listen(store.engines.read, "before_cursor_execute",
                     lambda _c, _cur, sql, params, _ctx, _many: statements.append((sql, params)))
        store.finished_runs()
        store.ticks()
        store.ticks("schedule:daily")
        store.alert_deliveries()
        by_type = [(sql, params) for sql, params in statements if "run_events.type =" in sql]
        assert len(by_type) == 4
        conn = sqlite3.connect(store.engines.path)
        try:
            for sql, params in by_type:
                plan = " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
                assert "ix_run_events_type_id" in plan or "ix_run_events_instigator_type_id" in plan, (sql, plan)
        finally:
            conn.close()


@pytest.mark.postgres
def test_the_postgresql_type_index_is_partial_too(pg_schema_url):
    from sqlalchemy import text

    from headwater.storage.sql.store import open_store

    with open_store(pg_schema_url) as store, store.engines.read.connect() as conn:
        definition = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_run_events_type_id' "
                                       "AND schemaname = current_schema()")).scalar()
        assert definition is not None and "WHERE (step_key IS NULL)" in definition
