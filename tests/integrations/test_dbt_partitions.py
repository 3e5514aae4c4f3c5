"""Partitioned dbt models (issue 10, point 7), on the real project of ``dbt_partition_project.py``:
a daily incremental model built one window per ``dbt build`` with the window as dbt vars,
per-partition status, a failing day, staleness, a single-run backfill configured in
pyproject.toml, and bad partition settings as one-line errors.

The project is parsed once (the ``clicks`` fixture, which also runs the three builds the
tests read); every other load reads its manifest (``parse="never"``)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import dbt_partition_project as dp
import duckdb
import pytest

import headwater as hw
from headwater.core.events import AssetMaterialized
from headwater.core.status import MaterializationStatus
from headwater.definitions.loader import find_location, load_definitions
from headwater.integrations.dbt.config import load_from_config

pytestmark = pytest.mark.slow

K = hw.AssetKey.parse
D1, D2, D3, D4 = dp.DAYS
DAILY = hw.DailyPartitions(start="2026-01-01", end="2026-01-05")


class DailyEvents(hw.dbt.DbtTranslator):
    """The translator's way: ``partitions(node)`` decides, model by model."""

    def partitions(self, node):
        return DAILY if node.name == "fct_daily_events" else None


LANDED: list[Path] = []


@hw.asset(key="raw/events")
def land_events():
    """A Python asset loads the raw table the dbt source reads."""
    dp.write_raw(LANDED[0])


@hw.asset(partitions=DAILY, deps=["fct_daily_events"])
def events_report(context):
    """A Python asset reading one day of the dbt model."""
    return context.partition_key


@dataclass
class Clicks:
    root: Path
    defs: hw.Definitions
    instance: hw.Instance
    first: hw.RunResult     # '*' for 2026-01-01..02
    failing: hw.RunResult   # 'fct_daily_events+' for 2026-01-03 (a value that does not cast)
    relanded: hw.RunResult  # 'raw/events' loaded again: every day of fct_daily_events built is stale


@pytest.fixture(scope="module")
def clicks_project(tmp_path_factory: pytest.TempPathFactory):
    """The project written and parsed (the one ``dbt parse``), nothing built."""
    pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is not installed (pip install -e '.[dbt]')")
    root = dp.write_project(tmp_path_factory.mktemp("dbt") / "clicks")
    LANDED[:] = [root / "dev.duckdb"]
    return hw.dbt.load(root, translator=DailyEvents(produced_elsewhere=["raw/events"]))


@pytest.fixture(scope="module")
def clicks(clicks_project, tmp_path_factory: pytest.TempPathFactory):
    root = clicks_project.project_dir
    defs = clicks_project.definitions(assets=[land_events, events_report])
    with hw.Instance(home=tmp_path_factory.mktemp("home")) as instance:
        first = instance.materialize(defs, "*", partition_range=(D1, D2))
        failing = instance.materialize(defs, "fct_daily_events+", partition=D3)
        relanded = instance.materialize(defs, "raw/events")  # Python only: no dbt
        yield Clicks(root, defs, instance, first, failing, relanded)


def _materializations(instance: hw.Instance, run: hw.RunResult, key: str) -> dict[str, AssetMaterialized]:
    events = [e.event for e in instance.run_events(run.run_id)]
    return {e.partition: e for e in events if isinstance(e, AssetMaterialized) and e.key == K(key)}


def test_each_window_is_one_dbt_build_told_its_window_by_vars(clicks):
    assert clicks.first.success, clicks.first.errors
    steps = {s.key: s for s in clicks.first.plan.steps}
    # models split by partitions: the view, the daily model per window, the summary over all days
    assert set(steps) == {"raw/events", "dbt_clicks", f"dbt_clicks_daily[{D1}]", f"dbt_clicks_daily[{D2}]",
                          "dbt_clicks_unpartitioned", f"events_report[{D1}]", f"events_report[{D2}]"}
    assert steps[f"dbt_clicks_daily[{D1}]"].deps == {"dbt_clicks"}
    assert steps["dbt_clicks_unpartitioned"].deps == {f"dbt_clicks_daily[{D1}]", f"dbt_clicks_daily[{D2}]"}
    assert steps[f"events_report[{D2}]"].deps == {f"dbt_clicks_daily[{D2}]"}
    mats = _materializations(clicks.instance, clicks.first, "fct_daily_events")
    assert set(mats) == {D1, D2}
    assert mats[D1].metadata["dbt/vars"] == {"partition_key": D1, "start": "2026-01-01T00:00:00+00:00",
                                             "end": "2026-01-02T00:00:00+00:00"}
    assert mats[D1].metadata["dbt/invocation_id"] != mats[D2].metadata["dbt/invocation_id"]
    # exactly the rows of the windows built landed; the failed day wrote nothing
    assert dp.rows_by_day(clicks.root / "dev.duckdb") == {D1: 3, D2: 3}
    # an unpartitioned incremental model is built as before: whole, with no window vars
    assert dp.rows_by_day(clicks.root / "dev.duckdb", "fct_daily_totals") == {d: 1 for d in dp.DAYS}
    assert "dbt/vars" not in _materializations(clicks.instance, clicks.first, "fct_daily_totals")[""].metadata


