"""A dbt project configured in pyproject.toml (no Python, or beside a module), the column
lineage command, and one ``dbt parse`` for several processes loading a project at once —
all on the real project of ``dbt_project.py``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import dbt_project
import pytest
from typer.testing import CliRunner

import headwater as hw
from headwater.cli.app import app
from headwater.definitions.loader import DefinitionsLocation, find_location, load_definitions

pytestmark = pytest.mark.slow

K = hw.AssetKey.parse
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def configured(jaffle, built, tmp_path):
    """A folder with a pyproject.toml naming a copy of the built project (its manifest and
    compiled SQL included, so nothing is parsed again) on a database of its own."""
    root = tmp_path / "repo"
    shutil.copytree(jaffle.dir, root / "analytics",
                    ignore=shutil.ignore_patterns("*.duckdb*", "logs", "profiles.yml", ".headwater.lock"))
    (root / "profiles").mkdir()
    (root / "profiles" / "profiles.yml").write_text(dbt_project.profiles(root))
    (root / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "repo"

        [tool.headwater.dbt]
        project_dir = "analytics"
        profiles_dir = "profiles"
        target = "dev"
        """))
    return root


def test_a_dbt_project_in_pyproject_toml_loads_without_any_python(configured, dbt_commands):
    location = find_location(cwd=configured / "analytics" / "models")  # found from a subfolder
    assert location.file is None and location.module is None
    assert location.pyproject == str(configured / "pyproject.toml")
    assert DefinitionsLocation.from_json(location.to_json()) == location  # how queued runs carry it
    defs = load_definitions(location)
    assert dbt_commands == []  # the manifest is current: no parse
    assert {K("fct_orders"), K("shop/orders"), K("weekly_revenue")} <= set(defs.graph.keys)
    assert defs.definition_for(K("fct_orders")).name == "dbt_jaffle"
    assert any(c.name == "unique_stg_orders_order_id" for c in defs.checks_for(K("stg_orders")))
    assert str(location) == f"[tool.headwater] in {configured / 'pyproject.toml'}"


