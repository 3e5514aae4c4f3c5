"""Executing partitions: a step per partition (or per range), failures, retries, from-failure,
stale-only, the queue, dynamic keys and bad input (issue 10, points 4 and 9)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import headwater as hw
from headwater.core.events import RunStatus
from headwater.errors import HeadwaterError

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 10, 12, tzinfo=BERLIN).timestamp()
K = hw.AssetKey
daily = hw.DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
regions = hw.StaticPartitions(["eu", "us", "apac"])
SEEN: list[tuple[str, object]] = []
FLAKY: dict[str, int] = {}


@hw.asset(partitions=daily)
def events(context):
    SEEN.append(("events", context.partition_key))
    return {"day": context.partition_key, "window": (context.time_window.start, context.time_window.end)}


@hw.asset(partitions=hw.MultiPartitions(day=daily, region=regions))
def sales(context, events):
    if context.partition_key in ("2026-01-05|us",) and context.tags.get("broken_us") == "1":
        raise ValueError("the us feed is broken")
    return f"{events['day']}:{context.partition_key}"


@hw.asset(partitions=daily, deps=[hw.Dep("events", mapping=hw.TimeWindowMapping(start_offset=-2))])
def events_3d(events):
    return sorted(e["day"] for e in events.values())  # {partition: value} of the days that exist


@hw.asset(deps=[hw.Dep("sales", mapping=hw.AllPartitions())])
def sales_summary():
    return "summary"


@hw.asset(partitions=daily, backfill_policy="single_run", retry=hw.RetryPolicy(max_retries=1, delay=0))
def bulk(context):
    SEEN.append(("bulk", (tuple(context.partition_keys), context.time_window)))
    if FLAKY.get("bulk", 0) > 0:
        FLAKY["bulk"] -= 1
        raise RuntimeError("flaky warehouse")
    return {k: k.upper() for k in context.partition_keys}


customers = hw.DynamicPartitions("customers")


@hw.asset(partitions=customers)
def customer_report(context):
    return context.partition_key


DEFS = hw.Definitions(assets=[events, sales, events_3d, sales_summary, bulk, customer_report])


@pytest.fixture
def inst(tmp_path):
    SEEN.clear()
    FLAKY.clear()
    with hw.Instance(home=tmp_path / "home", clock=lambda: NOW) as instance:
        yield instance


def test_a_range_builds_one_step_per_partition_with_its_own_window(inst):
    result = inst.materialize(DEFS, "events", partition_range=("2026-01-02", "2026-01-04"))
    assert result.success
    assert sorted(p for k, p in SEEN) == ["2026-01-02", "2026-01-03", "2026-01-04"]
    assert sorted(s.key for s in result.plan.steps) == ["events[2026-01-02]", "events[2026-01-03]",
                                                        "events[2026-01-04]"]
    value = result.instance.values.load(K(("events",)), "2026-01-03",
                                        result.outcome.partition_materializations[(K(("events",)), "2026-01-03")].value_ref)
    start, end = value["window"]
    assert start == datetime(2026, 1, 3, tzinfo=BERLIN).timestamp() and end - start == 86400
    pset = inst.statuses(DEFS)[K(("events",))].partitions
    assert (pset.total, pset.materialized, pset.missing) == (9, 3, 6)
    assert inst.partition_status(DEFS, "events[2026-01-03]").status.value == "materialized"


def test_without_a_partition_the_newest_window_is_built(inst):
    result = inst.materialize(DEFS, "events")
    assert [s.partitions for s in result.plan.steps] == [("2026-01-09",)]


def test_a_failed_partition_skips_only_what_reads_it(inst):
    inst.materialize(DEFS, "events", partition_range=("2026-01-03", "2026-01-05"))
    result = inst.materialize(DEFS, "sales+", partition="2026-01-05", tags={"broken_us": "1"})
    assert not result.success
    assert list(result.errors) == ["sales[2026-01-05|us]"]
    assert "sales_summary" in result.outcome.skipped  # reads every sales partition
    statuses = inst.statuses(DEFS)
    sales_parts = statuses[K(("sales",))].partitions
    assert sales_parts.with_state("failed") == ["2026-01-05|us"]
    assert set(sales_parts.with_state("materialized")) == {"2026-01-05|eu", "2026-01-05|apac"}
    assert "the us feed is broken" in "\n".join(inst.why(DEFS, "sales[2026-01-05|us]"))
    health = {h.key: h for h in inst.health(DEFS)}[K(("sales",))]
    assert health.health.value == "degraded" and "1 of 27 partitions failed" in health.reasons[0]

    again = inst.materialize(DEFS, from_failure=result.run_id)
    assert again.success
    assert sorted(s.key for s in again.plan.steps) == ["sales[2026-01-05|us]", "sales_summary"]
    assert inst.statuses(DEFS)[K(("sales",))].partitions.failed == 0


def test_a_changed_day_makes_exactly_the_rolling_windows_that_read_it_stale(inst):
    inst.materialize(DEFS, "events", partition_range=("2026-01-01", "2026-01-09"))
    inst.materialize(DEFS, "events_3d", partition_range=("2026-01-01", "2026-01-09"))
    inst.materialize(DEFS, "events", partition="2026-01-05")
    stale = inst.statuses(DEFS)[K(("events_3d",))].partitions.with_state("stale")
    assert stale == ["2026-01-05", "2026-01-06", "2026-01-07"]
    rerun = inst.materialize(DEFS, "events_3d", mode="stale", partition_range=("2026-01-01", "2026-01-09"))
    assert sorted(s.partitions[0] for s in rerun.plan.steps) == stale
    assert rerun.plan.up_to_date_partitions[K(("events_3d",))] == (
        "2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-08", "2026-01-09")
    assert inst.statuses(DEFS)[K(("events_3d",))].partitions.stale == 0


def test_one_run_over_days_and_what_reads_them_leaves_no_day_stale(inst):
    """Each window day records the versions of the event days the same run built before it:
    the run's view of status sees every partition it records, not only the first."""
    result = inst.materialize(DEFS, "events or events_3d", partition_range=("2026-01-01", "2026-01-09"))
    assert result.success
    statuses = inst.statuses(DEFS)
    assert statuses[K(("events_3d",))].partitions.with_state("stale") == []
    built = statuses[K(("events",))].partitions.statuses
    for day, st in statuses[K(("events_3d",))].partitions.statuses.items():
        read = {i.partition: i.data_version for i in st.last_materialization.inputs}
        assert read and read == {p: built[p].data_version for p in read}, day


