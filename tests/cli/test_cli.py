"""The headwater command, in-process (CliRunner) on a scaffolded project and small fixtures."""

import json

import pytest
from typer.testing import CliRunner

from headwater.cli.app import app

runner = CliRunner()


def hw(*args, **kw):
    return runner.invoke(app, list(args), catch_exceptions=False, **kw)


@pytest.fixture
def demo(tmp_path, monkeypatch):
    project = tmp_path / "demo"
    result = hw("init", str(project))
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(project)
    monkeypatch.setenv("HEADWATER_HOME", str(project / ".headwater"))
    return project


def test_init_scaffolds_a_project_that_materializes_end_to_end(demo):
    assert (demo / "pipeline.py").exists() and (demo / "pyproject.toml").exists()
    assert hw("observe").exit_code == 0
    result = hw("materialize", "*", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "succeeded: 5 asset(s) materialized" in result.output
    assert "customer_segments: retrying" in result.output  # the demo's cold start, then the retry
    status = hw("status", "--json")
    rows = {r["key"]: r for r in json.loads(status.output)}
    assert set(rows) == {"raw/orders", "staging/orders", "customers", "revenue", "customer_segments",
                         "revenue_dashboard"}
    for key in ("staging/orders", "revenue", "revenue_dashboard"):
        assert rows[key]["status"] == "materialized" and rows[key]["stale"] is False
        assert {"key", "status", "stale", "stale_causes", "last_materialized_at", "run_id",
                "data_version"} <= set(rows[key])
    assert rows["raw/orders"]["status"] == "observed"
    table = hw("status")
    assert "revenue_dashboard" in table.output and "materialized" in table.output


def test_code_change_then_why_then_stale_only(demo):
    assert hw("materialize", "*").exit_code == 0
    pipeline = demo / "pipeline.py"
    pipeline.write_text(pipeline.read_text().replace(
        'key="staging/orders", deps=["raw/orders"], group="staging", code_version="1"',
        'key="staging/orders", deps=["raw/orders"], group="staging", code_version="2"'))
    why = hw("why", "revenue_dashboard")
    assert why.exit_code == 0
    assert "revenue_dashboard is stale because:" in why.output
    assert "upstream revenue is stale" in why.output
    assert "staging/orders: its code version changed from '1' to '2'" in why.output
    lineage = hw("lineage", "revenue", "--up", "1", "--down", "1")
    assert "staging/orders" in lineage.output and "revenue_dashboard" in lineage.output
    assert "raw/orders" not in lineage.output  # beyond --up 1
    rows = {r["key"]: r for r in json.loads(hw("status", "--json").output)}
    assert rows["revenue"]["stale_causes"][0]["kind"] == "upstream_stale"
    rerun = hw("materialize", "*", "--stale-only", "--executor", "in_process")
    assert rerun.exit_code == 0, rerun.output
    assert "4 asset(s) materialized, 1 already up to date" in rerun.output  # customers was current
    assert "Nothing to materialize" in hw("materialize", "*", "--stale-only").output


def test_runs_and_run_show(demo):
    hw("materialize", "revenue+", "--executor", "in_process")
    runs = json.loads(hw("runs", "--json").output)
    assert len(runs) == 1 and runs[0]["status"] == "failed"  # staging/orders is missing upstream
    shown = hw("run", "show", runs[0]["run_id"][:6])
    assert shown.exit_code == 0 and "never been materialized" in shown.output
    data = json.loads(hw("run", "show", runs[0]["run_id"], "--json").output)
    assert {s["step_key"] for s in data["steps"]} == {"revenue", "revenue_dashboard"}
    assert hw("run", "show", "doesnotexist").exit_code == 2


def test_failures_exit_1_and_point_to_from_failure(tmp_path, write_project, monkeypatch):
    path = write_project("""
        import headwater as hw
        @hw.asset
        def a():
            raise KeyError("missing column")
        @hw.asset(deps=["a"])
        def b():
            pass
        @hw.asset
        def c():
            return 1
        defs = hw.Definitions(assets=[a, b, c])
    """)
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "h"))
    result = hw("materialize", "-f", str(path), "--executor", "in_process")
    assert result.exit_code == 1
    assert "1 step(s) failed, 1 skipped" in result.output and "missing column" in result.output
    assert "--from-failure" in result.output


@pytest.mark.parametrize("source,expected", [
    ("import headwater as hw\n@hw.asset(deps=['b'])\ndef a(): pass\n@hw.asset(deps=['a'])\ndef b(): pass\n"
     "defs = hw.Definitions(assets=[a, b])\n", "dependency cycle: "),
    ("import headwater as hw\n@hw.asset(deps=['ghost'])\ndef a(): pass\ndefs = hw.Definitions(assets=[a])\n",
     "depends on unknown asset 'ghost'"),
    ("import headwater as hw\nx = 1 / 0\n", "ZeroDivisionError"),
])
def test_bad_definitions_exit_2_naming_the_culprit(tmp_path, write_project, source, expected):
    path = write_project(source)
    result = runner.invoke(app, ["status", "-f", str(path), "--home", str(tmp_path / "h")])
    assert result.exit_code == 2
    assert expected in result.output