def test_status_is_per_partition_with_the_failed_day_and_the_stale_ones(clicks):
    assert not clicks.failing.success
    assert "oops" in " ".join(e.message for e in clicks.failing.errors.values())
    statuses = clicks.instance.statuses(clicks.defs)
    fct = statuses[K("fct_daily_events")].partitions
    assert (fct.materialized, fct.failed, fct.missing, fct.stale) == (2, 1, 1, 2)
    assert fct.statuses[D3].status is MaterializationStatus.FAILED
    assert fct.statuses[D4].status is MaterializationStatus.MISSING
    why = " ".join(clicks.instance.why(clicks.defs, f"fct_daily_events[{D1}]"))
    assert "stale" in why and "stg_events" in why and "raw/events" in why, why
    assert clicks.relanded.success
    # the Python asset downstream: the days whose dbt window was built; the failed day's skipped
    report = statuses[K("events_report")].partitions
    assert report.materialized == 2 and report.statuses[D3].status is not MaterializationStatus.MATERIALIZED
    # the summary read every day of the model while two were missing, and was not rebuilt on the failure
    summary = statuses[K("daily_summary")]
    assert summary.status is MaterializationStatus.MATERIALIZED and summary.ran_on_stale_inputs
    assert not _materializations(clicks.instance, clicks.failing, "daily_summary")
    # the model's dbt test is a check per partition: it ran in each window's build
    checks = [e.event for e in clicks.instance.run_events(clicks.first.run_id)
              if type(e.event).__name__ == "CheckEvaluated" and e.event.key == K("fct_daily_events")]
    assert sorted((c.partition, c.passed) for c in checks) == [(D1, True), (D2, True)]