def test_a_runs_status_view_sees_each_partition_it_records():
    from headwater.core.events import AssetMaterialized
    from headwater.core.partitions import PartitionContext
    from headwater.core.status import PartitionInputs
    from headwater.execution.status_view import StatusView

    view = StatusView(DEFS.graph, {}, PartitionInputs({}, PartitionContext(NOW)))
    for n, day in enumerate(("2026-01-02", "2026-01-05", "2026-01-06")):
        view.record(AssetMaterialized(run_id="r", timestamp=NOW, key=K(("events",)), partition=day,
                                      data_version=f"v{n}"))
        assert view.partition_status(K(("events",)), day).data_version == f"v{n}"
        assert view.status(K(("events",))).partitions.materialized == n + 1
    view.record_failure(K(("events",)), "r2", NOW + 1, ("2026-01-06",))
    assert view.partition_status(K(("events",)), "2026-01-06").status.value == "failed"
    assert view.partition_status(K(("events",)), "2026-01-05").data_version == "v1"


def test_a_single_run_asset_builds_a_range_in_one_step_and_retries_it(inst):
    FLAKY["bulk"] = 1
    result = inst.materialize(DEFS, "bulk", partition_range=("2026-01-02", "2026-01-05"))
    assert result.success
    assert [s.key for s in result.plan.steps] == ["bulk[2026-01-02...2026-01-05]"]
    calls = [v for k, v in SEEN if k == "bulk"]
    assert len(calls) == 2  # failed once, retried
    keys, window = calls[-1]
    assert keys == ("2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05")
    assert window.end - window.start == 4 * 86400
    made = {p: m for (k, p), m in result.outcome.partition_materializations.items() if k == K(("bulk",))}
    assert sorted(made) == list(keys)
    assert inst.values.load(K(("bulk",)), "2026-01-04", made["2026-01-04"].value_ref) == "2026-01-04"


