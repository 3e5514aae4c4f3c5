"""PostgreSQL's write path (``pg_writes.py``): one trip per write whoever wrote before, ids
numbered by the server without a gap, and commits that wait for the disk only at run
boundaries."""

from __future__ import annotations

import pytest

from headwater.core.events import AssetMaterialized, RunFinished, RunStarted, RunStatus, StepStarted
from headwater.core.keys import AssetKey
from headwater.storage.sql.pg_writes import commit_may_wait
from headwater.storage.sql.store import open_store

pytestmark = pytest.mark.postgres


def _started(run: str) -> RunStarted:
    return RunStarted(run_id=run, timestamp=1.0, selection="*", asset_keys=(AssetKey(("a",)),), tags={},
                      executor="x", pid=1, host="h")


def _step(run: str, i: int) -> StepStarted:
    return StepStarted(run_id=run, timestamp=2.0 + i, step_key=f"s{i}", asset_keys=(AssetKey(("a",)),), attempt=1,
                       pid=1)


def test_two_writers_interleaving_keep_one_gapless_id_sequence(pg_schema_url):
    one, two = open_store(pg_schema_url), open_store(pg_schema_url)
    try:
        one.write([_started("r1")])
        two.write([_started("r2")])
        for i in range(6):
            (one if i % 3 else two).write([_step("r1" if i % 2 else "r2", i)])
            one.write([_step("r1", 100 + i)])
        one.write([AssetMaterialized(run_id="r1", timestamp=9.0, step_key="s1", key=AssetKey(("a",)),
                                     data_version="v1")])
        ids = [e.id for r in ("r1", "r2") for e in one.run_events(r)]
        assert sorted(ids) == list(range(1, 16))  # 2 starts, 12 steps, 1 materialization: no gap, no repeat
        assert two.last_event_id() == one.last_event_id() == len(ids)
    finally:
        one.close()
        two.close()


def test_only_events_inside_a_running_run_commit_without_waiting_for_the_disk(monkeypatch):
    inside = [_step("r", 1), AssetMaterialized(run_id="r", timestamp=3.0, step_key="s", key=AssetKey(("a",)),
                                               data_version="v")]
    assert commit_may_wait(inside)
    assert not commit_may_wait([*inside, RunFinished(run_id="r", timestamp=4.0, status=RunStatus.SUCCEEDED)])
    assert not commit_may_wait([_started("r")])
    assert not commit_may_wait([AssetMaterialized(run_id=None, timestamp=3.0, step_key="", key=AssetKey(("a",)),
                                                  data_version="v")])
    monkeypatch.setenv("HEADWATER_PG_SYNCHRONOUS_COMMIT", "always")
    assert not commit_may_wait(inside)


def _syncs(store, write) -> int:
    """How many times ``write`` waited for the server (a libpq Sync each), traced on the wire."""
    import tempfile

    raw = store._pg_writes._conn.connection.dbapi_connection  # noqa: SLF001 - the wire is what is tested
    with tempfile.TemporaryFile("w+") as trace:
        raw.pgconn.trace(trace.fileno())
        try:
            write()
        finally:
            raw.pgconn.untrace()
        trace.seek(0)
        return sum(1 for line in trace if "\tSync" in line)


def test_a_write_is_one_round_trip_whoever_wrote_before(pg_schema_url):
    one, two = open_store(pg_schema_url), open_store(pg_schema_url)
    try:
        one.write([_started("r1")])
        assert _syncs(one, lambda: one.write([_step("r1", 1)])) == 1
        two.write([_step("r1", 2)])  # another process wrote in between: the server still numbers ours
        assert _syncs(one, lambda: one.write([_step("r1", 3)])) == 1
        assert _syncs(one, lambda: one.acquire_lease("step:r1:s3:1", "w", 30.0, 1.0)) == 1
        assert _syncs(one, lambda: one.release_lease("step:r1:s3:1", "w")) == 1
        assert [(e.id, getattr(e.event, "step_key", None)) for e in one.run_events("r1")] == [
            (1, None), (2, "s1"), (3, "s2"), (4, "s3")]
    finally:
        one.close()
        two.close()


def test_a_failed_write_leaves_the_connection_usable_and_nothing_stored(pg_schema_url):
    from headwater.errors import StorageError

    store = open_store(pg_schema_url)
    try:
        store.write([_started("r1")])
        conn = store._pg_writes._conn  # noqa: SLF001
        with pytest.raises(StorageError):
            store.write([_step("r1", 1), _step("r1", 2).__class__(run_id="r1", timestamp=3.0, step_key="s\x00",
                                                                   asset_keys=(AssetKey(("a",)),), attempt=1, pid=1)])
        store.write([_step("r1", 3)])
        assert store._pg_writes._conn is conn  # noqa: SLF001 - rolled back, not reconnected
        assert [getattr(e.event, "step_key", None) for e in store.run_events("r1")] == [None, "s3"]
    finally:
        store.close()


def test_a_waiter_wakes_on_another_process_write_not_on_a_timer(pg_schema_url):
    import threading
    import time

    from headwater.core.events import RunQueued

    reader, writer = open_store(pg_schema_url), open_store(pg_schema_url)
    try:
        assert reader.notifies
        mark = reader.last_event_id()
        assert reader.wait_for_events(mark, timeout=0.05) == mark  # nothing written: times out
        threading.Timer(0.3, lambda: writer.write([_started("r1")])).start()
        started = time.monotonic()
        assert reader.wait_for_events(mark, timeout=30) == mark + 1
        woke = time.monotonic() - started
        assert woke < 10  # woken by the notice, long before the timeout
        assert not reader.wait_for_queued_run(timeout=0.05)
        threading.Timer(0.3, lambda: writer.write([RunQueued(run_id="q1", timestamp=5.0, selection="*",
                                                             asset_keys=(), tags={})])).start()
        assert reader.wait_for_queued_run(timeout=30)
    finally:
        reader.close()
        writer.close()
