"""Fixtures every test folder may use: an instance in a temp home, a project writer, and a
fresh PostgreSQL schema.

PostgreSQL tests use the local server at ``HEADWATER_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets its own schema, created
before and dropped after, and reaches it through ``search_path`` in the URL, so tests
never see each other's tables (and may run in parallel). When no server answers, those
tests are skipped and the reason is shown; any other failure is a failure.
"""

import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import headwater as hw

# Keep bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE=1, as on the
# machine CI runs on): pytest then caches its assertion-rewritten test modules instead of
# rewriting ~400 of them on every run (seconds of collection), and the Python processes the
# tests start (CLI, workers, daemons, location processes) find Headwater compiled.
# __pycache__ is git-ignored.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

PG_URL = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

_pg_problem: list[str] = []  # memo: [] untested, [""] reachable, [reason] unreachable


def _pg_unreachable() -> str:
    if not _pg_problem:
        import psycopg

        try:
            with psycopg.connect(PG_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_problem.append("")
        except psycopg.OperationalError as exc:
            _pg_problem.append(f"no PostgreSQL server answers at {PG_URL}: {str(exc).strip()}")
    return _pg_problem[0]


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL onto a brand-new, empty schema, dropped afterwards."""
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"hw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def instance(tmp_path):
    with hw.Instance(home=tmp_path / "home") as inst:
        yield inst


@pytest.fixture
def write_project(tmp_path):
    """Write a pipeline file into a fresh folder and return its path."""

    def write(source: str, name: str = "pipeline.py") -> Path:
        folder = tmp_path / "project"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


def _write_locations(folder: Path, locations: list[dict]) -> Path:
    """A workspace's files: each location's ``pipeline.py`` (``source``, dedented) in a folder
    of its name, and ``headwater.toml`` naming them with their ``python`` (another virtualenv's
    interpreter) and ``working_dir`` where given."""
    toml = []
    for loc in locations:
        (folder / loc["name"]).mkdir(parents=True, exist_ok=True)
        (folder / loc["name"] / "pipeline.py").write_text(textwrap.dedent(loc["source"]))
        toml.append(f'[[locations]]\nname = "{loc["name"]}"\nfile = "{loc["name"]}/pipeline.py"\n')
        if loc.get("python"):
            toml[-1] += f'python = "{loc["python"]}/bin/python"\n'
        if loc.get("working_dir"):
            toml[-1] += f'working_dir = "{loc["working_dir"]}"\n'
    (folder / "headwater.toml").write_text("\n".join(toml))
    return folder


@pytest.fixture
def write_locations():
    """``write_locations(folder, [{"name", "source", "python"?, "working_dir"?}, ...])``."""
    return _write_locations

