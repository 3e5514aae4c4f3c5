"""The dbt integration against real dbt-core + dbt-duckdb on the project in ``dbt_project.py``.

The project is parsed once and built once per session (``conftest.py``); the tests that
need another run (a subset, a failure, other flags, a cross-system graph, a cancel) make
their own with a fresh instance.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import dbt_project
import pytest

import headwater as hw
from headwater.core.checks import CheckState
from headwater.core.events import (
    AssetFailed,
    AssetMaterialized,
    AssetSkipped,
    CheckEvaluated,
    LogMessage,
    StepFailed,
)
from headwater.core.freshness import FreshnessState
from headwater.core.selection import select
from headwater.core.status import MaterializationStatus, StaleCauseKind

pytestmark = pytest.mark.slow

K = hw.AssetKey.parse
MODELS = {"stg_customers", "stg_orders", "stg_page_views", "stg_countries", "stg_payment_methods", "stg_sessions",
          "int_orders_enriched", "int_customer_orders", "int_customer_geo", "int_sessions_daily",
          "int_orders_incremental", "dim_customers", "fct_orders", "fct_daily_sessions", "mart_revenue_by_country",
          "mart_customer_ltv", "mart_fragile", "mart_after_fragile", "mart_slow"}


def events(instance, run_id, cls):
    return [e.event for e in instance.run_events(run_id) if isinstance(e.event, cls)]


# -- 1. load -------------------------------------------------------------------------------


def test_every_model_seed_and_snapshot_is_an_asset_and_sources_are_source_assets(jaffle):
    defs = jaffle.project.definitions()
    dbt_keys = {str(k) for k in jaffle.project.multi_asset.keys}
    assert dbt_keys == MODELS | {"country_codes", "payment_methods", "customers_snapshot"}
    assert {str(k) for k in defs.sources} == {"shop/orders", "shop/customers", "web/page_views", "weekly_revenue"}
    assert len({k for k in dbt_keys if k in MODELS}) >= 15
    spec = defs.graph.spec
    # ref() and source() are the edges
    assert {str(d) for d in spec(K("stg_orders")).deps} == {"shop/orders"}
    assert {str(d) for d in spec(K("fct_orders")).deps} == {"int_orders_enriched", "dim_customers"}
    assert {str(d) for d in spec(K("stg_countries")).deps} == {"country_codes"}
    assert {str(d) for d in spec(K("customers_snapshot")).deps} == {"shop/customers"}
    # group from the dbt group, else the folder
    assert spec(K("int_orders_enriched")).group == "finance"
    assert (spec(K("stg_orders")).group, spec(K("int_customer_orders")).group, spec(K("fct_orders")).group) == (
        "staging", "intermediate", "marts")
    # owners: meta.owner (model over folder), else the group's owner
    assert spec(K("dim_customers")).owners == ("crm@example.com",)
    assert spec(K("fct_orders")).owners == ("analytics@example.com",)
    assert spec(K("int_orders_enriched")).owners == ("finance@example.com",)
    # tags, description, materialization kind, code version from the checksum
    assert dict(spec(K("stg_orders")).tags) == {"orders": "", "core": ""}
    assert select(defs.graph, "tag:orders") == {K("stg_orders")}
    assert spec(K("stg_orders")).description == "One row per order."
    assert spec(K("int_orders_incremental")).kinds == {"dbt", "incremental"}
    assert spec(K("customers_snapshot")).kinds == {"dbt", "snapshot"}
    assert spec(K("stg_orders")).kinds == {"dbt", "view"}
    node = jaffle.project.node_for("stg_orders")
    assert spec(K("stg_orders")).code_version == node.checksum and len(node.checksum) == 64
    # dbt's source description and freshness come along
    orders = defs.sources[K("shop/orders")]
    assert orders.spec.description == "Orders as the shop system lands them."
    assert orders.spec.freshness == hw.FreshnessPolicy.within(timedelta(hours=24), timedelta(hours=12))
    assert defs.sources[K("web/page_views")].spec.freshness == hw.FreshnessPolicy.within(timedelta(days=2))


def test_tests_become_checks_with_severity_on_the_model_they_are_declared_on(jaffle):
    checks = {(str(c.asset), c.name): c.spec for c in jaffle.project.checks}
    assert checks[("stg_orders", "accepted_values_stg_orders_status__placed__shipped__completed")].severity == "warn"
    assert checks[("stg_orders", "unique_stg_orders_order_id")].severity == "error"
    assert ("stg_customers", "not_null_stg_customers_customer_id") in checks
    # relationships: on the model it is declared on, not the one it points to
    rel = sorted(k for k in checks if k[1].startswith("relationships_"))
    assert rel == [("fct_daily_sessions", "relationships_fct_daily_sessions_visitors__orders__ref_mart_fragile_"),
                   ("stg_orders", "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_")]
    # source tests on source assets; singular tests on the model they read
    assert ("shop/orders", "source_not_null_shop_orders_id") in checks
    assert ("mart_revenue_by_country", "assert_no_negative_revenue") in checks
    assert not checks[("stg_orders", "accepted_values_stg_orders_status__placed__shipped__completed")].blocking


def test_exposures_are_assets_downstream_of_what_they_read_and_unit_tests_are_checks(jaffle):
    defs = jaffle.project.definitions()
    exposure = defs.graph.spec(K("weekly_revenue"))
    assert exposure.is_source and set(exposure.deps) == {K("mart_revenue_by_country"), K("dim_customers")}
    assert exposure.kinds == {"dbt", "exposure", "dashboard"} and exposure.group == "exposures"
    assert exposure.owners == ("finance@example.com",)
    assert exposure.description == "Revenue by country, for the Monday meeting."
    assert exposure.metadata["dbt/url"] == "https://bi.example.com/dashboards/7"
    assert K("weekly_revenue") in select(defs.graph, "fct_orders+")
    assert jaffle.project.key_for("weekly_revenue") == K("weekly_revenue")
    # everything the dashboard needs is one dbt build; the dashboard itself is not run
    with hw.Instance(home=jaffle.dir.parent / "plan-home") as instance:
        plan, _, _ = instance.plan(defs, "+weekly_revenue")
    assert [s.key for s in plan.steps] == ["dbt_jaffle"] and K("weekly_revenue") in plan.sources
    assert K("fct_orders") in plan.steps[0].asset_keys and K("stg_sessions") not in plan.steps[0].asset_keys
    unit = "unit_test.jaffle.int_customer_orders.counts_orders_per_customer"
    assert unit not in jaffle.project.skipped_tests
    (check,) = [c for c in jaffle.project.checks if c.name == "counts_orders_per_customer"]
    assert check.spec.asset == K("int_customer_orders") and check.spec.blocking


# -- 3. execution ------------------------------------------------------------------------------


def test_a_build_records_each_model_with_dbt_metadata_and_test_results_as_checks(built):
    result, instance = built.result, built.instance
    assert result.success, result.errors
    assert {str(k) for k in result.materializations} == {str(k) for k in built.defs.definition_for(
        K("fct_orders")).keys}
    fct = result.materialization("fct_orders").metadata
    assert fct["relation"] == '"dev"."main"."fct_orders"'
    assert fct["execution_time"] > 0 and fct["adapter_response"]["_message"] == "OK"
    assert fct["dbt/materialized"] == "table"
    seed = result.materialization("country_codes").metadata
    assert seed["rows_affected"] == 3
    # ONE dbt invocation for the whole selection
    assert len({m.metadata["dbt/invocation_id"] for m in result.materializations.values()}) == 1
    # tests as check evaluations, recorded right after their model
    log = [e.event for e in instance.run_events(result.run_id)]
    evaluated = {(str(e.key), e.check_name): e for e in log if isinstance(e, CheckEvaluated)}
    warn = evaluated[("stg_orders", "accepted_values_stg_orders_status__placed__shipped__completed")]
    assert not warn.passed and warn.severity == "warn" and "Got 1 result" in warn.description
    assert evaluated[("stg_orders", "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_")].passed
    assert evaluated[("mart_revenue_by_country", "assert_no_negative_revenue")].passed
    position = {id(e): i for i, e in enumerate(log)}
    stg_orders = next(e for e in log if isinstance(e, AssetMaterialized) and str(e.key) == "stg_orders")
    assert position[id(stg_orders)] < position[id(warn)] < position[id(next(
        e for e in log if isinstance(e, AssetMaterialized) and str(e.key) == "fct_orders"))]
    health = instance.healths(built.defs)
    states = {c.name: c.state for c in health[K("stg_orders")].checks}
    assert states["accepted_values_stg_orders_status__placed__shipped__completed"] is CheckState.WARN
    assert states["unique_stg_orders_order_id"] is CheckState.PASSED
    # an error test that dbt judged a warning (warn_if / error_if): a warning, blocking nothing
    [country] = [c for c in health[K("stg_customers")].checks if c.name.startswith("accepted_values_stg_customers")]
    spec = next(c.spec for c in built.defs.checks_for(K("stg_customers")) if c.name == country.name)
    assert spec.severity == "error" and spec.blocking
    assert country.state is CheckState.WARN and country.severity == "warn"
    assert K("dim_customers") in result.materializations
    # the exposure is in the graph, never run
    assert instance.statuses(built.defs)[K("weekly_revenue")].status is MaterializationStatus.UNOBSERVED
    # the data time of a model is that of what it read (its own time when it read no data time)
    assert result.materialization("fct_orders").data_time is not None


def test_models_are_reported_while_dbt_is_still_running(jaffle, built, tmp_path, monkeypatch):
    """The first model's materialization is handed to Headwater while dbt still works (``built``: the
    models it builds read views only the whole build makes)."""
    from headwater.integrations.dbt.invocation import DbtInvocation

    alive_at_yield: list[bool] = []
    original = DbtInvocation.events

    def watching(self):
        for event in original(self):
            alive_at_yield.append(self._proc.poll() is None)
            yield event

    monkeypatch.setattr(DbtInvocation, "events", watching)
    seen: list[tuple[str, bool]] = []
    from headwater.definitions.context import AssetContext

    selected = (K("stg_payment_methods"), K("int_orders_enriched"))
    context = AssetContext(run_id="r1", step_key="dbt", selected_keys=selected, resources={}, log=_NullLog())
    gen = jaffle.project.build(context)
    first = next(gen)
    seen.append((str(first.key), alive_at_yield[-1]))
    rest = list(gen)
    assert seen == [("stg_payment_methods", True)], "the first model arrived only after dbt had exited"
    assert [str(r.key) for r in rest] == ["int_orders_enriched"]


class _NullLog:
    def __getattr__(self, name):
        return lambda message: None


def test_a_subset_runs_one_dbt_build_selecting_just_those_models_with_the_run_tags_flags(jaffle, built, tmp_path,
                                                                                       dbt_commands):
    """One build shows both: the selection, and the run tags setting full refresh and vars for one run.
    (``built``: the tests of stg_orders read stg_customers, which the subset does not build.)"""
    defs = jaffle.project.definitions()
    with hw.Instance(home=tmp_path / "h") as instance:
        result = hw.materialize(defs, "stg_orders or fct_orders", instance=instance, tags={
            "dbt/full_refresh": "true", "dbt/vars": '{"who": "tagged"}'})
        assert result.success, result.errors
        assert set(result.materializations) == {K("stg_orders"), K("fct_orders")}
        [command] = dbt_commands
        i = command.index("--select")
        assert command[0] == "build"
        assert command[i + 1:i + 3] == ["fqn:jaffle.staging.stg_orders", "fqn:jaffle.marts.fct_orders"]
        assert "--full-refresh" in command and command[command.index("--vars") + 1] == '{"who": "tagged"}'
        bad = instance.materialize(defs, "stg_countries", tags={"dbt/vars": "[1, 2]"})
        assert not bad.success
        assert "run tag dbt/vars must be a JSON object, not '[1, 2]'" in bad.errors["dbt_jaffle"].message
        assert len(dbt_commands) == 1  # refused before dbt started


def test_a_failed_model_fails_its_asset_skips_its_downstream_and_the_rest_goes_on(jaffle, built, tmp_path):
    # ``built``: the models it builds read views only the whole build makes
    @hw.asset(deps=["int_orders_incremental"], kinds={"python"})
    def orders_export() -> hw.MaterializeResult:
        return hw.MaterializeResult()

    @hw.asset(deps=["mart_after_fragile"], kinds={"python"})
    def fragile_report() -> hw.MaterializeResult:
        return hw.MaterializeResult()

    defs = jaffle.project.definitions(assets=[orders_export, fragile_report],
                                      resources={"dbt": hw.dbt.DbtOptions(env={"JAFFLE_FAIL_MART": "yes"})})
    with hw.Instance(home=tmp_path / "h") as instance:
        result = instance.materialize(defs, "int_orders_incremental+ or stg_countries or fct_daily_sessions")
        assert not result.success
        # the Python asset reading a model that was built runs, though the dbt step failed
        assert set(result.materializations) == {K("int_orders_incremental"), K("stg_countries"),
                                                K("fct_daily_sessions"), K("orders_export")}
        assert result.outcome.skipped == {"fragile_report": "upstream asset mart_after_fragile was skipped"}
        status = instance.statuses(defs)
        assert status[K("mart_fragile")].status is MaterializationStatus.FAILED
        message = status[K("mart_fragile")].failure.message
        assert message.startswith("dbt model mart_fragile error: ") and "a_table_that_does_not_exist" in message
        # what dbt skipped is skipped, not failed
        assert status[K("mart_after_fragile")].status is MaterializationStatus.SKIPPED
        why = "\n".join(instance.why(defs, "mart_after_fragile"))
        assert "was skipped: dbt skipped it because upstream mart_fragile failed." in why
        assert status[K("int_orders_incremental")].status is MaterializationStatus.MATERIALIZED
        # a test dbt skipped (it reads the failed mart) did not run: not a failure
        [rel] = [c for c in instance.healths(defs)[K("fct_daily_sessions")].checks
                 if c.name.startswith("relationships_")]
        assert rel.state is CheckState.NOT_RUN
        # each failure is in the run's log as soon as dbt reports it, before the step ends
        log = [e.event for e in instance.run_events(result.run_id)]
        line = next(i for i, e in enumerate(log) if isinstance(e, LogMessage) and "mart_fragile failed" in e.message)
        failed = next(i for i, e in enumerate(log) if isinstance(e, AssetFailed))
        skipped = next(i for i, e in enumerate(log) if isinstance(e, AssetSkipped))
        end = next(i for i, e in enumerate(log) if isinstance(e, StepFailed))
        assert line < failed < end and skipped < end
        assert log[failed].key == K("mart_fragile") and log[skipped].key == K("mart_after_fragile")
        assert log[end].asset_keys == ()  # each asset already carries its own reason
        assert "1 skipped (mart_after_fragile: dbt skipped it because upstream mart_fragile failed)" in log[end].error.message
        assert any(isinstance(e, LogMessage) and "did not run: dbt skipped this test" in e.message for e in log)


def test_full_refresh_vars_and_target_pass_through(jaffle, tmp_path, dbt_commands, monkeypatch):
    options = hw.dbt.DbtOptions(target="prod", vars={"who": "ci"}, threads=2)
    defs = jaffle.project.definitions(resources={"dbt": options})
    monkeypatch.setenv("HEADWATER_DBT_FULL_REFRESH", "1")
    with hw.Instance(home=tmp_path / "h") as instance:
        result = instance.materialize(defs, "country_codes+ and kind:seed or stg_countries")
    assert result.success, result.errors
    assert result.materialization("stg_countries").metadata["relation"] == '"prod"."main"."stg_countries"'
    [command] = dbt_commands
    assert command[command.index("--target") + 1] == "prod"
    assert command[command.index("--vars") + 1] == '{"who": "ci"}'
    assert "--full-refresh" in command and command[command.index("--threads") + 1] == "2"


def test_editing_a_model_makes_it_code_changed_and_its_downstream_upstream_stale(jaffle, built, tmp_path):
    copy = tmp_path / "jaffle"
    shutil.copytree(jaffle.dir, copy, ignore=shutil.ignore_patterns("*.duckdb*", "logs"))
    (copy / "profiles.yml").write_text(dbt_project.profiles(jaffle.dir))
    model = copy / "models" / "staging" / "stg_payment_methods.sql"
    model.write_text(model.read_text() + "\n-- a harmless edit\n")
    edited = hw.dbt.load(copy)  # the SQL is newer than the manifest: dbt parse runs again
    defs = edited.definitions()
    status = built.instance.statuses(defs)
    changed = status[K("stg_payment_methods")]
    assert changed.stale and [c.kind for c in changed.causes] == [StaleCauseKind.CODE_CHANGED]
    down = status[K("int_orders_enriched")]
    assert down.stale and StaleCauseKind.UPSTREAM_STALE in [c.kind for c in down.causes]
    assert status[K("fct_orders")].stale
    assert not status[K("stg_orders")].stale
    why = "\n".join(built.instance.why(defs, "fct_orders"))
    assert "stg_payment_methods" in why


# -- 2. checks on their own ------------------------------------------------------------------


def test_checks_run_on_their_own_with_dbt_test_source_tests_included(built, dbt_commands):
    results = built.instance.check(built.defs, "shop/orders or stg_customers")
    by_name = {(str(r.key), r.check_name): r for r in results}
    assert by_name[("shop/orders", "source_not_null_shop_orders_id")].passed
    assert by_name[("stg_customers", "unique_stg_customers_customer_id")].passed
    assert by_name[("stg_customers", "not_null_stg_customers_customer_id")].passed
    assert [c[0] for c in dbt_commands] == ["test", "test"]  # one `dbt test` per asset, for all its tests


# -- 4. sources and freshness --------------------------------------------------------------------


def test_observing_runs_dbt_source_freshness_once_and_data_time_flows_downstream(jaffle, built, tmp_path,
                                                                                 dbt_commands):
    # ``built``: the tests of stg_orders read stg_customers, which this run does not build
    defs = jaffle.project.definitions()
    with hw.Instance(home=tmp_path / "h") as instance:
        observed = instance.observe(defs, "group:sources")
        assert len(dbt_commands) == 1 and dbt_commands[0][:2] == ["source", "freshness"]
        by_key = {str(o.key): o for o in observed}
        assert set(by_key) == {"shop/orders", "shop/customers", "web/page_views"}
        assert by_key["shop/orders"].data_time == pytest.approx(jaffle.loaded_at.timestamp())
        assert by_key["web/page_views"].data_time == pytest.approx(
            (jaffle.loaded_at - timedelta(hours=1)).timestamp())
        health = instance.healths(defs)
        assert health[K("shop/orders")].freshness.state is FreshnessState.FRESH
        result = instance.materialize(defs, "stg_orders or stg_page_views+")
        assert result.success, result.errors
        assert result.materialization("stg_orders").data_time == pytest.approx(jaffle.loaded_at.timestamp())
        assert result.materialization("fct_daily_sessions").data_time == pytest.approx(
            by_key["web/page_views"].data_time)
        # a late source: max(loaded_at) two days back makes it overdue, in words
        dbt_project.write_raw(jaffle.db, loaded_at=jaffle.loaded_at - timedelta(days=2))
        try:
            instance.observe(defs, "shop/orders")
            late = instance.healths(defs)[K("shop/orders")].freshness
            assert late.state is FreshnessState.OVERDUE and "more than the allowed 1d" in late.reason
        finally:
            dbt_project.write_raw(jaffle.db, loaded_at=jaffle.loaded_at)


# -- 5. one graph across systems -------------------------------------------------------------


def test_python_ingest_dbt_models_and_a_python_consumer_form_one_graph(jaffle, tmp_path):
    project = hw.dbt.load(jaffle.dir, translator=hw.dbt.DbtTranslator(produced_elsewhere=["shop/orders"]))
    db = str(jaffle.db)

    @hw.asset(key="shop/orders", kinds={"python"})
    def ingest_orders() -> hw.MaterializeResult:
        """Lands raw orders (what an ingestion job would do)."""
        dbt_project.write_raw(Path(db), orders=8)
        return hw.MaterializeResult(metadata={"rows": 8})

    @hw.asset(deps=["mart_revenue_by_country"], kinds={"python"})
    def bi_refresh() -> hw.MaterializeResult:
        import duckdb

        with duckdb.connect(db, read_only=True) as con:
            total = con.execute("select sum(orders) from main.mart_revenue_by_country").fetchone()[0]
        return hw.MaterializeResult(metadata={"orders": int(total)})

    defs = project.definitions(assets=[ingest_orders, bi_refresh])
    assert K("shop/orders") not in defs.sources
    assert select(defs.graph, "+bi_refresh") >= {K("shop/orders"), K("stg_orders"), K("fct_orders")}
    with hw.Instance(home=tmp_path / "h") as instance:
        result = instance.materialize(defs, "+bi_refresh", executor="multiprocess", workers=2)
        assert result.success, result.errors
        steps = [s.key for s in result.plan.steps]
        assert steps == ["shop/orders", "dbt_jaffle", "bi_refresh"]
        assert result.materialization("bi_refresh").metadata["orders"] == 8
        read = {i.key: i for i in result.materialization("bi_refresh").inputs}
        assert read[K("mart_revenue_by_country")].data_version == result.materialization(
            "mart_revenue_by_country").data_version
        # the dbt source test now runs on the Python asset's output, as its check
        checks = {e.check_name: e for e in events(instance, result.run_id, CheckEvaluated)
                  if str(e.key) == "shop/orders"}
        assert checks["source_not_null_shop_orders_id"].passed
        # re-ingest: everything downstream, across both systems, is stale and says why
        again = instance.materialize(defs, "shop/orders")
        assert again.success
        status = instance.statuses(defs)
        assert [c.kind for c in status[K("stg_orders")].causes] == [StaleCauseKind.UPSTREAM_UPDATED]
        assert status[K("bi_refresh")].stale
        why = "\n".join(instance.why(defs, "bi_refresh"))
        assert "shop/orders" in why
        stale = instance.materialize(defs, "+bi_refresh", mode="stale")
        assert stale.success and K("bi_refresh") in stale.materializations
        assert not instance.statuses(defs)[K("bi_refresh")].stale


# -- 6. column lineage ----------------------------------------------------------------------------


def test_column_lineage_traces_a_column_to_its_sources(jaffle, built):
    lineage = hw.dbt.column_lineage(jaffle.project, "fct_orders", "country_name")
    assert [str(r) for r in lineage.direct] == ["dim_customers.country_name"]
    assert "country_codes.country_name" in {str(r) for r in lineage.upstream}
    revenue = hw.dbt.column_lineage(jaffle.project, K("mart_revenue_by_country"), "revenue")
    assert {str(r) for r in revenue.upstream} >= {"fct_orders.amount", "stg_orders.amount", "shop/orders.amount"}
    assert revenue.render().splitlines()[:2] == ["mart_revenue_by_country.revenue", "  fct_orders.amount"]
    ltv = hw.dbt.column_lineage(jaffle.project, "mart_customer_ltv", "avg_order_value")
    assert {str(r) for r in ltv.direct} == {"dim_customers.lifetime_value", "dim_customers.order_count"}
    with pytest.raises(hw.HeadwaterError, match="cannot trace column 'nope' of fct_orders.*its columns: order_id"):
        hw.dbt.column_lineage(jaffle.project, "fct_orders", "nope")


# -- 3. cancelling ------------------------------------------------------------------------------------

CANCEL_SCRIPT = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import headwater as hw
project = hw.dbt.load(sys.argv[1], parse="never")
defs = project.definitions(resources={"dbt": hw.dbt.DbtOptions(env={"JAFFLE_SLOW": "yes"})})
with hw.Instance(home=sys.argv[2]) as instance:
    instance.materialize(defs, "mart_slow")
"""


