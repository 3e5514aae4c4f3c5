"""One store fixture, run on every backend: SQLite in a temp file, PostgreSQL in a fresh
schema (``pg_schema_url`` of ``tests/conftest.py``, which says how the server is found)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater.storage.sql.store import SqlEventStore, open_store

# The helper modules beside this file (event builders, worker processes) are imported by
# plain name, by the tests and by the worker processes they spawn (which inherit sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

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
