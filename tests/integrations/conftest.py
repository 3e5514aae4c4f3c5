"""Fixtures for the dbt integration: a real dbt project on duckdb, parsed and built once.

The project is written to a temporary folder once per session (``dbt_project.py``), its
raw tables loaded, ``hw.dbt.load`` run on it (which runs ``dbt parse``), and the whole
project built once into a session instance; tests that need other runs make their own.
Tests needing real dbt are skipped, saying so, when dbt-core is not installed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dbt_project  # noqa: E402

import headwater as hw  # noqa: E402


@dataclass
class Jaffle:
    dir: Path
    db: Path
    loaded_at: datetime
    project: object  # hw.dbt.DbtProject


@pytest.fixture(scope="session")
def jaffle(tmp_path_factory: pytest.TempPathFactory) -> Jaffle:
    pytest.importorskip("dbt.cli.main", reason="dbt-core is not installed (pip install -e '.[dbt]')")
    pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is not installed (pip install -e '.[dbt]')")
    root = dbt_project.write_project(tmp_path_factory.mktemp("dbt") / "jaffle")
    loaded_at = dbt_project.write_raw(root / "dev.duckdb")
    assert not (root / "target" / "manifest.json").exists()
    project = hw.dbt.load(root)
    assert (root / "target" / "manifest.json").exists()  # load ran `dbt parse`
    return Jaffle(root, root / "dev.duckdb", loaded_at, project)


@dataclass
class Built:
    instance: hw.Instance
    defs: hw.Definitions
    result: hw.RunResult


@pytest.fixture(scope="session")
def built(jaffle: Jaffle, tmp_path_factory: pytest.TempPathFactory):
    """Everything dbt builds, built once, into a session instance."""
    defs = jaffle.project.definitions()
    with hw.Instance(home=tmp_path_factory.mktemp("home")) as instance:
        result = instance.materialize(defs, "kind:dbt")
        yield Built(instance, defs, result)


@pytest.fixture
def dbt_commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every dbt command line Headwater starts during the test (arguments after ``dbt``)."""
    from headwater.integrations.dbt.invocation import DbtInvocation

    seen: list[list[str]] = []
    start = DbtInvocation.start

    def recording_start(self: DbtInvocation) -> None:
        seen.append(list(self.args))
        start(self)

    monkeypatch.setattr(DbtInvocation, "start", recording_start)
    return seen
