"""One store fixture, run on every backend: SQLite in a temp file, PostgreSQL in a fresh schema.

PostgreSQL tests use the local server at ``HEADWATER_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets its own schema, created
before and dropped after, and reaches it through ``search_path`` in the URL, so tests
never see each other's tables. When no server answers, those tests are skipped and the
reason is shown; any other failure is a failure.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater.storage.sql.store import SqlEventStore, open_store

# The helper modules beside this file (event builders, worker processes) are imported by
# plain name, by the tests and by the worker processes they spawn (which inherit sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'headwater.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def opener(store_url: str) -> Iterator[Callable[..., SqlEventStore]]:
    """Open stores on this test's database; every one is closed at the end."""
    opened: list[SqlEventStore] = []

    def open_(url: str | None = None) -> SqlEventStore:
        store = open_store(url or store_url)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[..., SqlEventStore]) -> SqlEventStore:
    return opener()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'headwater.db'}"
