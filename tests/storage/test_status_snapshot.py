"""The stored snapshot of ``headwater status``'s rows (``service/status_snapshot.py``): the
next process reads it back as it is only while nothing was written and the definitions are
the same, and what it reads back is what a fresh computation gives. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import os
from datetime import timedelta

from storage_events import checked

import headwater as hw
from headwater.core.events import RunFinished, RunStarted, RunStatus
from headwater.service import status_snapshot
from headwater.storage.sql.mark_probe import sqlite_last_event_id, sqlite_state_since

_VALUES = itertools.count()


def _defs(code: str = "1", policy: bool = False) -> hw.Definitions:
    @hw.asset(code_version=code)
    def a():
        n = next(_VALUES)
        return hw.Output(n, data_version=f"v{n}")  # new data each run: its downstream goes stale

    @hw.asset(freshness=hw.FreshnessPolicy.within(timedelta(hours=1)) if policy else None)
    def b(a):
        return 1

    @hw.asset
    def c(b):
        return b

    @hw.check("b")
    def positive(b):
        return b == 1

    return hw.Definitions(assets=[a, b, c], checks=[positive])


def _instance(tmp_path, store_url: str) -> hw.Instance:
    """A new instance each time: what the next ``headwater status`` process opens."""
    return hw.Instance(home=tmp_path / "home", database_url=store_url)


def _read(tmp_path, store_url: str, defs: hw.Definitions) -> status_snapshot.StatusRows:
    with _instance(tmp_path, store_url) as inst:
        found = status_snapshot.status_rows(inst, defs)
        found.some = (found.picked([1, 2]), found.picked([0]), found.picked([]))  # type: ignore[attr-defined]
        found.rows()
        found.close()
        return found


def _holds(inst: hw.Instance, defs: hw.Definitions) -> bool:
    found = status_snapshot.load(inst, defs)
    if found is not None:
        found.close()
    return found is not None


def _fresh(tmp_path, store_url: str, defs: hw.Definitions) -> list[bytes]:
    with _instance(tmp_path, store_url) as inst:
        return status_snapshot.compute(inst, defs, keep=False).rows()


def test_a_write_invalidates_the_snapshot_and_what_it_keeps_is_a_fresh_read(tmp_path, store_url):
    defs = _defs()
    with _instance(tmp_path, store_url) as inst:
        assert inst.materialize(defs, "*", executor="in_process").success
    first = _read(tmp_path, store_url, defs)
    assert not first.from_snapshot  # computed, and stored
    again = _read(tmp_path, store_url, defs)
    assert again.from_snapshot
    assert again.rows() == first.rows() == _fresh(tmp_path, store_url, defs)
    assert again.summaries == first.summaries
    rows = first.rows()
    assert again.some == first.some == (rows[1:], rows[:1], [])  # read back in stretches

    with _instance(tmp_path, store_url) as inst:  # a process that does not refresh writes a check result
        inst.store.write([checked("b", "positive", passed=False, run_id=None)])
        assert status_snapshot.load(inst, defs) is None  # the snapshot no longer holds as it is
    after = _read(tmp_path, store_url, defs)  # brought up to date (b and c derived again) and stored
    assert after.rows() != first.rows()
    assert after.rows() == _fresh(tmp_path, store_url, defs)
    assert _read(tmp_path, store_url, defs).from_snapshot

    with _instance(tmp_path, store_url) as inst:  # a run: b and c go stale; its process stores their rows
        assert inst.materialize(defs, "a", executor="in_process").success
    run_after = _read(tmp_path, store_url, defs)
    assert run_after.from_snapshot
    assert run_after.rows() == _fresh(tmp_path, store_url, defs)
    assert [s[5] for s in run_after.summaries] == [None, ["upstream_updated"], ["upstream_stale"]]


def test_other_definitions_or_a_damaged_file_are_computed_afresh(tmp_path, store_url):
    with _instance(tmp_path, store_url) as inst:
        assert inst.materialize(_defs(), "*", executor="in_process").success
    _read(tmp_path, store_url, _defs())
    changed = _read(tmp_path, store_url, _defs(code="2"))
    assert not changed.from_snapshot and changed.summaries[0][5] == ["code_changed"]
    assert _read(tmp_path, store_url, _defs()).from_snapshot  # one snapshot per definitions

    with _instance(tmp_path, store_url) as inst:
        path = status_snapshot.path_of(inst, status_snapshot.fingerprint(_defs()))
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])  # truncated
    damaged = _read(tmp_path, store_url, _defs())
    assert damaged.rows() == _fresh(tmp_path, store_url, _defs())  # derived whole again, not from the damaged one
    path.write_bytes(b"not a snapshot")
    assert not _read(tmp_path, store_url, _defs()).from_snapshot
    for code in "3456":  # only the newest few definitions versions keep theirs
        _read(tmp_path, store_url, _defs(code=code))
    assert len(list((tmp_path / "home" / status_snapshot.FOLDER).glob("*"))) == status_snapshot.KEEP


def test_runs_in_progress_are_never_kept(tmp_path, store_url):
    with _instance(tmp_path, store_url) as inst:
        assert inst.materialize(_defs(), "*", executor="in_process").success
    with _instance(tmp_path, store_url) as inst:  # a run in progress, its process alive (this one)
        inst.store.write([RunStarted(run_id="r-live", timestamp=1.0, pid=os.getpid(), host=os.uname().nodename)])
    _read(tmp_path, store_url, _defs())
    assert not _read(tmp_path, store_url, _defs()).from_snapshot


def test_events_that_change_no_asset_leave_the_snapshot_holding(tmp_path, store_url):
    defs = _defs()
    with _instance(tmp_path, store_url) as inst:
        assert inst.materialize(defs, "*", executor="in_process").success
    first = _read(tmp_path, store_url, defs)
    with _instance(tmp_path, store_url) as inst:  # a run that touched no asset (a daemon's, say)
        inst.store.write([RunStarted(run_id="r-empty", timestamp=1.0, pid=os.getpid(), host=os.uname().nodename)])
        inst.store.write([RunFinished(run_id="r-empty", timestamp=2.0, status=RunStatus.SUCCEEDED)])
        assert inst.store.last_event_id() > 0 and _holds(inst, defs)
    held = _read(tmp_path, store_url, defs)
    assert held.from_snapshot and held.rows() == first.rows() == _fresh(tmp_path, store_url, defs)

    with _instance(tmp_path, store_url) as inst:  # in progress: the full read (which reaps the dead) decides
        inst.store.write([RunStarted(run_id="r-open", timestamp=3.0, pid=os.getpid(), host=os.uname().nodename)])
        assert not _holds(inst, defs)
        inst.store.write([RunFinished(run_id="r-open", timestamp=4.0, status=RunStatus.CANCELED)])
        assert _holds(inst, defs)
        inst.store.write([checked("b", "positive", passed=False, run_id=None)])  # a check result: it changed
        assert not _holds(inst, defs)


def test_the_sqlite_probe_reads_the_stores_last_event_id(tmp_path):
    url = f"sqlite:///{tmp_path / 'home' / 'headwater.db'}"
    assert sqlite_last_event_id(url) is None  # no database yet
    with hw.Instance(home=tmp_path / "home", database_url=url) as inst:
        assert inst.materialize(_defs(), "*", executor="in_process").success
        assert sqlite_last_event_id(url) == inst.store.last_event_id() > 0
        mark = inst.store.last_event_id()
        assert sqlite_state_since(url, mark) == (mark, False, False)
        inst.store.write([RunStarted(run_id="r-open", timestamp=3.0, pid=os.getpid(), host=os.uname().nodename)])
        assert sqlite_state_since(url, mark) == (mark + 1, False, True)
        assert inst.materialize(_defs(), "a", executor="in_process").success
        last, changed, running = sqlite_state_since(url, mark)
        assert (last, changed, running) == (inst.store.last_event_id(), True, True)
        assert sqlite_state_since(url, last)[1] is False
    assert sqlite_last_event_id("postgresql://nowhere/db") is None
    assert sqlite_state_since("postgresql://nowhere/db", 0) is None


def test_a_computed_status_reads_without_the_store_unless_a_run_is_in_progress(tmp_path, store_url):
    """On SQLite the rows are computed from the standard library's reads (no SQLAlchemy); a run
    in progress opens the store, whose reading marks a run whose process died failed."""
    import subprocess
    import sys

    defs = _defs()
    with _instance(tmp_path, store_url) as inst:
        assert inst.materialize(defs, "*", executor="in_process").success
    fresh = _fresh(tmp_path, store_url, defs)
    with _instance(tmp_path, store_url) as inst:
        found = status_snapshot.compute(inst, defs, keep=False)
        assert found.rows() == fresh
        assert (inst._store is None) == store_url.startswith("sqlite")  # read without opening the store
        found.close()

        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()  # its pid is free: the run's process died
        inst.store.write([RunStarted(run_id="r-dead", timestamp=1.0, pid=proc.pid, host=os.uname().nodename)])
    with _instance(tmp_path, store_url) as inst:
        found = status_snapshot.compute(inst, defs, keep=False)
        assert found.rows() == fresh
        found.close()
        assert inst.store.get_run("r-dead").status is RunStatus.FAILED
