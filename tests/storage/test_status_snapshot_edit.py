"""The first ``headwater status`` after the definitions were edited starts from the rows
stored for the definitions before the edit (``status_refresh.refreshed(rebase=True)``): only
the assets whose own line of the definitions changed, whose facts changed since, and their
downstream are derived again. Compared byte for byte with rows computed by a new instance
that reads no snapshot. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import orjson
from storage_events import materialized

import headwater as hw
from headwater.core.root_counts import root_cause_counts
from headwater.reports import health_to_dict
from headwater.service import status_refresh, status_snapshot

T0 = 1_800_000_000.0


def _defs(edit: bool) -> hw.Definitions:
    """a → b → c → g (g with a freshness policy), a → d, e alone, and eight more reading a.
    The edit: b's code version moves on, e is gone, f (reading a) is new, d gains a check."""

    @hw.asset
    def a():
        return 1

    @hw.asset(code_version="2" if edit else "1")
    def b(a):
        return 1

    @hw.asset
    def c(b):
        return 1

    @hw.asset
    def d(a):
        return 1

    @hw.asset
    def e():
        return 1

    @hw.asset
    def f(a):
        return 1

    @hw.asset(freshness=hw.FreshnessPolicy.within(timedelta(hours=2), warn_lag=timedelta(hours=1)))
    def g(c):
        return 1

    @hw.check("d", severity="warn")
    def d_small(d):
        return False

    more = [hw.asset(key=f"more_{i}", deps=["a"])(lambda: 1) for i in range(8)]
    if edit:
        return hw.Definitions(assets=[a, b, c, d, f, g, *more], checks=[d_small])
    return hw.Definitions(assets=[a, b, c, d, e, g, *more])


def _instance(tmp_path, url: str, now: float) -> hw.Instance:
    return hw.Instance(home=tmp_path / "home", database_url=url, clock=lambda: now)


def _full(tmp_path, url: str, defs: hw.Definitions, now: float) -> list[bytes]:
    """The rows as a new process computes them without any snapshot."""
    with _instance(tmp_path, url, now) as inst:
        healths = inst.healths(defs)
        counts = root_cause_counts({k: h.status for k, h in healths.items()})
        return [orjson.dumps(health_to_dict(h, defs.graph, counts.get(k, 0))) for k, h in healths.items()]


def _status(tmp_path, url: str, defs: hw.Definitions, now: float) -> tuple[bool, list[bytes]]:
    with _instance(tmp_path, url, now) as inst:
        found = status_snapshot.status_rows(inst, defs)
        try:
            return found.from_snapshot, found.rows()
        finally:
            found.close()


def _changed(tmp_path, url: str, before: hw.Definitions, after: hw.Definitions, now: float) -> list[str]:
    """What a status of ``after`` derives again from the snapshot of ``before``."""
    with _instance(tmp_path, url, now) as inst:
        previous = status_snapshot.open_snapshot(status_snapshot.path_of(inst, status_snapshot.fingerprint(before)))
        assert previous is not None
        try:
            reuse = status_refresh._reusable(inst, after, previous, status_snapshot.fingerprint(after),
                                              inst.store.last_event_id())
        finally:
            previous.close()
        assert reuse is not None
        return sorted(k._str for k in reuse.changed)


def test_after_an_edit_the_rows_are_rebased_not_rebuilt(tmp_path, store_url):
    old, new = _defs(False), _defs(True)
    with _instance(tmp_path, store_url, T0) as inst:
        assert inst.materialize(old, "*").success
    assert _status(tmp_path, store_url, old, T0 + 60) == (False, _full(tmp_path, store_url, old, T0 + 60))

    with _instance(tmp_path, store_url, T0 + 120) as inst:  # written since by a process that keeps no rows
        inst.store.write([materialized(None, "d", at=T0 + 120, version="d2")])

    # b (code version), f (new), d (a check, and a new materialization) and what reads them
    assert _changed(tmp_path, store_url, old, new, T0 + 180) == ["b", "c", "d", "f", "g"]
    later = T0 + 3 * 3600  # g's freshness moved on with the clock: evaluated when read, not stored
    from_snapshot, rows = _status(tmp_path, store_url, new, later)
    assert from_snapshot  # rebased on the stored rows of the old definitions, then read back
    assert rows == _full(tmp_path, store_url, new, later)
    assert b'"key":"e"' not in b"".join(rows) and b'"key":"f"' in b"".join(rows)
    assert len(list((tmp_path / "home" / status_snapshot.FOLDER).glob("status-*.snap"))) == 2

    # back to the old definitions: their own snapshot is older than the store, brought up to date
    from_snapshot, rows = _status(tmp_path, store_url, old, later)
    assert from_snapshot and rows == _full(tmp_path, store_url, old, later)


def test_an_edit_that_changes_most_of_the_graph_computes_afresh(tmp_path, store_url):
    def defs(version: str) -> hw.Definitions:
        @hw.asset(code_version=version)
        def a():
            return 1

        @hw.asset
        def b(a):
            return 1

        @hw.asset
        def c(b):
            return 1

        return hw.Definitions(assets=[a, b, c])

    with _instance(tmp_path, store_url, T0) as inst:
        assert inst.materialize(defs("1"), "*").success
    assert not _status(tmp_path, store_url, defs("1"), T0)[0]
    assert _changed(tmp_path, store_url, defs("1"), defs("2"), T0) == ["a", "b", "c"]
    from_snapshot, rows = _status(tmp_path, store_url, defs("2"), T0)
    assert not from_snapshot  # nothing worth reusing: the rows streamed, as with no snapshot
    assert rows == _full(tmp_path, store_url, defs("2"), T0)


def test_rows_of_other_code_are_not_reused(tmp_path, store_url):
    """A snapshot written by another Headwater (an upgrade) may derive rows otherwise."""
    old, new = _defs(False), _defs(True)
    with _instance(tmp_path, store_url, T0) as inst:
        assert inst.materialize(old, "*").success
    assert not _status(tmp_path, store_url, old, T0)[0]
    stamp = status_snapshot._code_stamp()
    status_snapshot._STAMP[:] = ["another-headwater"]
    try:
        assert not _status(tmp_path, store_url, new, T0)[0]  # computed whole
    finally:
        status_snapshot._STAMP[:] = [stamp]
