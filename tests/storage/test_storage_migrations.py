"""Schema revisions: applied once, skipped when current, refused when newer, old files upgrade."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from storage_events import T0, key, whole_run

from headwater.core.events import RunStatus
from headwater.core.records import AttemptStatus, StepStatus
from headwater.errors import StorageError
from headwater.storage.sql import schema
from headwater.storage.sql.tables import metadata

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "db" / "schema_0001.sqlite"


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

    from headwater.storage.sql.store import open_store

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
