"""Per-partition staleness through mappings equals a brute-force recomputation (issue 10, point 3).

The brute force knows nothing of mappings or of ``core.partition_status``: it computes each
child day's window with date arithmetic and compares versions itself.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

import headwater as hw
from headwater.core.events import AssetMaterialized, InputRecord
from headwater.core.partitions import PartitionContext
from headwater.core.records import AssetFacts
from headwater.core.status import PartitionInputs, StatusPass, compute_statuses

START = date(2026, 1, 1)
K = hw.AssetKey


def day(i: int) -> str:
    return (START + timedelta(days=i)).isoformat()


def build(offset: int):
    daily = hw.DailyPartitions(start=START.isoformat())

    @hw.asset(partitions=daily)
    def events():
        return 1

    @hw.asset(partitions=daily, deps=[hw.Dep("events", mapping=hw.TimeWindowMapping(start_offset=offset))])
    def rolling():
        return 1

    @hw.asset(partitions=daily, deps=["rolling"])
    def report():
        return 1

    @hw.asset(deps=["events"])  # unpartitioned: reads every partition
    def summary():
        return 1

    return hw.Definitions(assets=[events, rolling, report, summary])


def mat(key: str, partition: str, version: str, inputs: list[tuple[str, str, str | None]], t: float,
        deps: tuple[str, ...] = ()) -> AssetMaterialized:
    return AssetMaterialized(
        run_id="r", timestamp=t, key=K((key,)), partition=partition, data_version=version, data_time=t,
        inputs=tuple(InputRecord(K((k,)), v, t, partition=p) for k, p, v in inputs), deps=tuple(K((d,)) for d in deps))


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    days = draw(st.integers(min_value=2, max_value=15))
    offset = draw(st.integers(min_value=-4, max_value=0))
    built = draw(st.lists(st.booleans(), min_size=days, max_size=days))  # events day materialized?
    rebuilt = draw(st.lists(st.booleans(), min_size=days, max_size=days))  # ... and again, after readers read it
    rolled = draw(st.lists(st.booleans(), min_size=days, max_size=days))  # rolling day materialized?
    reported = draw(st.lists(st.booleans(), min_size=days, max_size=days))
    report_after = draw(st.lists(st.booleans(), min_size=days, max_size=days))  # report read the newest rolling?
    summary_reads = draw(st.sets(st.integers(min_value=0, max_value=days - 1)))
    return days, offset, built, rebuilt, rolled, reported, report_after, summary_reads


def _facts(defs, days, offset, built, rebuilt, rolled, reported, report_after, summary_reads):  # type: ignore[no-untyped-def]
    """Stored facts for one scenario, and the brute-force answer: which partitions are stale."""
    first = {i: f"e{i}" for i in range(days) if built[i]}
    now_v = {i: (f"e{i}'" if rebuilt[i] else v) for i, v in first.items()}
    pf: dict = {K(("events",)): {}, K(("rolling",)): {}, K(("report",)): {}}
    for i, v in now_v.items():
        pf[K(("events",))][day(i)] = AssetFacts(K(("events",)), day(i), mat("events", day(i), v, [], 10.0))
    stale_rolling: set[str] = set()
    for i in range(days):
        if not rolled[i]:
            continue
        window = [j for j in range(i + offset, i + 1) if 0 <= j < days]
        inputs = [("events", day(j), first.get(j)) for j in window]  # what it read then
        pf[K(("rolling",))][day(i)] = AssetFacts(
            K(("rolling",)), day(i), mat("rolling", day(i), f"r{i}", inputs, 20.0, ("events",)))
        if any(j in now_v and now_v[j] != first.get(j) for j in window):
            stale_rolling.add(day(i))
    stale_report: set[str] = set()
    for i in range(days):
        if not reported[i]:
            continue
        has_parent = rolled[i]
        read = f"r{i}" if (has_parent and report_after[i]) else ("old" if has_parent else None)
        pf[K(("report",))][day(i)] = AssetFacts(
            K(("report",)), day(i), mat("report", day(i), f"p{i}", [("rolling", day(i), read)], 30.0, ("rolling",)))
        if (has_parent and read != f"r{i}") or day(i) in stale_rolling:
            stale_report.add(day(i))
    summary_inputs = [("events", day(j), first.get(j)) for j in sorted(summary_reads)]
    facts = {K(("summary",)): AssetFacts(K(("summary",)), "", mat("summary", "", "s", summary_inputs, 40.0, ("events",)))}
    read_by_summary = {j: first.get(j) for j in summary_reads}
    summary_stale = any(now_v[j] != read_by_summary.get(j, None) for j in now_v)
    return facts, pf, stale_rolling, stale_report, summary_stale


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_staleness_per_partition_equals_brute_force(scenario):  # type: ignore[no-untyped-def]
    days, offset, *_ = scenario
    defs = build(offset)
    facts, pf, stale_rolling, stale_report, summary_stale = _facts(defs, *scenario)
    ctx = PartitionContext(_now(days))
    statuses = compute_statuses(defs.graph, facts, PartitionInputs(pf, ctx))
    rolling = statuses[K(("rolling",))].partitions
    assert rolling.total == days
    assert set(rolling.with_state("stale")) == stale_rolling
    assert set(statuses[K(("report",))].partitions.with_state("stale")) == stale_report
    assert statuses[K(("summary",))].stale is summary_stale
    assert statuses[K(("rolling",))].stale is bool(stale_rolling)
    # The incremental pass agrees with the one from scratch: first over the store before the
    # parent days were rebuilt, then after, with every unchanged fact the same object.
    before = {k: dict(v) for k, v in pf.items()}
    rebuilt = scenario[3]
    for i in range(days):
        if rebuilt[i] and day(i) in before[K(("events",))]:
            before[K(("events",))][day(i)] = AssetFacts(K(("events",)), day(i), mat("events", day(i), f"e{i}", [], 9.0))
    incremental = StatusPass()
    first = incremental.compute(defs.graph, facts, PartitionInputs(before, ctx))
    assert first[K(("rolling",))].partitions.stale == 0
    again = incremental.compute(defs.graph, facts, PartitionInputs(pf, ctx))
    for key in (K(("rolling",)), K(("report",))):
        assert again[key].partitions.with_state("stale") == statuses[key].partitions.with_state("stale")
        assert again[key].partitions.counts() == statuses[key].partitions.counts()
    assert again[K(("summary",))].stale is summary_stale
    assert incremental.compute(defs.graph, facts, PartitionInputs(pf, ctx))[K(("rolling",))] is again[K(("rolling",))]


def _now(days: int) -> float:
    from datetime import datetime

    return datetime(2026, 1, 1, tzinfo=UTC).timestamp() + days * 86400 + 3600


def test_a_child_of_365_days_sees_every_one_of_them():
    """No cut-off: an unpartitioned summary over a year of days notices the one that changed."""
    defs = build(0)
    days = 365
    pf = {K(("events",)): {day(i): AssetFacts(K(("events",)), day(i), mat("events", day(i), f"e{i}", [], 1.0))
                           for i in range(days)}, K(("rolling",)): {}, K(("report",)): {}}
    read = [("events", day(i), f"e{i}") for i in range(days)]
    facts = {K(("summary",)): AssetFacts(K(("summary",)), "", mat("summary", "", "s", read, 2.0, ("events",)))}
    ctx = PartitionContext(_now(days))
    assert not compute_statuses(defs.graph, facts, PartitionInputs(pf, ctx))[K(("summary",))].stale
    pf[K(("events",))][day(200)] = AssetFacts(K(("events",)), day(200), mat("events", day(200), "changed", [], 3.0))
    summary = compute_statuses(defs.graph, facts, PartitionInputs(pf, ctx))[K(("summary",))]
    assert summary.stale
    assert [c.detail for c in summary.causes] == [
        f"events[{day(200)}] has a new data version changed (materialized in run r); summary read 'e200'"]
