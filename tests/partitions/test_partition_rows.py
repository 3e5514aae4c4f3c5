"""Partitions read as rows give the status derived from every partition's facts (issue 10, point 10).

A cold status tells a settled partition from its stored row and builds its ``AssetStatus``
only when asked (``core.partition_rows``, ``PartitionStatuses``). These tests write a store
with partitions in every state — missing, materialized, rebuilt after their readers read
them, failed, running, skipped, canceled, of an old code version, with changed deps, read
through identity, window and all-partitions mappings, time-windowed and static — and compare,
field by field, the status from the rows with the one derived from fully built facts (the
path that builds every ``AssetFacts`` first), and the roll-up with one recomputed here from
every partition's status. Then again after more writes, through the incremental pass.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest

import headwater as hw
from headwater.core.events import (
    AssetMaterialized,
    ErrorInfo,
    InputRecord,
    RunStarted,
    StepFailed,
    StepSkipped,
    StepStarted,
)
from headwater.core.partition_rows import PartitionRows
from headwater.core.partitions import PartitionContext, TimeWindowPartitions
from headwater.core.status import MaterializationStatus, PartitionInputs, StatusPass, compute_statuses
from headwater.storage.sql.store import open_store

K = hw.AssetKey.parse
START = date(2026, 1, 1)
DAYS = 12
T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
NOW = T0 + DAYS * 86400 + 3600


def day(i: int) -> str:
    return (START + timedelta(days=i)).isoformat()


def build() -> hw.Definitions:
    daily = hw.DailyPartitions(start=START.isoformat())
    regions = hw.StaticPartitions(["eu", "us", "ap", "sa"])

    @hw.asset(partitions=daily, code_version="2")
    def events():
        return 1

    @hw.asset(partitions=daily, deps=[hw.Dep("events", mapping=hw.TimeWindowMapping(start_offset=-2))])
    def rolling():
        return 1

    @hw.asset(partitions=daily, deps=["rolling"])
    def report():
        return 1

    @hw.asset(deps=["events"])  # unpartitioned: reads every day
    def summary():
        return 1

    @hw.asset(partitions=regions)
    def sales():
        return 1

    @hw.asset(partitions=regions, deps=["sales"])
    def margins():
        return 1

    return hw.Definitions(assets=[events, rolling, report, summary, sales, margins])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    url = (f"sqlite:///{tmp_path / 'headwater.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_schema_url"))
    s = open_store(url)
    yield s
    s.close()


def mat(key: str, partition: str, version: str, t: float, inputs: list[tuple[str, str, str | None]] = (),  # type: ignore[assignment]
        deps: tuple[str, ...] = (), code: str | None = None, run: str = "r1") -> AssetMaterialized:
    return AssetMaterialized(run_id=run, timestamp=t, key=K(key), partition=partition, data_version=version,
                             data_time=t - 60, code_version=code, deps=tuple(K(d) for d in deps),
                             inputs=tuple(InputRecord(K(k), v, t, partition=p) for k, p, v in inputs))


def first_writes() -> list[object]:
    out: list[object] = [RunStarted(run_id="r1", timestamp=T0)]
    events = {i: f"e{i}" for i in range(10)}  # days 10, 11: never built
    for i, v in events.items():
        out.append(mat("events", day(i), v, T0 + 100 + i, code="1" if i == 7 else "2"))
    for i in range(9):
        window = [j for j in range(i - 2, i + 1) if j >= 0]
        out.append(mat("rolling", day(i), f"r{i}", T0 + 200 + i, [("events", day(j), events[j]) for j in window],
                       ("events",)))
    for i in range(9):
        read = "old" if i == 1 else f"r{i}"
        out.append(mat("report", day(i), f"p{i}", T0 + 300 + i, [("rolling", day(i), read)], ("rolling",)))
    out.append(mat("summary", "", "s", T0 + 400, [("events", day(i), v) for i, v in events.items()], ("events",)))
    for n, region in enumerate(("eu", "us", "ap")):  # sa: never built
        out.append(mat("sales", region, f"s-{region}", T0 + 500 - 10 * n))
    out.append(mat("margins", "eu", "m-eu", T0 + 600, [("sales", "eu", "s-eu")], ("sales",)))
    out.append(mat("margins", "us", "m-us", T0 + 601, [("sales", "us", "s-us")], ()))  # deps changed since
    out.append(mat("margins", "ap", "m-ap", T0 + 602, [("sales", "ap", "s-ap")], ("sales",)))
    # After its readers read it: day 3 rebuilt, day 5 failed, day 6 running, day 8 skipped.
    out.append(mat("events", day(3), "e3b", T0 + 700, code="2", run="r2"))
    out.append(StepFailed(run_id="r2", timestamp=T0 + 701, step_key="events", asset_keys=(K("events"),),
                          partitions=(day(5),), error=ErrorInfo("boom")))
    out.append(StepStarted(run_id="r3", timestamp=T0 + 702, step_key="events", asset_keys=(K("events"),),
                           partitions=(day(6),)))
    out.append(StepSkipped(run_id="r2", timestamp=T0 + 703, step_key="events", asset_keys=(K("events"),),
                           partitions=(day(8),)))
    return out


def later_writes() -> list[object]:
    return [mat("events", day(4), "e4b", T0 + 800, code="2", run="r4"),
            mat("events", day(10), "e10", T0 + 801, code="2", run="r4"),
            StepFailed(run_id="r4", timestamp=T0 + 802, step_key="report", asset_keys=(K("report"),),
                       partitions=(day(2),), error=ErrorInfo("late")),
            mat("sales", "sa", "s-sa", T0 + 803, run="r4")]


def fully_built(pf):  # type: ignore[no-untyped-def]
    """Every partition's facts built: the path that reads no row."""
    out = {}
    for key, per in pf.items():
        assert type(per) is PartitionRows
        out[key] = {p: per[p] for p in per}
    return out


