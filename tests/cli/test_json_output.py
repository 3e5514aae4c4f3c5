"""Every reporting command's --json output conforms to the schema docs/cli.md gives for it,
and every command that takes --json has a documented schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from headwater.cli.app import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
runner = CliRunner()


def documented_schemas() -> dict[str, Any]:
    text = DOCS.read_text()
    found = re.findall(r"#### `headwater ([a-z -]+?) --json`\n\n```json\n(.*?)\n```", text, re.S)
    return {command: json.loads(body) for command, body in found}


SCHEMAS = documented_schemas()


def conforms(value: Any, schema: Any, where: str = "$") -> list[str]:
    """Every way ``value`` departs from ``schema`` (the notation docs/cli.md explains)."""
    if isinstance(schema, str):
        ok = {"string": lambda v: isinstance(v, str), "integer": lambda v: type(v) is int,
              "number": lambda v: type(v) in (int, float), "boolean": lambda v: type(v) is bool,
              "object": lambda v: isinstance(v, dict), "null": lambda v: v is None, "any": lambda v: True}
        return [] if any(ok[t](value) for t in schema.split("|")) else [f"{where}: {value!r} is not {schema}"]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        return [p for i, v in enumerate(value) for p in conforms(v, schema[0], f"{where}[{i}]")]
    if not isinstance(value, dict):
        return [f"{where}: {value!r} is not an object"]
    problems = [f"{where}: undocumented key {k!r}" for k in value if k not in schema]
    problems += [f"{where}: missing key {k!r}" for k in schema if k not in value]
    return problems + [p for k in schema if k in value for p in conforms(value[k], schema[k], f"{where}.{k}")]


def json_commands() -> set[str]:
    """Command paths (``run show``) whose options include --json."""
    found: set[str] = set()

    def walk(cmd: Any, path: str) -> None:
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, f"{path} {name}".strip())
        if any("--json" in getattr(p, "opts", ()) for p in cmd.params):
            found.add(path)

    walk(typer.main.get_group(app), "")
    return found


def test_every_command_with_json_has_one_documented_schema() -> None:
    assert json_commands() - {"lineage"} <= set(SCHEMAS), json_commands() - set(SCHEMAS)
    assert {"materialize", "why", "check", "observe", "runs", "run show", "ticks", "alerts list", "schedule list",
            "sensor list", "automation explain", "lineage", "history", "status"} <= json_commands()
    assert "lineage --column" in SCHEMAS


def test_the_checker_catches_departures() -> None:
    schema = {"a": "string|null", "b": [{"c": "integer"}]}
    assert conforms({"a": None, "b": [{"c": 1}]}, schema) == []
    assert conforms({"a": 1, "b": [{"c": 1.5, "d": 0}]}, schema) == [
        "$.a: 1 is not string|null", "$.b[0]: undocumented key 'd'", "$.b[0].c: 1.5 is not integer"]
    assert conforms({"b": []}, schema) == ["$: missing key 'a'"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The scaffolded project, observed, materialized, checked, with a daemon tick and a queued run."""
    project = tmp_path_factory.mktemp("json") / "demo"
    common = ["-f", str(project / "pipeline.py"), "--home", str(project / ".headwater")]
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    for args in (["observe"], ["materialize", "*", "--executor", "in_process"], ["check", "*"],
                 ["daemon", "--once"], ["materialize", "revenue", "--queue"]):
        result = runner.invoke(app, [*args, *common])
        assert result.exit_code == 0, result.output
    return common


def run_json(demo: list[str], *args: str, code: int = 0) -> Any:
    home_only = args[0] in ("ticks", "alerts", "gc")  # they read the store, not the project
    result = runner.invoke(app, [*args, "--json", *(demo[2:] if home_only else demo)])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("schema", "args", "nonempty"), [
    ("status", ["status"], None),
    ("materialize", ["materialize", "revenue+", "--executor", "in_process"], "materialized"),
    ("materialize", ["materialize", "revenue", "--missing-only"], "up_to_date"),
    ("check", ["check", "group:marts"], None),
    ("observe", ["observe"], "observed"),
    ("why", ["why", "revenue"], "lines"),
    ("history", ["history", "revenue"], "entries"),
    ("lineage", ["lineage", "staging/orders"], "downstream"),
    ("runs", ["runs"], None),
    ("ticks", ["ticks"], None),
    ("alerts list", ["alerts", "list"], None),
    ("schedule list", ["schedule", "list"], None),
    ("schedule preview", ["schedule", "preview", "morning_refresh", "--count", "2"], None),
    ("sensor list", ["sensor", "list"], None),
    ("automation explain", ["automation", "explain", "revenue_dashboard"], "lines"),
    ("automation explain", ["automation", "explain", "revenue_dashboard", "--history"], None),
    ("impact", ["impact", "revenue"], "assets"),
    ("gc", ["gc", "--dry-run"], None),
])
def test_json_output_matches_its_documented_schema(demo, schema, args, nonempty) -> None:  # type: ignore[no-untyped-def]
    data = run_json(demo, *args)
    expected = SCHEMAS[schema]
    if "--history" in args:
        expected = [expected]
    assert conforms(data, expected) == []
    assert data, f"{args}: empty output proves little"
    if nonempty:
        assert data[nonempty]


