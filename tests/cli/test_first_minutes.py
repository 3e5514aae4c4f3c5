"""What a newcomer meets in the first minutes: messages that say what to do next, reads
that never create state, status-aware selections, and queued runs that say why they wait."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import headwater as hw
from headwater.cli.app import app

runner = CliRunner()

PROJECT = """
import os
import headwater as hw

raw = hw.source_asset("raw/events", observe=lambda: hw.Observation(data_version="v1"))

@hw.asset(deps=["raw/events"])
def revenue():
    return 1

@hw.asset
def broken(revenue):
    if os.environ.get("BROKEN_FIXED") != "1":
        raise RuntimeError("boom")
    return revenue

@hw.asset
def report(broken):
    return broken

@hw.asset
def other():
    return 2

defs = hw.Definitions(assets=[raw, revenue, broken, report, other], max_concurrent_runs=1,
                      concurrency_limits={"other": 1})
"""


def hw_cli(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path, write_project, monkeypatch):  # type: ignore[no-untyped-def]
    path = write_project(PROJECT)
    monkeypatch.chdir(path.parent)
    monkeypatch.delenv("BROKEN_FIXED", raising=False)
    return ["-f", str(path), "--home", str(tmp_path / "home")]


def test_reads_in_an_empty_folder_refuse_instead_of_creating_state(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEADWATER_HOME", raising=False)
    for args in (["runs"], ["run", "show", "abc"], ["ticks"], ["alerts", "list"]):
        result = hw_cli(*args)
        assert result.exit_code == 2, args
        assert "no Headwater state at" in result.output and "--home" in result.output
    assert list(tmp_path.iterdir()) == []


def test_why_and_history_name_an_unknown_asset_with_a_suggestion(project) -> None:  # type: ignore[no-untyped-def]
    for command in ("why", "history", "lineage"):
        result = hw_cli(command, "revenu", *project)
        assert result.exit_code == 2
        assert result.output.strip().startswith("error: no asset named 'revenu' (did you mean 'revenue'")
    assert hw_cli("why", "nope", *project).output.strip() == "error: no asset named 'nope'"


def test_materializing_a_source_points_at_observe(project) -> None:  # type: ignore[no-untyped-def]
    result = hw_cli("materialize", "raw/events", *project)
    assert result.exit_code == 2
    assert "raw/events is a source asset, which Headwater observes rather than produces" in result.output
    assert "headwater observe 'raw/events'" in result.output


def test_status_failed_plus_reruns_what_is_red_and_its_downstream(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hw_cli("observe", *project)
    first = hw_cli("materialize", "*", "--executor", "in_process", *project)
    assert first.exit_code == 1
    monkeypatch.setenv("BROKEN_FIXED", "1")
    failed = json.loads(hw_cli("status", "status:failed or status:skipped", "--json", *project).output)
    assert {r["key"] for r in failed} == {"broken", "report"}
    rerun = json.loads(hw_cli("materialize", "status:failed+", "--executor", "in_process", "--json",
                              *project).output)
    assert rerun["status"] == "succeeded" and rerun["materialized"] == ["broken", "report"]
    assert json.loads(hw_cli("status", "status:failed", "--json", *project).output) == []
    roots = json.loads(hw_cli("status", "roots(revenue+)", "--json", *project).output)
    assert [r["key"] for r in roots] == ["revenue"]


def test_history_shows_failures_and_skips_between_materializations(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hw_cli("observe", *project)
    hw_cli("materialize", "*", "--executor", "in_process", *project)
    monkeypatch.setenv("BROKEN_FIXED", "1")
    hw_cli("materialize", "broken+", "--executor", "in_process", *project)
    kinds = [e["kind"] for e in json.loads(hw_cli("history", "report", "--json", *project).output)["entries"]]
    assert kinds == ["materialization", "skipped"]
    entries = json.loads(hw_cli("history", "broken", "--json", *project).output)["entries"]
    assert [e["kind"] for e in entries] == ["materialization", "failure"]
    assert entries[1]["detail"] == "boom" and entries[1]["run_id"]
    table = hw_cli("history", "broken", *project).output
    assert "failure" in table and "boom" in table


def test_queued_runs_say_their_place_and_the_limit_that_holds_them(project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for selection in ("revenue", "other", "other"):
        assert hw_cli("materialize", selection, "--queue", *project).exit_code == 0
    with hw.Instance(home=tmp_path / "home") as instance:
        first = instance.store.queued_runs()[0]
        instance.claim(first)  # a launcher took it: one run in progress
    runs = json.loads(hw_cli("runs", "--json", *project).output)
    waiting = [r["waiting"] for r in reversed(runs) if r["status"] == "queued"]
    assert waiting == ["1st of 2 in the queue; waits: 1 run(s) in progress, the limit is 1",
                       "2nd of 2 in the queue; waits: 1 run(s) in progress, the limit is 1"]
    table = hw_cli("runs", *project).output
    assert "2nd of 2 in the queue; waits: 1 run(s) in progress" in table
    shown = hw_cli("run", "show", runs[0]["run_id"][:8], *project).output
    assert "waiting: 2nd of 2 in the queue" in shown
    # Outside the project, the limits are unknown: only the place in the queue is told.
    home_only = json.loads(hw_cli("runs", "--json", "--home", str(tmp_path / "home"), "-f",
                                  str(tmp_path / "missing.py")).output)
    assert home_only[0]["waiting"] == "2nd of 2 in the queue; waits for the daemon (`headwater daemon`) to launch it"