def assert_same(defs: hw.Definitions, lazy, eager) -> None:  # type: ignore[no-untyped-def]
    ctx = PartitionContext(NOW)
    for key in defs.graph.keys:
        a, b = lazy[key], eager[key]
        if b.partitions is None:
            assert a == b, key
            continue
        keys = ctx.keys(defs.graph.spec(key).partitions)
        assert list(a.partitions.statuses) == list(b.partitions.statuses) == list(keys)
        for p in keys:
            assert a.partitions.statuses[p] == b.partitions.statuses[p], (key, p)
            assert a.partitions.statuses.state(p) == (b.partitions.statuses[p].status, b.partitions.statuses[p].stale)
        assert a.partitions.counts() == b.partitions.counts(), key
        assert a == b, key
        assert_roll_up(defs, key, a)


def assert_roll_up(defs: hw.Definitions, key: hw.AssetKey, rolled) -> None:  # type: ignore[no-untyped-def]
    """The roll-up recomputed here from every partition's status."""
    ps = rolled.partitions
    every = [ps.statuses[p] for p in ps.keys]
    states = [s.status for s in every]
    for name in ("materialized", "missing", "failed", "running"):
        assert getattr(ps, name) == states.count(MaterializationStatus(name)), (key, name)
    assert ps.stale == sum(s.stale for s in every)
    built = [s for s in every if s.last_materialization is not None]
    if isinstance(defs.graph.spec(key).partitions, TimeWindowPartitions):
        newest = built[-1] if built else None
        data_time = newest.data_time if newest else None
    else:
        newest = max(built, key=lambda s: s.last_materialization.timestamp) if built else None
        times = [s.data_time for s in every if s.data_time is not None]
        data_time = min(times) if times else None
    assert rolled.last_materialization == (newest.last_materialization if newest else None)
    assert rolled.data_time == data_time
    assert rolled.failure == next((s.failure for s in every if s.failure is not None), None)
    stale = [s for s in every if s.stale]
    assert rolled.stale is bool(stale)
    assert [c.detail for c in rolled.causes] == [f"[{stale[-1].partition}] {c.detail}" for c in stale[-1].causes] \
        if stale else rolled.causes == ()


def test_statuses_from_rows_equal_statuses_from_every_partitions_facts(store):  # type: ignore[no-untyped-def]
    defs = build()
    store.write(first_writes())
    ctx = PartitionContext(NOW)
    facts = store.latest_facts(defs.graph.keys)
    pf = store.partition_facts(defs.graph.partitioned)
    lazy = compute_statuses(defs.graph, facts, PartitionInputs(pf, ctx))
    eager = compute_statuses(defs.graph, facts, PartitionInputs(fully_built(pf), PartitionContext(NOW)))
    assert_same(defs, lazy, eager)
    # The scenario covers what it means to: every state, stale through each kind of mapping.
    events = eager[K("events")].partitions
    assert (events.materialized, events.missing, events.failed, events.running, events.stale) == (8, 2, 1, 1, 1)
    assert eager[K("rolling")].partitions.with_state("stale") == [day(i) for i in (3, 4, 5, 7, 8)]
    assert eager[K("report")].partitions.with_state("stale") == [day(i) for i in (1, 3, 4, 5, 7, 8)]
    assert eager[K("summary")].stale and eager[K("margins")].partitions.with_state("stale") == ["us"]


def test_a_cold_roll_up_builds_only_what_it_shows(store):  # type: ignore[no-untyped-def]
    defs = build()
    store.write([mat("sales", r, f"s-{r}", T0 + n) for n, r in enumerate(("eu", "us", "ap", "sa"))])
    pf = store.partition_facts(defs.graph.partitioned)
    out = compute_statuses(defs.graph, {}, PartitionInputs(pf, PartitionContext(NOW)))
    cells = out[K("sales")].partitions.statuses.cells
    assert [type(c).__name__ for c in cells.values()] == ["tuple", "tuple", "tuple", "AssetStatus"]  # the newest
    assert out[K("sales")].last_materialization.data_version == "s-sa"
    # It copies and compares as the dict it stands for.
    statuses = out[K("sales")].partitions.statuses
    assert copy.copy(statuses) == dict(statuses) == statuses and type(copy.copy(statuses)) is dict
    assert statuses.get("nowhere") is None and "nowhere" not in statuses and len(statuses) == 4


def test_the_incremental_pass_over_rows_equals_a_fresh_one(store):  # type: ignore[no-untyped-def]
    defs = build()
    store.write(first_writes())
    incremental = StatusPass()
    ctx = PartitionContext(NOW)
    first = incremental.compute(defs.graph, store.latest_facts(defs.graph.keys),
                                PartitionInputs(store.partition_facts(defs.graph.partitioned), ctx))
    for key in (K("events"), K("rolling"), K("sales")):  # some partitions asked for in between, as a page would
        shown = first[key].partitions.statuses
        assert all(shown[p].key == key for p in list(shown)[::3])
    store.write(later_writes())
    facts = store.latest_facts(defs.graph.keys)
    pf = store.partition_facts(defs.graph.partitioned)
    again = incremental.compute(defs.graph, facts, PartitionInputs(pf, ctx))
    eager = compute_statuses(defs.graph, facts, PartitionInputs(fully_built(pf), PartitionContext(NOW)))
    assert_same(defs, again, eager)
    assert eager[K("rolling")].partitions.with_state("stale") == [day(i) for i in (3, 4, 5, 6, 7, 8)]
    assert eager[K("report")].partitions.failed == 1 and eager[K("sales")].partitions.missing == 0
