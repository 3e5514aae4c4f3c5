"""Issue 13: the patterns of larger real dbt projects, on the project in ``ecom_project.py``.

Seeds that load what staging reads through ``source()``, a seed over 1 MiB, ``select *``
staging models, an installed package, unit tests, sources without a freshness rule. One
project is written, parsed and built (on an empty database) once for the module; the tests
that need another run make it on that instance, in the order the module is written.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import ecom_project
import pytest

import headwater as hw
from headwater.core.checks import CheckState
from headwater.core.events import AssetSkipped, CheckEvaluated, StepFailed, StepStarted, StepSucceeded
from headwater.core.selection import select
from headwater.core.status import StaleCauseKind
from headwater.errors import DefinitionError
from headwater.integrations.dbt import fork_server, invocation
from headwater.integrations.dbt.config import load_from_config
from headwater.integrations.dbt.project import PREWARM_ENV

pytestmark = pytest.mark.slow

K = hw.AssetKey.parse
SEEDED = {"raw_orders": "stg_orders", "raw_customers": "stg_customers"}


@pytest.fixture(scope="module")
def ecom(tmp_path_factory):
    pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is not installed (pip install -e '.[dbt]')")
    root = ecom_project.write_project(tmp_path_factory.mktemp("ecom") / "ecom")
    ecom_project.write_web(root / "dev.duckdb")
    project = hw.dbt.load(root)
    defs = project.definitions()
    with hw.Instance(home=tmp_path_factory.mktemp("ecom-home")) as instance:
        first = instance.materialize(defs, "*")  # the database has no seeds yet
        yield project, defs, instance, first


def events(instance, run_id, cls):
    return [e.event for e in instance.run_events(run_id) if isinstance(e.event, cls)]


def deps(defs, name):
    return {str(d) for d in defs.graph.spec(K(name)).deps}


# -- 1. a source something else loads --------------------------------------------------------


def test_a_source_a_seed_writes_is_that_seed_found_by_relation(ecom):
    project, defs, _, _ = ecom
    for seed, staging in SEEDED.items():
        assert deps(defs, staging) == {seed}
        assert project.key_for(f"ecom.{seed}") == K(seed)
    assert {str(k) for k in defs.sources} == {"web/events", "web/sessions"}  # no raw_* source assets
    assert select(defs.graph, "raw_orders+") >= {K("stg_orders"), K("int_supply"), K("fct_orders")}
    # the source's own test is a check of the seed
    assert [c.name for c in defs.checks_for(K("raw_orders"))] == ["source_not_null_ecom_raw_orders_id"]
    assert "same relation" in project.source_links.how["source.ecom.ecom.raw_orders"]


class ByName(hw.dbt.DbtTranslator):
    def source_key(self, source):
        return hw.AssetKey((source.name,)) if source.source_name == "ecom" else super().source_key(source)


@pytest.mark.parametrize("how", ["translator", "mapping", "pyproject"])
def test_the_same_link_by_translator_by_mapping_and_in_pyproject(ecom, how, tmp_path):
    project, _, _, _ = ecom
    root = project.project_dir
    mapping = {"ecom.raw_orders": "raw_orders", "ecom.raw_customers": "raw_customers"}
    if how == "translator":
        loaded = hw.dbt.load(root, parse="never", translator=ByName(link_sources=False))
    elif how == "mapping":
        loaded = hw.dbt.load(root, parse="never",
                             translator=hw.dbt.DbtTranslator(link_sources=False, source_assets=mapping))
    else:
        (loaded,) = load_from_config({"project_dir": str(root), "parse": "never", "link_sources": False,
                                      "source_assets": mapping}, tmp_path, "pyproject.toml [tool.headwater.dbt]")
    defs = loaded.definitions()
    for seed, staging in SEEDED.items():
        assert deps(defs, staging) == {seed}
    assert "raw_orders" not in {str(k) for k in defs.sources}
    # a key no dbt node has: produced by an asset outside dbt (a Python ingest), not a source asset
    elsewhere = hw.dbt.load(root, parse="never", translator=hw.dbt.DbtTranslator(
        source_assets={"web.events": "landing/events"}))

    @hw.asset(key="landing/events")
    def ingest_events() -> None: ...

    joined = elsewhere.definitions(assets=[ingest_events])
    assert joined.graph.spec(K("stg_events")).deps == (K("landing/events"),)
    assert "web/events" not in {str(k) for k in joined.sources}
    # without any of them the source stays a source of its own, as dbt draws it
    plain = hw.dbt.load(root, parse="never", translator=hw.dbt.DbtTranslator(link_sources=False)).definitions()
    assert deps(plain, "stg_orders") == {"ecom/raw_orders"}


def test_a_mapping_naming_no_source_is_an_error_naming_it(ecom):
    project, _, _, _ = ecom
    with pytest.raises(DefinitionError, match="source_assets names 'ecom.raw_order'"):
        hw.dbt.load(project.project_dir, parse="never",
                    translator=hw.dbt.DbtTranslator(source_assets={"ecom.raw_order": "raw_orders"}))


def test_a_first_build_on_an_empty_database_builds_seeds_before_staging(ecom):
    _, _, instance, first = ecom
    assert first.success, first.errors
    mats = first.materializations
    assert set(mats) >= {K("raw_orders"), K("stg_orders"), K("fct_orders"), K("big_products"), K("util_calendar")}
    for seed, staging in SEEDED.items():
        assert mats[K(staging)].timestamp > mats[K(seed)].timestamp
        (read,) = mats[K(staging)].inputs
        assert read.key == K(seed) and read.data_version == mats[K(seed)].data_version


def test_editing_and_reseeding_a_seed_makes_the_staging_models_stale(ecom, monkeypatch):
    project, _, instance, _ = ecom
    with (project.project_dir / "seeds/raw/raw_orders.csv").open("a") as f:
        f.write("4,2,D-4,3.5,2024-01-04 09:00:00\n")
    # as `headwater materialize` does: dbt is started (and imports) while Headwater loads;
    # here the parse the edit needs is what uses it
    monkeypatch.setenv(PREWARM_ENV, "1")
    forked = sum(s.served for s in fork_server.servers() if s.owned)
    defs = hw.dbt.load(project.project_dir).definitions()
    assert not invocation._WARM and PREWARM_ENV not in os.environ
    if fork_server.enabled():  # the dbt server started (or found) ahead ran it
        assert sum(s.served for s in fork_server.servers() if s.owned) == forked + 1
    statuses = instance.statuses(defs)
    assert {c.kind for c in statuses[K("raw_orders")].causes} == {StaleCauseKind.CODE_CHANGED}
    assert StaleCauseKind.UPSTREAM_STALE in {c.kind for c in statuses[K("stg_orders")].causes}
    plan, _, _ = instance.plan(defs, "raw_orders+")
    assert {K("raw_orders"), K("stg_orders"), K("fct_orders")} <= set(plan.steps[0].asset_keys)
    result = instance.materialize(defs, "raw_orders")
    assert result.success and set(result.materializations) == {K("raw_orders")}
    statuses = instance.statuses(defs)
    assert StaleCauseKind.UPSTREAM_UPDATED in {c.kind for c in statuses[K("stg_orders")].causes}
    assert statuses[K("fct_orders")].stale and not statuses[K("stg_customers")].stale


# -- 4. per-model truth -------------------------------------------------------------------


def test_each_model_records_its_own_duration_and_rows(ecom):
    _, _, instance, first = ecom
    (step,) = events(instance, first.run_id, StepSucceeded)
    mats = first.materializations
    for key, mat in mats.items():
        assert mat.duration == pytest.approx(mat.metadata["execution_time"], abs=1e-3), key
        assert mat.duration < step.duration
    assert mats[K("raw_orders")].metadata["rows_affected"] == 3
    # unit tests and data tests ran with the build and are checks of their models
    checks = {(str(e.key), e.check_name): e.passed for e in events(instance, first.run_id, CheckEvaluated)}
    assert checks[("dim_customers", "scores_double_the_id")] is True
    assert checks[("raw_orders", "source_not_null_ecom_raw_orders_id")] is True


def test_a_test_dbt_runs_through_another_model_is_recorded_on_its_asset(ecom):
    _, defs, instance, _ = ecom
    before = instance.statuses(defs)[K("stg_orders")].last_materialization
    result = instance.materialize(defs, "stg_customers", executor="multiprocess")
    assert result.success
    # dbt runs in a child process of its own: no worker process is started around it
    assert {e.pid for e in events(instance, result.run_id, StepStarted)} == {os.getpid()}
    (check,) = events(instance, result.run_id, CheckEvaluated)
    assert check.key == K("stg_orders") and check.check_name.startswith("relationships_stg_orders")
    assert (check.target_run_id, check.target_timestamp) == (before.run_id, before.timestamp)
    checks = instance.healths(defs)[K("stg_orders")].checks
    assert any(c.name == check.check_name and c.state is CheckState.PASSED for c in checks)


def test_failing_tests_and_unit_tests_block_their_models_and_fail_the_step(ecom):
    _, defs, instance, _ = ecom
    tags = {"dbt/vars": json.dumps({"factor": 3, "min_amount": 1000})}
    result = instance.materialize(defs, "stg_orders+ or dim_customers", tags=tags)
    assert not result.success
    (failed,) = events(instance, result.run_id, StepFailed)
    assert "3 skipped" in failed.error.message
    skipped = {str(e.key): e.detail for e in events(instance, result.run_id, AssetSkipped)}
    assert skipped == {
        "int_supply": "dbt skipped it because the test assert_amounts_over_minimum of upstream stg_orders failed",
        "dim_customers": "dbt skipped it because its unit test scores_double_the_id failed",
        "fct_orders": "dbt skipped it because the test assert_amounts_over_minimum of upstream stg_orders failed "
                      "and upstream dim_customers was skipped"}
    assert set(result.outcome.skipped_assets) == {K(k) for k in skipped}
    unit = [e for e in events(instance, result.run_id, CheckEvaluated) if e.check_name == "scores_double_the_id"]
    assert len(unit) == 1 and not unit[0].passed and unit[0].key == K("dim_customers")


# -- 2. large seeds ---------------------------------------------------------------------------


def test_a_seed_over_one_mib_is_versioned_by_its_content(ecom):
    project, defs, _, _ = ecom
    node = project.node_for("big_products")
    assert node.raw["checksum"] == {"name": "path", "checksum": "seeds/big_products.csv"}  # dbt's own
    version = defs.graph.spec(K("big_products")).code_version
    assert version.startswith("sha256:")
    path = ecom_project.write_big_seed(project.project_dir, price=2)  # an edit of the same size
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    again = hw.dbt.load(project.project_dir, parse="never").definitions()
    assert again.graph.spec(K("big_products")).code_version not in (version, None)
    ecom_project.write_big_seed(project.project_dir, price=1)
    restored = hw.dbt.load(project.project_dir, parse="never").definitions()
    assert restored.graph.spec(K("big_products")).code_version == version


# -- 3. column lineage ------------------------------------------------------------------------


def test_column_lineage_expands_select_star_and_follows_renames_down_to_seeds(ecom):
    project, _, _, _ = ecom
    star = {c.column: [str(r) for r in c.direct] for c in hw.dbt.model_lineage(project, "stg_orders")}
    assert star == {c: [f"raw_orders.{c}"] for c in ("id", "customer_id", "sku", "amount", "ordered_at")}
    uuid = hw.dbt.column_lineage(project, "int_supply", "supply_uuid")
    assert {str(r) for r in uuid.direct} == {"stg_orders.id", "stg_orders.sku"}
    assert {"raw_orders.id", "raw_orders.sku"} <= {str(r) for r in uuid.upstream}
    customer = hw.dbt.column_lineage(project, "fct_orders", "customer")
    assert "stg_customers.customer_name" in {str(r) for r in customer.upstream}
    assert "raw_customers.name" in {str(r) for r in customer.upstream}
    # a source whose columns nobody declared: named, not answered with nothing
    (events_star,) = hw.dbt.model_lineage(project, "stg_events")
    assert events_star.unresolved and "web/events" in events_star.unresolved[0]


def test_the_asset_page_and_its_api_show_column_lineage(ecom):
    from fastapi.testclient import TestClient

    from headwater.web import UiConfig, create_app

    _, defs, instance, _ = ecom
    app = create_app(defs, instance, None, UiConfig(launch="queue"))
    try:
        with TestClient(app, base_url="http://127.0.0.1:3000") as client:
            doc = client.get("/api/assets/int_supply").json()["column_lineage"]
            rows = {r["column"]: r for r in doc["columns"]}
            assert doc["error"] is None and set(rows["supply_uuid"]["direct"]) == {"stg_orders.id", "stg_orders.sku"}
            assert "raw_orders.sku" in rows["supply_uuid"]["upstream"]
            unknown = client.get("/api/assets/stg_events").json()["column_lineage"]["columns"]
            assert "the columns of web/events are unknown" in unknown[0]["unresolved"][0]
            assert client.get("/api/assets/web/events").json()["column_lineage"] is None  # a source: no SQL
            page = client.get("/assets/int_supply").text
            assert "Column lineage" in page and "stg_orders.sku" in page and "raw_orders.id" in page
    finally:
        app.state.ctx.launcher.close()


# -- 5. sources without a freshness rule ---------------------------------------------------------


def test_sources_without_freshness_are_observed_by_row_count_and_data_time_column(ecom):
    project, defs, instance, _ = ecom
    latest = ecom_project.write_web(project.project_dir / "dev.duckdb", rows=4)
    found = {str(o.key): o for o in instance.observe(defs, "web/*")}
    assert found["web/events"].metadata["observed_by"] == "row count and max(event_at)"
    assert found["web/events"].data_time == pytest.approx(latest.timestamp())
    assert found["web/sessions"].metadata == {"row_count": 8, "observed_by": "row count"}
    assert instance.statuses(defs)[K("web/sessions")].data_version == "rows=8"


# -- 7. packages ----------------------------------------------------------------------------------


def test_an_installed_package_loads_and_a_missing_one_says_to_run_dbt_deps(ecom, tmp_path):
    project, defs, _, first = ecom
    assert project.node_for("util_calendar").package_name == "ecom_utils"
    assert K("util_calendar") in first.materializations  # its macro (cents) built int_supply too
    assert K("int_supply") in first.materializations
    bare = tmp_path / "bare"
    for rel, text in ecom_project.FILES.items():
        if not rel.startswith("dbt_packages/"):
            (bare / rel).parent.mkdir(parents=True, exist_ok=True)
            (bare / rel).write_text(textwrap.dedent(text).lstrip())
    (bare / "profiles.yml").write_text(ecom_project.profiles(tmp_path / "bare.duckdb"))
    with pytest.raises(hw.HeadwaterError, match="dbt deps"):
        hw.dbt.load(bare)


# -- 6. status does not wait for dbt parse ---------------------------------------------------------


def test_status_reads_the_last_manifest_with_edits_while_dbt_parses_in_the_background(ecom, dbt_commands):
    project, _, _, _ = ecom
    root = project.project_dir
    model = root / "models/marts/int_supply.sql"
    model.write_text(model.read_text() + "-- reviewed\n")
    manifest = root / "target" / "manifest.json"
    written = manifest.stat().st_mtime
    before = _children()
    quick = hw.dbt.load(root, parse="background")
    started = _children() - before  # the detached parse
    assert started or not os.path.isdir("/proc")
    assert dbt_commands == []  # nothing waited on dbt
    assert quick.outdated and "int_supply.sql changed" in quick.outdated
    edited = quick.definitions().graph.spec(K("int_supply")).code_version
    assert edited != project.definitions().graph.spec(K("int_supply")).code_version
    deadline = time.monotonic() + 120
    while manifest.stat().st_mtime <= written or hw.dbt.load(root, parse="never").definitions().graph.spec(
            K("int_supply")).code_version != edited:
        assert time.monotonic() < deadline, "the background dbt parse did not bring the manifest up to date"
        time.sleep(0.2)
    exact = hw.dbt.load(root, parse="background")
    assert exact.outdated is None  # the same code version dbt computed, and nothing left to parse
    # the parse, once done, is reaped: no zombie is left to this process (nor a ResourceWarning at its exit)
    deadline = time.monotonic() + 30
    while left := started & _children():
        assert time.monotonic() < deadline, f"the background dbt parse {left} was never reaped: a zombie"
        time.sleep(0.1)


def _children() -> set[int]:
    """This process's child processes, zombies included."""
    me, found = str(os.getpid()), set()
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else ()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me:
            found.add(int(pid))
    return found
