"""``latest_facts_once``: the facts a one-shot reader (``headwater status`` in a CLI process)
gets without decoding any materialization, on SQLite and PostgreSQL. Each must be the facts
``latest_facts`` decodes from the events, field by field, read from the summary columns
alone (nothing fetched), for unpartitioned and partitioned rows, observations, failed,
skipped and running attempts, inputs read stale or missing; and the statuses, healths and
``status`` rows derived from them must be those derived from the decoded events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from storage_events import (
    T0,
    finished,
    key,
    materialized,
    observed,
    started,
    step_started,
    whole_run,
)

import headwater as hw
from headwater.core.events import (
    AssetFailed,
    AssetMaterialized,
    ErrorInfo,
    InputRecord,
    InputState,
    SkipReason,
    StepFailed,
    StepSkipped,
)
from headwater.core.materialization_summary import SummarizedMaterialization
from headwater.core.status import bad_inputs
from headwater.reports import health_to_dict

_SUMMARY_FIELDS = ("run_id", "timestamp", "key", "partition", "code_version", "data_version", "data_time", "deps")


def _history(store) -> None:  # type: ignore[no-untyped-def]
    store.write(whole_run("r1", ["a", "b"], T0))
    store.write([
        started("r2", T0 + 100),
        # c read a stale, b missing and ok (in partitions), and a source: states, partitions, no versions
        AssetMaterialized(
            run_id="r2", timestamp=T0 + 101.25, step_key="c", key=key("c"), code_version=None, data_version=None,
            data_time=None, deps=(key("a"), key("b"), key("src")),
            inputs=(InputRecord(key("a"), "v1", T0 - 60, InputState.STALE, "a is stale"),
                    InputRecord(key("b"), None, None, InputState.MISSING, partition="2026-01-01"),
                    InputRecord(key("b"), "bv", T0, InputState.OK, partition="2026-01-02"),
                    InputRecord(key("src"), "s1", T0 - 30, produced_in_run=False)),
            metadata={"rows": 2**70, "note": "é"}, value_ref="v://c", duration=1.5),
        # read all ok, but a version spelled like a state: "ran on stale inputs" must parse to say no
        AssetMaterialized(
            run_id="r2", timestamp=T0 + 101.5, step_key="e", key=key("e"), code_version="c1", data_version='x"stale',
            data_time=T0, deps=(key("a"),), inputs=(InputRecord(key("a"), 'v"stale"', T0 - 60),)),
        materialized("r2", "p", at=T0 + 102, partition="2026-01-01", inputs=("a",)),
        materialized("r2", "p", at=T0 + 103, partition="2026-01-02", version="v2"),
        observed("src", at=T0 + 104),
        observed("src", at=T0 + 105, partition="eu"),
        step_started("r2", "d", "d", at=T0 + 106),
        StepFailed(run_id="r2", timestamp=T0 + 107, step_key="d", asset_keys=(key("d"),),
                   error=ErrorInfo("d broke", "ValueError", "Traceback ...")),
        AssetFailed(run_id="r2", timestamp=T0 + 108, step_key="p", key=key("p"), partition="2026-01-02",
                    error=ErrorInfo("p broke")),
        StepSkipped(run_id="r2", timestamp=T0 + 109, step_key="b", asset_keys=(key("b"),),
                    reason=SkipReason.UPSTREAM_FAILED, detail="d failed"),
        step_started("r2", "a", "a", at=T0 + 110),  # running still
        finished("r2", T0 + 111),
    ])


def _same_summary(summary, event) -> bool:  # type: ignore[no-untyped-def]
    """The summary's own fields (read without fetching anything) are the event's."""
    assert type(summary) is SummarizedMaterialization and type(event) is not SummarizedMaterialization
    for name in _SUMMARY_FIELDS:
        assert getattr(summary, name) == getattr(event, name), name
        assert type(getattr(summary, name)) is type(getattr(event, name)), name
    assert summary.ran_on_stale_inputs is event.ran_on_stale_inputs
    assert [list(i) for i in summary.input_versions()] == [
        [i.key._str, i.partition, i.data_version] + ([] if i.state is InputState.OK else [i.state.value])
        for i in event.inputs]
    assert bad_inputs(summary) == bad_inputs(event) and bad_inputs(summary, shown=1) == bad_inputs(event, shown=1)
    assert summary._full is None  # nothing fetched
    return summary.ran_on_stale_inputs


@pytest.mark.parametrize("partition", ["", "2026-01-01", "2026-01-02", "eu"])
def test_facts_read_once_are_the_decoded_facts(store, partition):
    _history(store)
    decoded = store.latest_facts(partition=partition)
    once = store.latest_facts_once(partition=partition)
    assert decoded and set(once) == set(decoded)
    ran_stale = set()
    for k, fact in decoded.items():
        got = once[k]
        mat, want = got.last_materialization, fact.last_materialization
        if want is None:
            assert mat is None
        elif _same_summary(mat, want):
            ran_stale.add(k._str)
        for name in ("key", "partition", "last_observation", "last_attempt_run_id", "last_attempt_status",
                     "last_attempt_at", "last_failure", "last_observation_checked_at"):
            assert getattr(got, name) == getattr(fact, name), (k, name)
    assert ran_stale == ({"c"} if partition == "" else set())
    assert once == decoded  # and whole: each summary fetches its event, which is the decoded one
    for fact in once.values():
        mat = fact.last_materialization
        if mat is not None:
            assert (mat.inputs, mat.metadata, mat.value_ref, mat.duration, mat.step_key) == (
                decoded[fact.key].last_materialization.inputs, decoded[fact.key].last_materialization.metadata,
                decoded[fact.key].last_materialization.value_ref, decoded[fact.key].last_materialization.duration,
                decoded[fact.key].last_materialization.step_key)


def test_facts_read_once_for_some_keys(store):
    _history(store)
    assert set(store.latest_facts_once([key("a"), key("c"), key("nothing")])) == {key("a"), key("c")}
    many = [key(f"k{i}") for i in range(700)] + [key("b")]  # past one IN list: filtered after the scan
    assert set(store.latest_facts_once(many)) == {key("b")}
    assert store.latest_facts_once([]) == {}


def test_facts_read_once_are_not_kept(store):
    """A one-shot read leaves the store's decode caches as they were: a later ``latest_facts``
    decodes (and keeps) for itself, and hands back events, not summaries."""
    _history(store)
    store.latest_facts_once()
    assert not store._latest._cache
    assert not store._partitions._assets
    assert all(type(f.last_materialization) is not SummarizedMaterialization
               for f in store.latest_facts().values())


# --- statuses, healths and rows from summaries ------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _defs(code: str, fail: bool) -> hw.Definitions:
    raw = hw.source_asset("raw", observe=lambda: "s" + code)

    @hw.asset(code_version=code, deps=["raw"])
    def a():
        return 1

    @hw.asset(freshness=hw.FreshnessPolicy.within(timedelta(hours=2)))
    def b(a):
        if fail:
            raise ValueError("b broke")
        return 1

    @hw.asset
    def c(a, b):
        return 1

    @hw.asset
    def d(c):
        return 1

    @hw.check("c", severity="warn")
    def c_small(c):
        return False

    return hw.Definitions(assets=[raw, a, b, c, d], checks=[c_small])


def test_statuses_and_rows_from_summaries_are_those_from_events(tmp_path, store_url):
    """A source observed twice, a code change, a failure with what it skips, a run of ``d``
    alone on stale and failed inputs: every status, health and row the one-shot read gives is
    the decoded read's, and it decoded no materialization to give them."""
    clock = Clock()
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        inst.observe(_defs("1", False))
        assert inst.materialize(_defs("1", False), "*").success
        clock.now += 600
        inst.observe(_defs("2", False))  # a new source version: a and below are stale
        clock.now += 600
        assert not inst.materialize(_defs("2", True), "b+").success  # b fails, c and d skipped
        clock.now += 600
        assert inst.materialize(_defs("2", True), "d").success  # d reads c (stale) while b failed
        clock.now += 3 * 3600
    defs = _defs("2", True)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        once = inst.statuses(defs, once=True)
        decoded = hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock)
        try:
            healths = decoded.healths(defs)
            assert list(once) == list(healths)
            mats = [st.last_materialization for st in once.values() if st.last_materialization is not None]
            assert len(mats) == 4 and all(type(m) is SummarizedMaterialization for m in mats)
            d = once[key("d")]
            assert d.stale and d.ran_on_stale_inputs
            from headwater.core.health import assess

            mine = assess(defs.graph, once, defs.check_specs, inst.store.latest_check_results(), clock())
            rows = [health_to_dict(h, defs.graph) for h in mine.values()]
            assert all(m._full is None for m in mats)  # derived from the summaries alone
            assert rows == [health_to_dict(h, defs.graph) for h in healths.values()]
            assert any("ran on stale inputs" in r for h in mine.values() for r in h.reasons)
            for k, st in once.items():
                assert st == healths[k].status, k
        finally:
            decoded.close()