def test_run_show_json_of_a_queued_run_says_why_it_waits(demo) -> None:  # type: ignore[no-untyped-def]
    runs = run_json(demo, "runs")
    assert conforms(runs, SCHEMAS["runs"]) == []
    queued = [r for r in runs if r["status"] == "queued"]
    assert len(queued) == 1 and queued[0]["waiting"].startswith("1st of 1 in the queue")
    assert all(r["waiting"] is None for r in runs if r["status"] != "queued")
    shown = run_json(demo, "run", "show", queued[0]["run_id"][:8])
    assert conforms(shown, SCHEMAS["run show"]) == [] and shown["waiting"] == queued[0]["waiting"]


def test_the_schema_of_each_history_kind_is_the_same(demo) -> None:  # type: ignore[no-untyped-def]
    data = run_json(demo, "history", "raw/orders")
    assert {e["kind"] for e in data["entries"]} == {"observation"}
    data = run_json(demo, "history", "revenue", "--kind", "check")
    assert data["entries"] and {e["kind"] for e in data["entries"]} == {"check"}
    assert {e["passed"] for e in data["entries"]} == {False}  # the demo's warning check


PARTITIONED = """
import headwater as hw

@hw.asset(partitions=hw.DailyPartitions(start="2026-01-01", end="2026-01-05"))
def days(context):
    if context.partition_key == "2026-01-03":
        raise ValueError("bad day")
    return 1

defs = hw.Definitions(assets=[days])
"""


def test_partitions_json_matches_its_documented_schema(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pipeline.py").write_text(PARTITIONED)
    common = ["-f", str(tmp_path / "pipeline.py"), "--home", str(tmp_path / ".headwater")]
    runner.invoke(app, ["materialize", "days", "--from", "2026-01-01", "--to", "2026-01-03", "--executor",
                        "in_process", *common])
    result = runner.invoke(app, ["partitions", "days", "--json", *common])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert conforms(data, SCHEMAS["partitions"]) == []
    assert data["counts"] == {"total": 4, "materialized": 2, "missing": 1, "failed": 1, "running": 0, "stale": 0}
    failed = [p for p in data["partitions"] if p["status"] == "failed"]
    assert [p["partition"] for p in failed] == ["2026-01-03"] and "bad day" in failed[0]["why"]


def test_backfill_json_matches_its_documented_schemas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pipeline.py").write_text(PARTITIONED)
    common = ["-f", str(tmp_path / "pipeline.py"), "--home", str(tmp_path / ".headwater")]
    launched = runner.invoke(app, ["backfill", "days", "--from", "2026-01-01", "--to", "2026-01-04", "--json", *common])
    assert launched.stdout.startswith("{"), launched.output
    data = json.loads(launched.stdout)
    assert conforms(data, SCHEMAS["backfill"]) == [] and data["failures"], launched.output
    home = ["--home", str(tmp_path / ".headwater")]
    queued = json.loads(runner.invoke(app, ["backfill", "days", "--from", "2026-01-01", "--queue", "--json",
                                            *common]).stdout)
    for name, args in (("backfill show", ["backfill", "show", data["backfill_id"][:8], *common]),
                       ("backfill resume", ["backfill", "resume", data["backfill_id"], *common]),
                       ("backfill cancel", ["backfill", "cancel", queued["backfill_id"], *home])):
        result = runner.invoke(app, [*args, "--json"])
        assert result.stdout.startswith("{"), (name, result.output)
        assert conforms(json.loads(result.stdout), SCHEMAS[name]) == [], (name, result.output)
    listed = json.loads(runner.invoke(app, ["backfills", "--json", *common]).stdout)
    assert conforms(listed, SCHEMAS["backfills"]) == []
    assert {b["backfill_id"]: b["status"] for b in listed} == {data["backfill_id"]: "failed",
                                                               queued["backfill_id"]: "canceled"}


def test_run_cancel_json_matches_its_documented_schema(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pipeline.py").write_text(PARTITIONED)
    common = ["-f", str(tmp_path / "pipeline.py"), "--home", str(tmp_path / ".headwater")]
    queued = json.loads(runner.invoke(app, ["materialize", "days", "--partition", "2026-01-01", "--queue", "--json",
                                            *common]).stdout)
    result = runner.invoke(app, ["run", "cancel", queued["run_id"][:8], "--json", *common[2:]])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert conforms(data, SCHEMAS["run cancel"]) == []
    assert (data["run_id"], data["status"], data["canceled"], data["cancel_requested_at"]) == (
        queued["run_id"], "canceled", True, None)
    again = runner.invoke(app, ["run", "cancel", queued["run_id"], "--json", *common[2:]])
    assert again.exit_code == 2 and "already canceled; nothing to cancel" in again.output
    unknown = runner.invoke(app, ["run", "cancel", "nosuchrun", *common[2:]])
    assert unknown.exit_code == 2 and "no run with id 'nosuchrun'" in unknown.output