def _tail(path: Path, start: int) -> str:
    with path.open("rb") as f:
        f.seek(start)
        return f.read().decode(errors="replace")


def _dbt_processes(root: int) -> set[int]:
    """The running dbt processes under ``root``: dbt children, a dbt fork server and the
    children it forked (whose command line is the server's)."""
    parent, command = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if stat[0] != "Z":  # a zombie has ended
            parent[int(pid)], command[int(pid)] = int(stat[1]), cmd
    under, grew = {root}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in under} - under
        under |= more
        grew = bool(more)
    return {p for p in under - {root} if "dbt_child.py" in command[p] or "dbt_server.py" in command[p]}


def _still_running(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                left.add(pid)
        except OSError:
            pass
    return left


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the dbt process through /proc")
@pytest.mark.parametrize("how", ["ctrl_c", "killed"])
def test_cancelling_the_run_stops_dbt(jaffle, tmp_path, how):
    home = tmp_path / "h"
    output = tmp_path / "output.txt"
    dbt_log = jaffle.dir / "logs" / "dbt.log"
    seen = dbt_log.stat().st_size if dbt_log.exists() else 0
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CANCEL_SCRIPT), str(jaffle.dir), str(home)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _dbt_processes(proc.pid) or "START sql table model main.mart_slow" not in _tail(dbt_log, seen):
            assert proc.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        time.sleep(0.5)  # dbt is in the long query
        dbt = _dbt_processes(proc.pid)
        proc.send_signal(signal.SIGINT if how == "ctrl_c" else signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 30
        while _still_running(dbt):
            assert time.monotonic() < deadline, f"dbt {_still_running(dbt)} kept running after its run was cancelled"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
    if how == "ctrl_c":
        with hw.Instance(home=home) as instance:
            [run] = instance.runs()
            assert run.status.value == "canceled"


def test_load_skips_parsing_when_the_manifest_is_current(jaffle, dbt_commands):
    again = hw.dbt.load(jaffle.dir)
    assert dbt_commands == []
    assert {str(k) for k in again.multi_asset.keys} == {str(k) for k in jaffle.project.multi_asset.keys}

