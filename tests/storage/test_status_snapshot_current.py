"""``headwater status``'s stored rows stay what a full computation gives after a run wrote
(the run's process refreshes them, ``status_refresh.refresh``) and as the clock moves past
a freshness deadline (the reader evaluates freshness, ``status_snapshot._evaluate``). Compared
with rows computed by a new instance that reads no snapshot. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import orjson
from storage_events import checked

import headwater as hw
from headwater.core.events import CheckSeverity
from headwater.core.root_counts import root_cause_counts
from headwater.reports import health_to_dict
from headwater.service import status_refresh, status_snapshot

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _defs(fail_d: bool, versions: dict[str, int]) -> hw.Definitions:
    """a → b → c → f and a → d → e → f; d fails when asked to, e is then skipped. Each run
    of a gives a new data version, so what read the old one goes stale downstream."""

    @hw.asset
    def a():
        versions["a"] += 1
        return hw.Output(1, data_version=f"a{versions['a']}")

    @hw.asset(freshness=hw.FreshnessPolicy.within(timedelta(hours=2), warn_lag=timedelta(hours=1)))
    def b(a):
        return 1

    @hw.asset
    def c(b):
        return 1

    @hw.asset
    def d(a):
        if fail_d:
            raise ValueError("d broke")
        return 1

    @hw.asset
    def e(d):
        return 1

    @hw.asset(freshness=hw.FreshnessPolicy.by_deadline("0 9 * * *", lag=timedelta(hours=6)))
    def f(c, e):
        return 1

    @hw.check("c", severity="warn")
    def c_small(c):
        return False

    return hw.Definitions(assets=[a, b, c, d, e, f], checks=[c_small])


def _full(tmp_path, url: str, defs: hw.Definitions, clock: Clock) -> list[bytes]:
    """The rows as a new process computes them without any snapshot: healths, root counts,
    ``health_to_dict``, JSON — the path ``status`` takes when no snapshot can serve."""
    with hw.Instance(home=tmp_path / "home", database_url=url, clock=clock) as inst:
        healths = inst.healths(defs)
        statuses = {k: h.status for k, h in healths.items()}
        counts = root_cause_counts(statuses)
        return [orjson.dumps(health_to_dict(h, defs.graph, counts.get(k, 0))) for k, h in healths.items()]


def _snapshot(tmp_path, url: str, defs: hw.Definitions, clock: Clock) -> tuple[bool, list[bytes], list]:
    with hw.Instance(home=tmp_path / "home", database_url=url, clock=clock) as inst:
        found = status_snapshot.status_rows(inst, defs)
        try:
            picked = found.picked([1, 5])
            rows = found.rows()
            assert picked == [rows[1], rows[5]]
            return found.from_snapshot, rows, [list(s) for s in found.summaries]
        finally:
            found.close()


def _held(tmp_path, url: str, defs: hw.Definitions, clock: Clock) -> bool:
    """Whether the stored rows hold as they are (nothing to bring up to date)."""
    with hw.Instance(home=tmp_path / "home", database_url=url, clock=clock) as inst:
        found = status_snapshot.load(inst, defs)
        if found is not None:
            found.close()
        return found is not None


def _summary(summaries: list, key: str) -> list:
    return next(s for s in summaries if s[0] == key)


def test_after_a_run_the_stored_rows_are_a_full_computation(tmp_path, store_url):
    versions = {"a": 0}
    clock = Clock()
    ok = _defs(False, versions)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        assert inst.materialize(ok, "*").success
    clock.now += 60
    first = _snapshot(tmp_path, store_url, ok, clock)
    assert not first[0]  # the first status computes and stores

    broken = _defs(True, versions)  # the same definitions (fingerprint), d now fails
    clock.now += 60
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        result = inst.materialize(broken, "a, d, e")  # d fails, e is skipped; b, c, f go stale
        assert not result.success
    clock.now += 60
    assert _held(tmp_path, store_url, broken, clock)  # stored by the run's process as it ended
    from_snapshot, rows, summaries = _snapshot(tmp_path, store_url, broken, clock)
    assert from_snapshot
    assert rows == _full(tmp_path, store_url, broken, clock)
    assert sorted((s[0], s[2], s[3], s[5]) for s in summaries) == [
        ("a", "healthy", "materialized", None),
        ("b", "warning", "materialized", ["upstream_updated"]),
        ("c", "warning", "materialized", ["upstream_stale"]),
        ("d", "degraded", "failed", ["upstream_updated"]),  # its last success read the old a
        ("e", "warning", "skipped", ["upstream_stale"]),
        ("f", "warning", "materialized", ["upstream_stale"]),
    ]
    assert rows != first[1]

    clock.now += 60
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        inst.store.write([checked("c", "c_small", passed=False, run_id=None, at=clock.now,
                                  severity=CheckSeverity.WARN)])  # by a process that does not refresh
        fp = status_snapshot.fingerprint(broken)
        previous = status_snapshot.open_snapshot(status_snapshot.path_of(inst, fp))
        try:  # what a refresh would derive again now: c (a new check result) and its downstream
            reuse = status_refresh._reusable(inst, broken, previous, fp, inst.store.last_event_id())
        finally:
            previous.close()
        assert reuse is not None and sorted(k._str for k in reuse.changed) == ["c", "f"]
        assert not inst.materialize(broken, "d").success  # d fails again: c, d, e, f re-derived, a, b reused
    assert _held(tmp_path, store_url, broken, clock)
    from_snapshot, rows, summaries = _snapshot(tmp_path, store_url, broken, clock)
    assert from_snapshot and rows == _full(tmp_path, store_url, broken, clock)

    clock.now += 60
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        assert [e.passed for e in inst.check(broken, "c")] == [False]  # Headwater's own checks keep it too
    assert _held(tmp_path, store_url, broken, clock)
    assert _snapshot(tmp_path, store_url, broken, clock)[1] == _full(tmp_path, store_url, broken, clock)

    clock.now += 60
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        inst.store.write([checked("c", "c_small", passed=True, run_id=None, at=clock.now,
                                  severity=CheckSeverity.WARN)])  # again by a process that does not refresh
    assert not _held(tmp_path, store_url, broken, clock)
    from_snapshot, rows, _ = _snapshot(tmp_path, store_url, broken, clock)  # brought up to date by the reader
    assert from_snapshot and rows == _full(tmp_path, store_url, broken, clock)
    assert _held(tmp_path, store_url, broken, clock)

    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        assert inst.materialize(ok, "*").success  # repaired: everything current again
    from_snapshot, rows, summaries = _snapshot(tmp_path, store_url, ok, clock)
    assert _held(tmp_path, store_url, ok, clock)
    assert from_snapshot and rows == _full(tmp_path, store_url, ok, clock)
    assert [s[3] for s in summaries] == ["materialized"] * 6 and not any(s[5] for s in summaries)


def test_a_snapshot_taken_before_a_deadline_reports_overdue_after_it(tmp_path, store_url):
    versions = {"a": 0}
    clock = Clock()
    defs = _defs(False, versions)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        assert inst.materialize(defs, "*").success
    clock.now += 600
    computed, rows, summaries = _snapshot(tmp_path, store_url, defs, clock)
    assert not computed
    assert _summary(summaries, "b")[6] == "fresh" and _summary(summaries, "b")[2] == "healthy"

    for later, expected in ((timedelta(minutes=90), "warn"), (timedelta(hours=3), "overdue"),
                            (timedelta(days=2), "overdue")):
        clock.now = T0 + later.total_seconds()
        from_snapshot, rows, summaries = _snapshot(tmp_path, store_url, defs, clock)
        assert from_snapshot  # nothing was written: the stored rows, freshness evaluated now
        assert _summary(summaries, "b")[6] == expected
        assert _summary(summaries, "b")[2] == ("warning" if expected == "warn" else "degraded")
        assert rows == _full(tmp_path, store_url, defs, clock)  # byte for byte, reasons included
    assert _summary(summaries, "f")[6] == "overdue"  # two days on, the 09:00 deadline passed too
    assert b'"overdue: ' in rows[5]


def test_rows_kept_from_a_callers_health_are_a_full_computation(tmp_path, store_url):
    """``status_refresh.keep``: what ``headwater ui`` stores from the health it derived, only
    while that state still holds, reusing the rows of the previous snapshot."""
    versions = {"a": 0}
    clock = Clock()
    ok = _defs(False, versions)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        assert inst.materialize(ok, "*").success
        mark = inst.store.last_event_id()
        healths = inst.healths(ok)
        assert status_refresh.keep(inst, ok, mark, healths)  # none there yet: every row written
        assert not status_refresh.keep(inst, ok, mark, healths)  # kept already at that mark
    assert _held(tmp_path, store_url, ok, clock)
    assert _snapshot(tmp_path, store_url, ok, clock)[1] == _full(tmp_path, store_url, ok, clock)

    broken = _defs(True, versions)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        before = inst.store.last_event_id()
        stale_healths = inst.healths(broken)
        inst.store.write([checked("c", "c_small", passed=True, run_id=None, at=clock.now,
                                  severity=CheckSeverity.WARN)])  # by a process that does not refresh
        assert not status_refresh.keep(inst, broken, before, stale_healths)  # written since: not stored
        assert not _held(tmp_path, store_url, broken, clock)
        assert not inst.materialize(broken, "a, d, e").success  # the run's process brings the rows up to date
    clock.now += 60
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        (snap,) = (tmp_path / "home" / status_snapshot.FOLDER).glob("status-*.snap")
        snap.rename(snap.with_suffix(".aside"))  # as during a write by a process that does not refresh
        assert inst.materialize(broken, "a").success  # a new version of a: all but d and e stale below it
        snap.with_suffix(".aside").rename(snap)
        assert not _held(tmp_path, store_url, broken, clock)
        mark = inst.store.last_event_id()
        assert status_refresh.keep(inst, broken, mark, inst.healths(broken))  # older rows reused, a's downstream not
    assert _held(tmp_path, store_url, broken, clock)
    assert _snapshot(tmp_path, store_url, broken, clock)[1] == _full(tmp_path, store_url, broken, clock)