def test_load_error_shows_the_users_traceback_not_ours(tmp_path, write_project):
    path = write_project("import headwater as hw\n\ndef helper():\n    return {}['k']\n\nhelper()\n")
    result = runner.invoke(app, ["status", "-f", str(path), "--home", str(tmp_path / "h")])
    assert result.exit_code == 2
    assert "in helper" in result.output and "pipeline.py" in result.output
    assert "loader.py" not in result.output and "importlib" not in result.output


def test_bad_selection_points_at_the_term(demo):
    result = hw("materialize", "revenue and nope")
    assert result.exit_code == 2
    assert "nope" in result.output and "^" in result.output
    assert json.loads(hw("runs", "--json").output) == []


def test_unknown_key_for_why_is_exit_2(demo):
    result = hw("why", "no/such")
    assert result.exit_code == 2 and "no/such" in result.output


def test_no_definitions_found_says_how_to_point_at_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = hw("status")
    assert result.exit_code == 2 and "-f pipeline.py" in result.output


HEALTHY_AND_NOT = """
import headwater as hw

@hw.asset(freshness=hw.FreshnessPolicy.within(3600))
def fresh_asset():
    return [{"id": 1}]

@hw.asset(freshness=hw.FreshnessPolicy.within(0.001))
def always_overdue():
    return 1

@hw.asset
def never_run():
    return 1

defs = hw.Definitions(assets=[fresh_asset, always_overdue, never_run],
                      checks=[hw.checks.unique("fresh_asset", "id"), hw.checks.row_count_at_least("fresh_asset", 5)])
"""


def test_status_health_column_filters_summary_and_check_command(tmp_path, write_project):
    path = write_project(HEALTHY_AND_NOT)
    home = str(tmp_path / "h")
    assert hw("materialize", "fresh_asset or always_overdue", "-f", str(path), "--home", home,
              "--executor", "in_process").exit_code == 0
    table = hw("status", "-f", str(path), "--home", home)
    assert "0 healthy, 0 warning, 2 degraded, 1 unknown; 0 stale" in table.output
    assert "data time" in table.output and "s ago" in table.output
    rows = json.loads(hw("status", "--json", "-f", str(path), "--home", home).output)
    by_key = {r["key"]: r for r in rows}
    assert by_key["always_overdue"]["health"] == "degraded" and by_key["always_overdue"]["overdue_since"]
    assert by_key["fresh_asset"]["freshness"]["state"] == "fresh"
    assert {c["name"]: c["state"] for c in by_key["fresh_asset"]["checks"]} == {
        "unique_id": "passed", "row_count_at_least_5": "failed"}
    assert by_key["never_run"]["health"] == "unknown" and by_key["never_run"]["freshness"] is None
    assert {"health", "health_reasons", "freshness", "data_time", "overdue_since", "checks"} <= set(by_key["never_run"])
    overdue = json.loads(hw("status", "--json", "--overdue", "-f", str(path), "--home", home).output)
    assert [r["key"] for r in overdue] == ["always_overdue"]
    unknown = json.loads(hw("status", "--json", "--health", "unknown", "-f", str(path), "--home", home).output)
    assert [r["key"] for r in unknown] == ["never_run"]
    assert hw("status", "--health", "purple", "-f", str(path), "--home", home).exit_code == 2
    checked = hw("check", "fresh_asset", "-f", str(path), "--home", home)
    assert checked.exit_code == 1
    assert "fresh_asset unique_id: passed" in checked.output and "row_count_at_least_5: FAILED" in checked.output


def test_run_tags_from_the_command_line_reach_the_asset_functions(tmp_path, monkeypatch, write_project):
    seen = tmp_path / "seen.json"
    path = write_project(f"""
        import json
        import headwater as hw

        @hw.asset
        def tagged(context):
            open({str(seen)!r}, "w").write(json.dumps(dict(context.tags)))
    """)
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    result = hw("materialize", "-f", str(path), "--tag", "team=finance", "--tag", 'dbt/vars={"a": 1}')
    assert result.exit_code == 0, result.output
    assert json.loads(seen.read_text()) == {"team": "finance", "dbt/vars": '{"a": 1}'}
    [run] = json.loads(hw("runs", "--json").output)
    assert run["tags"] == {"team": "finance", "dbt/vars": '{"a": 1}'}
