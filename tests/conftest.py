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


def pytest_sessionstart(session: pytest.Session) -> None:
    """The CLI's output is as wide as ``COLUMNS`` says, else 200 columns when piped (as under
    pytest); the tests read it at that width, whoever runs them. GNU readline, which pytest's
    output capture imports, exports a terminal size (``COLUMNS=80``, ``LINES=24`` without a
    terminal) into the C environment, which pytest-xdist's worker processes inherit as their
    ``os.environ``: forget both here, in every process, so that the CLI and the child
    processes the tests start get the same width in one process and on workers."""
    for name in ("COLUMNS", "LINES"):
        os.environ[name] = ""  # os.environ may lack what readline set in C: set, then unset
        del os.environ[name]


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



# --- pytest-xdist: which tests must share a worker -------------------------------------------
#
# The suite runs on two workers (``-n 2 --dist loadgroup`` in pyproject.toml). A worker builds
# every session- or module-scoped fixture it needs for itself: the dbt project's parse and
# build, the Dask cluster, a module's dbt builds. So tests that share such a fixture of this
# suite are kept together on one worker (an ``xdist_group`` mark, which ``loadgroup`` sends as
# one unit) and the fixture is built once, as in one process; every other test goes to
# whichever worker is free. Fixtures of plugins (``tmp_path_factory``, ...) do not group.

_SHARED_SCOPES = ("session", "package", "module", "class")


def _shared_fixture_keys(item: pytest.Item) -> list[tuple[str, str]]:
    """One key per instance of a suite fixture the test shares with others."""
    keys: list[tuple[str, str]] = []
    info = getattr(item, "_fixtureinfo", None)  # None for items that are not test functions
    for name, defs in (info.name2fixturedefs.items() if info else ()):
        fixture = defs[-1]  # the definition that applies to this test (the closest override)
        if fixture.scope not in _SHARED_SCOPES or not fixture.baseid:
            continue  # per-test, or a plugin's (plugins' fixtures have no base id)
        where = fixture.baseid  # a session's or package's fixture: one for all its tests
        if fixture.scope == "module":
            where = item.nodeid.split("::", 1)[0]
        elif fixture.scope == "class":
            where = item.nodeid.rsplit("::", 1)[0]
        keys.append((name, where))
    for mark in item.iter_markers("shares_fixture"):  # asked for at run time (getfixturevalue)
        defs = item.session._fixturemanager.getfixturedefs(mark.args[0], item)
        if not defs:
            raise pytest.UsageError(f"{item.nodeid}: shares_fixture({mark.args[0]!r}): no such fixture here")
        keys.append((mark.args[0], defs[-1].baseid))
    return keys


def _groups(items: list[pytest.Item]) -> dict[pytest.Item, str]:
    """Tests linked by shared fixtures, transitively (a test using the dbt project and a
    module's fixture joins both), each linked set named by its first key."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(key: tuple[str, str]) -> tuple[str, str]:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    item_keys = {}
    for item in items:
        keys = _shared_fixture_keys(item)
        for key in keys:
            parent.setdefault(key, key)
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
        if keys:
            item_keys[item] = keys[0]
    return {item: "{}:{}".format(*root(key)) for item, key in item_keys.items()}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # what xdist tells its workers
        return  # one process, or another distribution mode: nothing to group
    for item, group in _groups(items).items():
        item.add_marker(pytest.mark.xdist_group(group))