def test_beside_a_module_the_python_assets_join_the_dbt_graph_and_workers_load_both(configured, monkeypatch):
    (configured / "pipeline.py").write_text(textwrap.dedent("""
        import headwater as hw

        @hw.asset(deps=["stg_countries"], kinds={"python"})
        def country_report(context):
            return {"dbt/target": context.tags.get("dbt/target", "")}

        @hw.check(asset="stg_countries")
        def three_countries(context):
            return context.materialization.metadata["dbt/unique_id"] == "model.jaffle.stg_countries"
        """))
    pyproject = configured / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.headwater.dbt]",
                                                       '[tool.headwater]\nfile = "pipeline.py"\n\n[tool.headwater.dbt]'))
    monkeypatch.chdir(configured)
    monkeypatch.setenv("HEADWATER_HOME", str(configured / ".headwater"))
    defs = load_definitions(find_location())
    assert defs.graph.spec(K("country_report")).deps == (K("stg_countries"),)
    assert [c.name for c in defs.checks_for(K("stg_countries"))][-1] == "three_countries"
    # worker processes load the same definitions from the same pyproject.toml
    result = cli("materialize", "country_codes or stg_countries or country_report", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "3 asset(s) materialized" in result.output
    status = json.loads(cli("status", "--json").output)
    rows = {r["key"]: r for r in status}
    assert rows["country_report"]["status"] == "materialized"
    assert {c["name"]: c["state"] for c in rows["stg_countries"]["checks"]}["three_countries"] == "passed"


@pytest.mark.parametrize("table, message", [
    ('project_dir = "analytics"\nprofile_dir = "x"', "unknown key(s) profile_dir (known: project_dir"),
    ('target = "dev"', "needs project_dir"),
    ('project_dir = "nowhere"', "has no dbt_project.yml"),
    ('project_dir = 3', "project_dir must be a string, not 3"),
    ('project_dir = "analytics"\nvars = "x"', "vars must be a table"),
])
def test_a_bad_dbt_table_is_an_error_naming_the_file_and_the_key(configured, table, message):
    pyproject = configured / "pyproject.toml"
    pyproject.write_text(f"[tool.headwater.dbt]\n{table}\n")
    with pytest.raises(hw.DefinitionError, match="tool.headwater.dbt") as info:
        load_definitions(find_location(cwd=configured))
    assert str(pyproject) in str(info.value) and message in str(info.value)


def test_an_unknown_tool_headwater_table_is_named(configured):
    (configured / "pyproject.toml").write_text('[tool.headwater.dbtt]\nproject_dir = "analytics"\n')
    with pytest.raises(hw.HeadwaterError, match=r"unknown key\(s\) dbtt"):
        find_location(cwd=configured)


# -- headwater lineage MODEL --column COL ----------------------------------------------------


def test_lineage_command_shows_where_a_column_comes_from(configured, monkeypatch):
    monkeypatch.chdir(configured)
    one = cli("lineage", "fct_orders", "--column", "country_name")
    assert one.exit_code == 0, one.output
    assert one.output.splitlines()[:3] == ["fct_orders.country_name", "  dim_customers.country_name",
                                           "    int_customer_geo.country_name"]
    assert "country_codes.country_name" in one.output
    as_json = json.loads(cli("lineage", "mart_revenue_by_country", "-c", "revenue", "--json").output)
    assert [(d["key"], d["column"]) for d in as_json] == [("mart_revenue_by_country", "revenue")]
    assert as_json[0]["direct"] == ["fct_orders.amount"]
    assert "shop/orders.amount" in as_json[0]["upstream"]
    every = json.loads(cli("lineage", "mart_customer_ltv", "--columns", "--json").output)
    assert [d["column"] for d in every] == ["customer_id", "full_name", "lifetime_value", "avg_order_value"]
    assert set(every[3]["direct"]) == {"dim_customers.lifetime_value", "dim_customers.order_count"}
    # without --column: the asset graph, as before
    tree = cli("lineage", "fct_orders", "--up", "1", "--down", "1")
    assert tree.exit_code == 0 and "dim_customers" in tree.output and "mart_revenue_by_country" in tree.output


@pytest.mark.parametrize("args, message", [
    (["nope", "--column", "x"], "no asset and no dbt model is named 'nope'"),
    (["fct_orders", "--column", "nope"], "cannot trace column 'nope' of fct_orders"),
    (["shop/orders", "--column", "id"], "shop/orders is a dbt source, not a model"),
])
def test_lineage_command_names_what_is_wrong(configured, monkeypatch, args, message):
    monkeypatch.chdir(configured)
    result = runner.invoke(app, ["lineage", *args])
    assert result.exit_code == 2 and message in result.output


# -- one dbt parse for many processes ----------------------------------------------------------

LOAD_SCRIPT = """
import os, sys, time
from pathlib import Path
from headwater.integrations.dbt import project as p

log, peer = Path(sys.argv[2]), Path(sys.argv[3])
original = p.run_dbt

def watched(args, cwd, **kw):
    with log.open("a") as f:
        f.write(f"parse-start {os.getpid()}\\n")
    while not peer.exists():  # the other process is about to load too
        time.sleep(0.05)
    time.sleep(1.0)           # and has had time to find the manifest stale
    out = original(args, cwd, **kw)
    with log.open("a") as f:
        f.write(f"parse-end {os.getpid()}\\n")
    return out

p.run_dbt = watched
Path(sys.argv[4]).touch()     # this process is about to load
project = p.load(sys.argv[1])
print(len(project.multi_asset.keys))
"""


def test_processes_loading_a_project_at_once_parse_it_once_one_at_a_time(jaffle, tmp_path):
    root = dbt_project.write_project(tmp_path / "fresh")
    assert not (root / "target").exists()
    log = tmp_path / "parses.log"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", LOAD_SCRIPT, str(root), str(log), str(ready[1 - i]),
                               str(ready[i])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr
        assert stdout.strip() == "22"  # both read the whole manifest
    lines = log.read_text().split()
    # one parse: the second process waited for the first, then found the manifest current
    assert lines[::2] == ["parse-start", "parse-end"], lines