def test_the_multiprocess_executor_runs_partitions_too(inst):
    result = inst.materialize(DEFS, "events+", partition="2026-01-08", executor="multiprocess", workers=2)
    assert result.success, result.errors
    made = sorted((str(k), p) for k, p in result.outcome.partition_materializations)
    assert ("events_3d", "2026-01-08") in made and ("sales", "2026-01-08|apac") in made
    assert ("sales_summary", "") in made
    mat = result.outcome.partition_materializations[(K(("events_3d",)), "2026-01-08")]
    # It read the one day that exists; the two before it were missing, and it says so.
    assert [(str(i.key), i.partition, i.state.value) for i in mat.inputs] == [
        ("events", "2026-01-06", "missing"), ("events", "2026-01-07", "missing"), ("events", "2026-01-08", "ok")]
    assert inst.statuses(DEFS)[K(("events_3d",))].partitions.statuses["2026-01-08"].ran_on_stale_inputs is True
    assert inst.values.load(K(("events_3d",)), "2026-01-08", mat.value_ref) == ["2026-01-08"]


def test_a_queued_run_keeps_its_partitions(inst):
    run, queued = inst.enqueue(DEFS, "events", partition_range=("2026-01-06", "2026-01-07"))
    assert queued
    result = inst.execute_queued(DEFS, run.run_id)
    assert result.success and sorted(s.partitions[0] for s in result.plan.steps) == ["2026-01-06", "2026-01-07"]
    exact, _ = inst.enqueue(DEFS, "sales", targets={K(("sales",)): ("2026-01-06|eu",)})
    assert [s.partitions for s in inst.execute_queued(DEFS, exact.run_id).plan.steps] == [("2026-01-06|eu",)]


def test_dynamic_keys_are_facts_and_removing_a_built_one_needs_force(inst):
    with pytest.raises(hw.PartitionError, match="no key was added yet"):
        inst.materialize(DEFS, "customer_report", partition="acme")
    assert inst.add_dynamic_partitions("customers", ["acme", "globex", "acme"]) == ("acme", "globex")
    assert inst.add_dynamic_partitions("customers", ["acme"]) == ()
    assert inst.materialize(DEFS, "customer_report", partition="acme").success
    with pytest.raises(hw.PartitionError, match=r"'acme' of 'customers' has materializations.*--force"):
        inst.remove_dynamic_partitions(DEFS, "customers", ["acme"])
    assert inst.remove_dynamic_partitions(DEFS, "customers", ["globex"]) == ("globex",)
    assert inst.dynamic_partition_keys("customers") == ("acme",)
    inst.remove_dynamic_partitions(DEFS, "customers", ["acme"], force=True)
    assert inst.statuses(DEFS)[K(("customer_report",))].partitions.total == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"partition": "2027-01-01"}, r"unknown partition '2027-01-01' of asset events"),
    ({"partition_range": ("2025-01-01", "2026-01-03")}, "outside the partitions of asset events"),
    ({"partition": "nonsense"}, r"unknown partition 'nonsense' of asset events"),
])
def test_bad_partitions_change_nothing(inst, kwargs, message):
    with pytest.raises(hw.PartitionError, match=message):
        inst.materialize(DEFS, "events", **kwargs)
    assert inst.runs() == []
    assert inst.statuses(DEFS)[K(("events",))].partitions.materialized == 0


def test_a_key_with_the_wrong_number_of_dimensions_is_refused(inst):
    with pytest.raises(hw.PartitionError, match=r"has 3 dimension\(s\); it needs 2: day\|region"):
        inst.materialize(DEFS, "sales", partition="2026-01-02|eu|x")
    with pytest.raises(HeadwaterError, match="asset events_3d is not partitioned|not partitioned"):
        inst.partition_status(DEFS, "sales_summary[2026-01-02]")
    assert inst.runs() == [] and RunStatus.FAILED.value == "failed"
