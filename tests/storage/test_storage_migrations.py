"""Schema revisions: applied once, skipped when current, refused when newer, old files upgrade."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, inspect, table, text
from storage_events import (
    T0,
    checked,
    delivery,
    finished,
    key,
    materialized,
    observed,
    queued,
    started,
    tick,
    toggled,
    transition,
    unchanged,
    whole_run,
)

from headwater.core.events import (
    AlertState,
    AssetMaterialized,
    AssetObserved,
    CheckSeverity,
    Event,
    RunFinished,
    RunStarted,
    RunStatus,
    TickStatus,
    event_to_json,
    is_asset_event,
)
from headwater.core.records import AttemptStatus, InstigatorState, StepStatus
from headwater.errors import StorageError
from headwater.storage.sql import schema
from headwater.storage.sql.engines import create_engines
from headwater.storage.sql.store import open_store
from headwater.storage.sql.tables import metadata

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "db"
FIXTURE = FIXTURES / "schema_0001.sqlite"


def test_head_constant_is_the_newest_migration():
    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [schema.HEAD]


def test_migrations_build_exactly_the_declared_tables(store):
    with store.engines.write.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        conn.rollback()
    assert diff == []


def test_opening_a_current_database_runs_no_migration(opener, monkeypatch):
    calls = []
    real_upgrade = schema._upgrade
    monkeypatch.setattr(schema, "_upgrade", lambda conn: (calls.append(1), real_upgrade(conn)))
    store = opener()
    store.write(whole_run("r1", ["a"]))
    assert calls == [1]

    def fail(*_args):
        raise AssertionError("a current database must open without Alembic")

    monkeypatch.setattr(schema, "_upgrade", fail)
    monkeypatch.setattr(schema, "known_revisions", fail)
    again = opener()
    assert again.get_run("r1").status is RunStatus.SUCCEEDED


def test_a_database_from_a_newer_headwater_is_refused(opener):
    store = opener()
    with store.engines.write.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d0099'"))
    with pytest.raises(StorageError, match="'f00d0099', created by a newer Headwater"):
        opener()


def test_the_saved_0001_database_opens_and_reads(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    finally:
        conn.close()

    with open_store(f"sqlite:///{path}") as store:
        facts = store.latest_facts()
        assert set(facts) == {key("raw/orders"), key("clean/orders"), key("report")}
        clean = facts[key("clean/orders")]
        assert clean.last_materialization.data_version == "d1"
        assert clean.last_materialization.inputs[0].key == key("raw/orders")
        assert clean.last_attempt_status is AttemptStatus.SUCCEEDED
        report = facts[key("report")]
        assert (report.last_attempt_status, report.last_failure.message) == (AttemptStatus.FAILED, "division by zero")
        assert facts[key("raw/orders")].last_observation.data_version == "src-1"
        assert store.latest_facts(partition="2024-01-01")[key("daily")].last_materialization.data_version == "p1"

        run = store.get_run("run-1")
        assert (run.status, run.reason, dict(run.tags)) == (RunStatus.FAILED, "report failed", {"trigger": "manual"})
        assert [s.status for s in store.run_steps("run-1")] == [StepStatus.SUCCEEDED, StepStatus.FAILED]
        assert len(store.run_events("run-1")) == 8

        store.write(whole_run("run-3", ["report"], T0 + 100))  # and it takes new writes
        assert store.latest_facts()[key("report")].last_attempt_status is AttemptStatus.SUCCEEDED
        assert store.run_events("run-3")[0].id > 10

        # upgraded in place to 0002: derived from the old events, and the new features work
        assert facts[key("raw/orders")].last_observation_checked_at == T0
        assert facts[key("clean/orders")].last_observation_checked_at is None
        assert (store.latest_check_results(), store.alert_states(), store.alert_deliveries()) == ({}, {}, [])
        store.write([checked("clean/orders", "no_nulls", False, T0 + 200, run_id="run-3"),
                     unchanged("raw/orders", T0 + 210, "src-1"), transition("overdue", "report", at=T0 + 220),
                     delivery("overdue", "report", at=T0 + 221)])
        assert store.latest_check_results()[key("clean/orders")]["no_nulls"].passed is False
        raw = store.latest_facts()[key("raw/orders")]
        assert (raw.last_observation.data_version, raw.last_observation_checked_at) == ("src-1", T0 + 210)
        assert store.alert_states()[("overdue", key("report"))].state is AlertState.FIRING
        assert [d.channel for d in store.alert_deliveries()] == ["slack"]
    assert _revision(path) == schema.HEAD


def test_the_saved_0002_database_opens_and_reads(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_0002.sqlite", path)
    assert _revision(path) == "0002"
    if schema.HEAD == "0002":  # current: opening it must not migrate anything
        monkeypatch.setattr(schema, "_upgrade", lambda conn: pytest.fail("a current database was migrated"))

    with open_store(f"sqlite:///{path}") as store:
        facts = store.latest_facts()
        assert set(facts) == {key("raw/orders"), key("clean/orders"), key("report")}
        raw = facts[key("raw/orders")]
        assert (raw.last_observation.data_version, raw.last_observation.timestamp) == ("src-1", T0)
        assert raw.last_observation_checked_at == T0 + 40
        assert facts[key("clean/orders")].last_materialization.data_version == "d1"
        assert facts[key("report")].last_failure.message == "division by zero"
        assert store.get_run("run-1").status is RunStatus.FAILED

        results = store.latest_check_results()
        assert set(results) == {key("clean/orders")}
        no_nulls, row_count = results[key("clean/orders")]["no_nulls"], results[key("clean/orders")]["row_count"]
        assert (no_nulls.passed, no_nulls.run_id, no_nulls.target_run_id, no_nulls.blocking) == (
            True, "run-3", "run-1", True)
        assert (row_count.passed, row_count.severity, row_count.error.message) == (
            False, CheckSeverity.WARN, "check crashed")
        daily = store.latest_check_results(partition="2024-01-01")[key("daily")]["complete"]
        assert (daily.passed, daily.target_timestamp) == (True, T0 + 20)
        history = store.check_history(key("clean/orders"), "no_nulls")
        assert [(h.event.run_id, h.event.passed) for h in history] == [("run-3", True), ("run-1", False)]
        assert [e.event.type_name for e in store.run_events("run-1")].count("check_evaluation") == 2

        states = store.alert_states()
        assert {k: v.state for k, v in states.items()} == {
            ("overdue", key("report")): AlertState.FIRING, ("checks", key("clean/orders")): AlertState.RESOLVED}
        assert states[("overdue", key("report"))].detail == "report is 2h late"
        assert [(d.attempt, d.ok) for d in store.alert_deliveries()] == [(2, True), (1, False)]

        store.write([transition("overdue", "report", AlertState.RESOLVED, T0 + 100)])  # and it takes new writes
        assert store.alert_states()[("overdue", key("report"))].state is AlertState.RESOLVED

        # upgraded in place: old runs have no key, nothing is queued, and the new features work
        run = store.get_run("run-1")
        assert (run.run_key, run.origin, run.mode, run.tags["trigger"]) == (None, "", "all", "manual")
        assert (store.queued_runs(), store.instigator_states(), store.ticks()) == ([], {}, [])
        store.write([queued("run-9", T0 + 200, "k", origin="cli"), queued("run-10", T0 + 201, "k"),
                     tick("sensor:s", T0 + 202, cursor="c1")])
        assert [(r.run_id, r.run_key) for r in store.queued_runs()] == [("run-9", "k")]
        assert store.instigator_states()["sensor:s"].cursor == "c1"
        assert store.acquire_lease("daemon", "me", 30, T0) and not store.acquire_lease("daemon", "you", 30, T0)
    assert _revision(path) == schema.HEAD


def test_the_saved_0003_database_opens_and_reads(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_0003.sqlite", path)
    assert _revision(path) == "0003"
    if schema.HEAD == "0003":  # current: opening it must not migrate anything
        monkeypatch.setattr(schema, "_upgrade", lambda conn: pytest.fail("a current database was migrated"))

    with open_store(f"sqlite:///{path}") as store:
        done = store.run_for_key("daily:2023-11-14")
        assert (done.run_id, done.status, done.origin, done.created_at, done.started_at, done.pid) == (
            "run-sched", RunStatus.SUCCEEDED, "schedule:daily", T0 + 1, T0 + 2, 321)
        assert (done.selection, dict(done.tags), done.location) == ("report", {"schedule": "daily"},
                                                                    '{"module": "pipeline"}')
        assert store.latest_facts()[key("report")].last_materialization.run_id == "run-sched"
        assert [(r.run_id, r.run_key, r.mode) for r in store.queued_runs()] == [
            ("run-sensor", "files:a.csv", "stale"), ("run-auto", "automation:1", "stale")]
        assert store.get_run("run-dup") is None
        canceled = store.get_run("run-ui")
        assert (canceled.status, canceled.reason, canceled.started_at, canceled.origin) == (
            RunStatus.CANCELED, "canceled by alice", None, "ui")

        assert store.instigator_states() == {
            "schedule:daily": InstigatorState("schedule:daily", True, T0, "success", None),
            "sensor:files": InstigatorState("sensor:files", False, T0 + 20, "failed", "a.csv"),
            "automation": InstigatorState("automation", None, T0 + 30, "success", None),
        }
        assert [t.instigator for t in store.ticks()] == ["automation", "sensor:files", "sensor:files",
                                                         "schedule:daily"]
        [failed, first] = store.ticks("sensor:files")
        assert (failed.status, failed.error.message, first.cursor, first.run_ids) == (
            TickStatus.FAILED, "listing failed", "a.csv", ("run-sensor",))
        assert store.ticks("automation")[0].evaluations["report"]["why"] == "upstream updated"

        assert store.acquire_lease("daemon", "new-host:2", 30, T0 + 999) is False  # still held
        assert store.acquire_lease("daemon", "new-host:2", 30, T0 + 1000) is True  # expired
        store.write([queued("run-new", T0 + 100, "files:a.csv")])  # and it takes new writes
        assert store.get_run("run-new") is None


def _revision(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


# --- upgrading a 0001 database in place, on every backend ------------------------------------


def _write_as_0001(conn, events: list[Event]) -> None:  # type: ignore[no-untyped-def]
    """Store ``events`` the way a Headwater at revision 0001 did: event rows in their family
    and, derived, runs and the latest materialization and observation. Check evaluations,
    unchanged observations and alerts went in the log with nothing derived from them.
    Written against the 0001 tables, so that it stays a picture of that revision.

    Revision 0002 derived runs, materializations and observations the same way, and stored
    queued runs, ticks and instigator toggles with nothing derived from them either: so this
    also writes a 0002 database, as long as ``events`` hold no check, unchanged observation
    or alert (see ``test_a_0002_database_upgrades_in_place...``)."""
    run_events = table("run_events", *map(column, ("id", "run_id", "step_key", "type", "timestamp",
                                                   "schema_version", "payload")))
    asset_events = table("asset_events", *map(column, ("id", "asset_key", "partition", "type", "run_id",
                                                       "timestamp", "data_version", "schema_version", "payload")))
    runs = table("runs", *map(column, ("run_id", "status", "created_at", "started_at", "ended_at", "reason",
                                       "selection", "asset_keys", "tags", "executor", "pid", "host")))
    latest = table("asset_latest", *map(column, (
        "asset_key", "partition", "last_materialization_id", "last_materialization", "last_materialized_at",
        "last_observation_id", "last_observation", "last_attempt_run_id", "last_attempt_status",
        "last_attempt_at")))
    latest_rows: dict[tuple[str, str], dict] = {}
    run_rows: dict[str, dict] = {}
    for event_id, event in enumerate(events, start=1):
        payload = event_to_json(event)
        if is_asset_event(event):
            conn.execute(asset_events.insert().values(
                id=event_id, asset_key=str(event.key), partition=event.partition, type=event.type_name,
                run_id=event.run_id, timestamp=event.timestamp, data_version=getattr(event, "data_version", None),
                schema_version=1, payload=payload))
        else:
            conn.execute(run_events.insert().values(
                id=event_id, run_id=event.run_id, step_key=getattr(event, "step_key", None), type=event.type_name,
                timestamp=event.timestamp, schema_version=1, payload=payload))
        if isinstance(event, AssetMaterialized):
            latest_rows.setdefault((str(event.key), event.partition), {}).update(
                last_materialization_id=event_id, last_materialization=payload, last_materialized_at=event.timestamp,
                last_attempt_run_id=event.run_id, last_attempt_status="succeeded", last_attempt_at=event.timestamp)
        elif isinstance(event, AssetObserved):
            latest_rows.setdefault((str(event.key), event.partition), {}).update(
                last_observation_id=event_id, last_observation=payload)
        elif isinstance(event, RunStarted):
            row = run_rows.setdefault(event.run_id, dict(status="started", created_at=event.timestamp))
            row.update(started_at=event.timestamp, selection=event.selection, executor=event.executor,
                       asset_keys=json.dumps([str(k) for k in event.asset_keys]), tags=json.dumps(dict(event.tags)),
                       pid=event.pid, host=event.host)
        elif isinstance(event, RunFinished):
            row = run_rows.setdefault(event.run_id, dict(status="started", created_at=event.timestamp))
            if row["status"] == "started":  # the first end wins
                row.update(status=event.status.value, ended_at=event.timestamp, reason=event.reason)
    for (asset_key, partition), values in latest_rows.items():
        conn.execute(latest.insert().values(asset_key=asset_key, partition=partition, **values))
    for run_id, values in run_rows.items():
        conn.execute(runs.insert().values(run_id=run_id, **values))


def test_a_0001_database_upgrades_in_place_and_derives_the_new_state(store_url):
    engines = create_engines(store_url)
    try:
        with engines.write.begin() as conn:
            command.upgrade(schema._alembic_config(conn), "0001")
            _write_as_0001(conn, [
                started("r1", T0), materialized("r1", "a", T0 + 1),
                checked("a", "rows", False, T0 + 2), checked("a", "fresh", True, T0 + 3),
                checked("a", "rows", True, T0 + 4, run_id="r2"),
                checked("a", "rows", False, T0 + 5, partition="p1", run_id="rp"),
                finished("r1", T0 + 6),
                observed("src", T0 + 10, "s1"), unchanged("src", T0 + 20, "s1"),  # checked after observed
                unchanged("src2", T0 + 25), observed("src2", T0 + 30, "t2"),  # observed after checked
                unchanged("never_observed", T0 + 35), observed("src", T0 + 40, "s1", partition="p1"),
                transition("overdue", "a", AlertState.FIRING, T0 + 50),
                transition("overdue", "a", AlertState.RESOLVED, T0 + 51),
                transition("overdue", "b", AlertState.FIRING, T0 + 52),
                delivery("overdue", "b", "email", T0 + 53),
            ])
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    finally:
        engines.dispose()

    with open_store(store_url) as store:
        with store.engines.read.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == schema.HEAD
            conn.rollback()
        facts = store.latest_facts()
        assert facts[key("a")].last_materialization.run_id == "r1"
        assert facts[key("a")].last_observation_checked_at is None
        assert (facts[key("src")].last_observation.data_version, facts[key("src")].last_observation_checked_at) == (
            "s1", T0 + 20)
        assert facts[key("src2")].last_observation_checked_at == T0 + 30
        assert (facts[key("never_observed")].last_observation,
                facts[key("never_observed")].last_observation_checked_at) == (None, T0 + 35)
        assert store.latest_facts(partition="p1")[key("src")].last_observation_checked_at == T0 + 40
        assert store.get_run("r1").status is RunStatus.SUCCEEDED

        results = store.latest_check_results()
        assert {n: (e.passed, e.run_id) for n, e in results[key("a")].items()} == {
            "rows": (True, "r2"), "fresh": (True, "r1")}
        assert store.latest_check_results(partition="p1")[key("a")]["rows"].run_id == "rp"
        assert [h.event.timestamp for h in store.check_history(key("a"), "rows")] == [T0 + 4, T0 + 2]
        assert {k: (v.state, v.timestamp) for k, v in store.alert_states().items()} == {
            ("overdue", key("a")): (AlertState.RESOLVED, T0 + 51), ("overdue", key("b")): (AlertState.FIRING, T0 + 52)}
        assert [d.channel for d in store.alert_deliveries()] == ["email"]

        store.write([checked("a", "rows", False, T0 + 100, run_id="r3"), unchanged("src", T0 + 110)])
        assert store.latest_check_results()[key("a")]["rows"].run_id == "r3"
        assert store.latest_facts()[key("src")].last_observation_checked_at == T0 + 110
        assert store.check_history(key("a"), "rows")[0].id > 17  # ids go on from the old log


def test_an_upgrade_that_fails_leaves_the_0001_database_as_it_was(store_url):
    engines = create_engines(store_url)
    try:
        with engines.write.begin() as conn:
            command.upgrade(schema._alembic_config(conn), "0001")
            _write_as_0001(conn, [observed("src", T0), checked("a", "rows", True, T0 + 1)])
            conn.execute(text("UPDATE asset_events SET payload = '{not json' WHERE type = 'check_evaluation'"))
    finally:
        engines.dispose()
    with pytest.raises(StorageError, match=rf"from schema revision '0001' to '{schema.HEAD}', it was left as it "
                                           r"was: stored event 2 \('check_evaluation'\)"):
        open_store(store_url)

    engines = create_engines(store_url)
    try:
        with engines.read.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
            assert not inspect(conn).has_table("check_latest")
            assert "last_observation_checked_at" not in {c["name"] for c in inspect(conn).get_columns("asset_latest")}
            conn.rollback()
    finally:
        engines.dispose()


# --- upgrading a 0002 database in place, on every backend ------------------------------------


def test_a_0002_database_upgrades_in_place_and_derives_the_automation_state(store_url):
    """Revision 0002 code stored queued runs, ticks and toggles (the event types existed) but
    derived nothing from them: the upgrade derives it as the writer would have."""
    engines = create_engines(store_url)
    try:
        with engines.write.begin() as conn:
            command.upgrade(schema._alembic_config(conn), "0002")
            _write_as_0001(conn, [
                queued("r1", T0, "k1", origin="schedule:daily", mode="stale", selection="a*", asset_keys=(key("a"),),
                       tags={"q": "1"}, location="loc"),
                tick("schedule:daily", T0 + 0.5, tick_time=T0, run_keys=("k1",), run_ids=("r1",)),
                started("r1", T0 + 5, executor="multiprocess", pid=7, tags={"s": "2"}),
                queued("r2", T0 + 6, "k1", origin="schedule:daily"),  # a duplicate key: derives nothing
                queued("r3", T0 + 7, "k3", origin="sensor:s"),
                tick("sensor:s", T0 + 7.5, cursor="c1", run_keys=("k3",)),
                tick("sensor:s", T0 + 8, TickStatus.SKIPPED),  # no cursor: keeps c1
                queued("r4", T0 + 9, origin="ui"), finished("r4", T0 + 10, RunStatus.CANCELED, "user"),
                started("r5", T0 + 11), queued("r5", T0 + 12, "k5"),  # queued after it started: dropped
                toggled("schedule:daily", False, T0 + 13),
                finished("r1", T0 + 14),
            ])
    finally:
        engines.dispose()

    with open_store(store_url) as store:
        with store.engines.read.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == schema.HEAD
            conn.rollback()
        r1 = store.get_run("r1")
        assert (r1.status, r1.created_at, r1.started_at, r1.ended_at, r1.run_key, r1.origin, r1.mode) == (
            RunStatus.SUCCEEDED, T0, T0 + 5, T0 + 14, "k1", "schedule:daily", "stale")
        assert (r1.selection, r1.asset_keys, dict(r1.tags), r1.location, r1.executor, r1.pid) == (
            "a*", (key("a"),), {"q": "1", "s": "2"}, "loc", "multiprocess", 7)
        assert store.run_for_key("k1") == r1
        assert store.get_run("r2") is None
        assert [(r.run_id, r.run_key, r.origin, r.created_at) for r in store.queued_runs()] == [
            ("r3", "k3", "sensor:s", T0 + 7)]
        r4 = store.get_run("r4")
        assert (r4.status, r4.created_at, r4.started_at, r4.reason, r4.run_key, r4.origin) == (
            RunStatus.CANCELED, T0 + 9, None, "user", None, "ui")
        r5 = store.get_run("r5")
        assert (r5.status, r5.run_key, r5.origin, r5.created_at) == (RunStatus.STARTED, None, "", T0 + 11)
        assert store.run_for_key("k5") is None

        assert store.instigator_states() == {
            "schedule:daily": InstigatorState("schedule:daily", False, T0, "success", None),
            "sensor:s": InstigatorState("sensor:s", None, T0 + 8, "skipped", "c1"),
        }
        assert [t.timestamp for t in store.ticks("sensor:s")] == [T0 + 8, T0 + 7.5]
        assert [t.instigator for t in store.ticks()] == ["sensor:s", "sensor:s", "schedule:daily"]

        # and it goes on as if it had always been at this revision
        store.write([queued("r6", T0 + 20, "k1"), queued("r7", T0 + 1, "k5")])  # r7's clock is behind
        assert store.get_run("r6") is None
        assert [r.run_id for r in store.queued_runs()] == ["r3", "r7"]  # FIFO, the old run first
        store.write([started("r3", T0 + 22), tick("sensor:s", T0 + 23)])
        assert [r.run_id for r in store.queued_runs()] == ["r7"]
        assert (store.get_run("r3").status, store.get_run("r3").run_key) == (RunStatus.STARTED, "k3")
        assert store.instigator_states()["sensor:s"].cursor == "c1"
        assert store.run_events("r7")[0].id == 14  # ids go on from the old log (13 events; r6 dropped)


def test_an_upgrade_that_fails_leaves_the_0002_database_as_it_was(store_url):
    engines = create_engines(store_url)
    try:
        with engines.write.begin() as conn:
            command.upgrade(schema._alembic_config(conn), "0002")
            _write_as_0001(conn, [queued("r1", T0, "k1"), tick("sensor:s", T0 + 1)])
            conn.execute(text("UPDATE run_events SET payload = '{not json' WHERE type = 'tick'"))
    finally:
        engines.dispose()
    with pytest.raises(StorageError, match=rf"from schema revision '0002' to '{schema.HEAD}', it was left as it was: "
                                           r"stored event 2 \('tick'\)"):
        open_store(store_url)

    engines = create_engines(store_url)
    try:
        with engines.read.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
            assert not inspect(conn).has_table("instigator_state")
            assert not inspect(conn).has_table("leases")
            assert "run_key" not in {c["name"] for c in inspect(conn).get_columns("runs")}
            assert "instigator" not in {c["name"] for c in inspect(conn).get_columns("run_events")}
            conn.rollback()
    finally:
        engines.dispose()
