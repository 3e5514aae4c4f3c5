"""Appends on the store's kept SQLite write connection (``storage/sql/sqlite_writes.py``)."""

from __future__ import annotations

import sqlite3
import threading

from storage_events import whole_run

from headwater.core.events import RunStatus
from headwater.storage.sql.store import open_store


def test_between_writes_the_kept_connection_holds_no_lock_and_no_snapshot(tmp_path):
    path = tmp_path / "hw.db"
    with open_store(f"sqlite:///{path}") as store:
        store.write(whole_run("r1", ["a", "b"]))
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the write lock is free at once
            other.execute("ROLLBACK")
            busy, _log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0  # no reader of ours pins the WAL
        finally:
            other.close()
        store.write(whole_run("r2", ["a"]))  # and the kept connection goes on after that
        assert store.get_run("r2").status is RunStatus.SUCCEEDED


def test_threads_of_one_process_take_turns_on_it_and_lose_nothing(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'hw.db'}") as store:
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(20):
                    store.write(whole_run(f"r{n}-{i}", ["a", f"t{n}"]))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(store.list_runs(limit=1000)) == 80
        assert all(len(store.run_steps(f"r{n}-{i}")) == 2 for n in range(4) for i in range(20))