def _sqlite_reads(tmp_path):  # type: ignore[no-untyped-def]
    """A SQLite store with ``_history`` and check results written, and the standard library's
    reads of it (``storage/sql/sqlite_reads.py``)."""
    from storage_events import checked

    from headwater.storage.sql.sqlite_reads import open_sqlite_reads
    from headwater.storage.sql.store import open_store

    url = f"sqlite:///{tmp_path / 'reads.db'}"
    store = open_store(url)
    _history(store)
    store.write([checked("a", "not_null", passed=False, at=T0 + 120), checked("a", "fresh", at=T0 + 121),
                 checked("c", "not_null", at=T0 + 122)])
    reads = open_sqlite_reads(url)
    assert reads is not None
    return store, reads


@pytest.mark.parametrize("partition", ["", "2026-01-01", "eu"])
def test_the_standard_librarys_reads_are_the_stores(tmp_path, partition):
    """What a ``status`` computed once reads without SQLAlchemy is what the store reads, field
    for field: facts (summaries, nothing fetched until asked), check results, the last event
    id, the assets changed since an event, whether a run is in progress."""
    store, reads = _sqlite_reads(tmp_path)
    try:
        once, got = store.latest_facts_once(partition=partition), reads.latest_facts_once(partition=partition)
        assert got and set(got) == set(once)
        for k, fact in once.items():
            mat = got[k].last_materialization
            if mat is not None:
                _same_summary(mat, store.latest_facts(partition=partition)[k].last_materialization)
            for name in ("key", "partition", "last_observation", "last_attempt_run_id", "last_attempt_status",
                         "last_attempt_at", "last_failure", "last_observation_checked_at"):
                assert getattr(got[k], name) == getattr(fact, name), (k, name)
        assert got == store.latest_facts(partition=partition)  # whole: each summary fetches its event
        assert reads.latest_check_results(partition) == store.latest_check_results(partition)
        assert reads.last_event_id() == store.last_event_id()
        for since in (0, store.last_event_id() - 3, store.last_event_id()):
            assert reads.assets_changed_since(since, partition) == store.assets_changed_since(since, partition)
        assert reads.running() is False
        store.write([started("r3", T0 + 200)])
        assert reads.running() is True and reads.last_event_id() == store.last_event_id()  # no snapshot held
    finally:
        reads.close()
        store.close()


def test_the_standard_librarys_reads_of_some_keys(tmp_path):
    store, reads = _sqlite_reads(tmp_path)
    try:
        assert set(reads.latest_facts_once([key("a"), key("c"), key("nothing")])) == {key("a"), key("c")}
        many = [key(f"k{i}") for i in range(1200)] + [key("b")]  # three IN lists, looked up by key
        assert set(reads.latest_facts_once(many)) == {key("b")}
        assert reads.latest_facts_once([]) == {}
    finally:
        reads.close()
        store.close()


def test_only_a_store_of_this_schema_is_read_without_sqlalchemy(tmp_path):
    """Not a file, not a store, another revision: no reads (the store migrates or refuses)."""
    import sqlite3

    from headwater.storage.sql.sqlite_reads import open_sqlite_reads
    from headwater.storage.sql.store import open_store

    assert open_sqlite_reads(f"sqlite:///{tmp_path / 'none.db'}") is None
    assert open_sqlite_reads("postgresql://postgres@127.0.0.1:5432/test") is None
    (tmp_path / "foreign.db").write_bytes(b"")
    assert open_sqlite_reads(f"sqlite:///{tmp_path / 'foreign.db'}") is None
    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_store(url).close()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0006'")
    assert open_sqlite_reads(url) is None