def test_a_single_run_backfill_configured_in_pyproject_is_one_dbt_build_for_the_range(clicks, tmp_path):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.headwater.dbt]
        project_dir = "{clicks.root}"
        parse = "never"

        [tool.headwater.dbt.partitions.fct_daily_totals]
        daily = "2026-01-01"
        end = "2026-01-05"
        start_var = "min_date"
        end_var = "max_date"
        backfill = "single_run"
        """))
    defs = load_definitions(find_location(cwd=tmp_path))
    assert defs.graph.spec(K("fct_daily_totals")).partitions == DAILY
    assert defs.graph.spec(K("fct_daily_events")).partitions is None
    with duckdb.connect(str(clicks.root / "dev.duckdb")) as con:
        con.execute("delete from main.fct_daily_totals")
    with hw.Instance(home=tmp_path / "home") as instance:
        backfill = instance.launch_backfill(defs, "fct_daily_totals", partition_range=(D2, D3))
        instance.run_backfill(defs, backfill.backfill_id)
        runs = instance.backfill_runs(backfill.backfill_id)
        assert len(runs) == 1
        mats = {p: m.metadata for p, m in _materializations(instance, runs[0], "fct_daily_totals").items()}
        parts = instance.statuses(defs)[K("fct_daily_totals")].partitions
    assert set(mats) == {D2, D3} and mats[D2]["dbt/invocation_id"] == mats[D3]["dbt/invocation_id"]
    assert mats[D2]["dbt/vars"] == {"partition_key": [D2, D3], "min_date": "2026-01-02T00:00:00+00:00",
                                    "max_date": "2026-01-04T00:00:00+00:00"}
    assert dp.rows_by_day(clicks.root / "dev.duckdb", "fct_daily_totals") == {D2: 1, D3: 1}
    assert (parts.materialized, parts.missing) == (2, 2)


def _load(project, partitions):
    return hw.dbt.load(project.project_dir, parse="never", translator=hw.dbt.DbtTranslator(partitions=partitions))


@pytest.mark.parametrize("partitions, message", [
    ({"fct_daily_event": DAILY}, "dbt partitions selection 'fct_daily_event': no asset named 'fct_daily_event' (did you mean "
                                    "'fct_daily_events'"),
    ({"tag:hourly": DAILY}, "'tag:hourly' selects no model, seed or snapshot of dbt project 'clicks'"),
    (lambda: {"fct_daily_events": hw.dbt.DbtPartitions(DAILY, start_var="from date")},
     "start_var 'from date' is not a dbt var name"),
    ({"fct_daily_events": DAILY, "fct_*": hw.HourlyPartitions(start="2026-01-01-00:00")},
     "dbt model fct_daily_events is partitioned by two selections that disagree"),
    ({"daily_summary": hw.StaticPartitions(["eu", "us"]), "fct_daily_events": DAILY},
     "dbt model daily_summary (static: eu, us) reads fct_daily_events (daily from 2026-01-01 (UTC)): no partition "
     "mapping fits; partition it like fct_daily_events, or return a mapping from DbtTranslator.partition_mapping"),
])
def test_bad_partitions_are_a_one_line_error_naming_the_culprit(clicks_project, partitions, message):
    with pytest.raises(hw.HeadwaterError) as info:
        _load(clicks_project, partitions() if callable(partitions) else partitions).definitions()
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("rule, message", [
    ({"daily": "2026-01-01", "hourly": "2026-01-01-00:00"}, "needs exactly one of hourly, daily, weekly, monthly, cron, "
                                                            "static, dynamic, not hourly, daily"),
    ({"every": "day"}, "unknown key(s) every"),
    ({"daily": "2026-01-01", "key_var": "start"}, "start_var, end_var and key_var must differ"),
    ({"daily": "the first of january"}, "start 'the first of january' is not a date like 2026-01-01"),
    ({"daily": "2026-01-01", "end_offset": "1"}, "end_offset must be a whole number of windows, not '1'"),
    ({"daily": "2026-01-01", "backfill": "chunks"}, 'backfill must be "single_run" or "multi_run"'),
    ({"static": "eu"}, "static must be a list of keys"),
])
def test_a_bad_partitions_table_in_pyproject_names_the_file_and_selection(clicks_project, rule, message):
    root = clicks_project.project_dir
    table = {"project_dir": str(root), "parse": "never", "partitions": {"fct_daily_events": rule}}
    with pytest.raises(hw.DefinitionError) as info:
        load_from_config(table, root, "[tool.headwater.dbt] in pyproject.toml")
    text = str(info.value)
    assert text.startswith("[tool.headwater.dbt] in pyproject.toml: partitions['fct_daily_events']")
    assert message in text and "\n" not in text


class RollingSummary(hw.dbt.DbtTranslator):
    """Two daily models; the summary reads a rolling week of the daily model."""

    def partitions(self, node):
        if node.name == "fct_daily_events":
            return hw.dbt.DbtPartitions(DAILY, start_var="min_date", end_var="max_date", max_partitions_per_run=7)
        return hw.dbt.DbtPartitions(DAILY, max_partitions_per_run=7) if node.name == "daily_summary" else None

    def partition_mapping(self, node, parent):
        return hw.TimeWindowMapping(start_offset=-6) if node.name == "daily_summary" else None


def test_the_translator_partitions_models_and_maps_their_partitions(clicks_project):
    project = hw.dbt.load(clicks_project.project_dir, parse="never",
                          translator=RollingSummary(produced_elsewhere=["raw/events"]))
    defs = project.definitions(assets=[land_events, events_report])
    summary, fct = K("daily_summary"), K("fct_daily_events")
    assert defs.graph.mapping(summary, fct) == hw.TimeWindowMapping(start_offset=-6)
    assert defs.graph.spec(fct).max_partitions_per_run == 7
    # same partitions, one after the other: one multi-asset, so one dbt build per window builds both
    assert {str(k) for k in defs.definition_for(fct).keys} == {"fct_daily_events", "daily_summary"}
    assert defs.definition_for(K("stg_events")).name == "dbt_clicks"
    assert project.partitioning[fct].start_var == "min_date"
    with hw.Instance.ephemeral() as instance:
        plan, _view, _sel = instance.plan(defs, "fct_daily_events+",
                                          partitions=instance.partition_targets(defs, None, D1, D4))
    # up to 7 days per dbt build: the four days are one step; the Python asset is one step per day
    assert sorted(s.key for s in plan.steps) == [f"dbt_clicks_daily[{D1}...{D4}]",
                                                 *(f"events_report[{d}]" for d in dp.DAYS)]
