"""SQLite as many processes share it: locks, busy waits, bad files, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from storage_events import T0, key, whole_run
from storage_workers import open_together, write_batches

from headwater.core.events import LogMessage
from headwater.errors import StorageError
from headwater.storage.sql.store import open_store


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _hold_lock(path: Path, seconds: float, locked: threading.Event, release: threading.Event | None = None) -> None:
    """Another connection takes the write lock with BEGIN EXCLUSIVE and sits on it, for
    ``seconds`` or, given ``release``, until it is set (the test's own progress)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        if release is None:
            time.sleep(seconds)
        else:
            release.wait(60)
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_creates_parent_directories_and_uses_wal(tmp_path):
    path = tmp_path / "deep" / "er" / "hw.db"
    with open_store(f"sqlite:///{path}") as store:
        store.write(whole_run("r1", ["a"]))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_in_memory_sqlite_is_refused():
    with pytest.raises(StorageError, match="in-memory"):
        open_store("sqlite://")


def test_a_writer_waits_for_another_connection_holding_the_lock(sqlite_url):
    with open_store(sqlite_url) as store:
        locked = threading.Event()
        holder = threading.Thread(target=_hold_lock, args=(_path(sqlite_url), 1.0, locked))
        holder.start()
        try:
            assert locked.wait(5)
            started = time.monotonic()
            store.write(whole_run("r1", ["a"]))
            waited = time.monotonic() - started
        finally:
            holder.join()
        assert waited > 0.7, "the write should have queued behind the lock"
        assert store.latest_facts()[key("a")].last_materialization.run_id == "r1"


def test_reads_do_not_wait_for_the_write_lock(sqlite_url):
    with open_store(sqlite_url) as store:
        store.write(whole_run("r1", ["a"]))
        locked = threading.Event()
        release = threading.Event()
        holder = threading.Thread(target=_hold_lock, args=(_path(sqlite_url), 0, locked, release))
        holder.start()
        try:
            assert locked.wait(5)
            # answered while the lock is still held: it is released only after these reads
            assert key("a") in store.latest_facts()
            assert store.get_run("r1") is not None
        finally:
            release.set()
            holder.join()


def test_a_lock_held_too_long_is_a_clear_error_and_stores_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'hw.db'}?busy_timeout=0.3"
    with open_store(url) as store:
        locked = threading.Event()
        release = threading.Event()
        holder = threading.Thread(target=_hold_lock, args=(tmp_path / "hw.db", 0, locked, release))
        holder.start()
        try:
            assert locked.wait(5)
            with pytest.raises(StorageError) as info:  # gives up while the lock is still held
                store.write(whole_run("r1", ["a"]))
        finally:
            release.set()
            holder.join()
        message = str(info.value)
        assert str(tmp_path / "hw.db") in message
        assert "another process holds the write lock" in message
        assert store.get_run("r1") is None
        store.write(whole_run("r1", ["a"]))  # fine once the lock is gone
        assert store.get_run("r1") is not None


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.db"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StorageError) as info:
        open_store(f"sqlite:///{path}")
    assert str(path) in str(info.value)
    assert "not a Headwater database" in str(info.value)
    assert "file is not a database" in str(info.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_someone_elses_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    content = path.read_bytes()
    with pytest.raises(StorageError, match="not a Headwater database.*customers"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == content


def test_two_processes_writing_at_once_lose_nothing(sqlite_url):
    ctx = multiprocessing.get_context("spawn")
    open_store(sqlite_url).close()  # create the schema first: this test is about writes
    start, results = ctx.Barrier(3), ctx.Queue()  # both workers ready, then all go at once
    batches = 300
    workers = [ctx.Process(target=write_batches, args=(sqlite_url, name, batches, start, results))
               for name in ("w1", "w2")]
    for w in workers:
        w.start()
    try:
        start.wait(timeout=60)
        outcomes = dict(results.get(timeout=90) for _ in workers)
    finally:
        for w in workers:
            w.join(timeout=30)
    assert {name: outcome[0] for name, outcome in outcomes.items()} == {"w1": "ok", "w2": "ok"}, outcomes
    (_, began1, ended1), (_, began2, ended2) = outcomes["w1"], outcomes["w2"]
    assert began1 < ended2 and began2 < ended1, "the two writers should have been writing at the same time"

    with open_store(sqlite_url) as store:
        for name in ("w1", "w2"):
            log = store.run_events(f"{name}-run")
            assert len(log) == batches * 4
            assert [e.event.message for e in log if isinstance(e.event, LogMessage)] == [
                f"{name} batch {i}" for i in range(batches)]
            assert len(store.run_steps(f"{name}-run")) == batches
        facts = store.latest_facts()
        assert len(facts) == 100
        assert facts[key("w2/asset_49")].last_materialization.data_version == "w2-v299"
    conn = sqlite3.connect(_path(sqlite_url))
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM run_events UNION ALL SELECT id FROM asset_events")]
    finally:
        conn.close()
    assert sorted(ids) == list(range(1, 2 * batches * 4 + 1)), "one shared id counter, no gaps, no repeats"


def test_two_processes_opening_a_brand_new_file_together_both_succeed(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    urls = [f"sqlite:///{tmp_path / f'new{i}' / 'headwater.db'}" for i in range(8)]
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=open_together, args=(urls, name, barrier, results)) for name in ("p1", "p2")]
    for w in workers:
        w.start()
    try:
        outcomes = dict(results.get(timeout=90) for _ in workers)
    finally:
        for w in workers:
            w.join(timeout=30)
    assert outcomes == {"p1": "ok", "p2": "ok"}, outcomes
    for url in urls:
        with open_store(url) as store:
            assert len(store.run_events("p1")) == len(store.run_events("p2")) == 1


def test_reads_and_writes_from_threads_share_one_store(sqlite_url):
    with open_store(sqlite_url) as store:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    store.write([LogMessage(run_id=f"t{n}", timestamp=T0 + i, message=str(i))])
                    store.latest_facts()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert all(len(store.run_events(f"t{n}")) == 20 for n in range(4))
