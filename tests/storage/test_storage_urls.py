"""Opening a store from a URL: what is accepted, and how a bad one is reported."""

from __future__ import annotations

import pytest

from headwater.errors import StorageError
from headwater.storage.sql.engines import create_engines
from headwater.storage.sql.store import open_store


def test_an_unreachable_postgres_names_the_host():
    with pytest.raises(StorageError, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1/nowhere"):
        open_store("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=3")


def test_postgres_urls_use_psycopg_3():
    for url in ("postgresql://u@h:5433/db", "postgres://u@h:5433/db", "postgresql+psycopg://u@h:5433/db"):
        engines = create_engines(url)
        try:
            assert engines.write.url.drivername == "postgresql+psycopg"
            assert engines.target == "h:5433/db"
        finally:
            engines.dispose()


@pytest.mark.parametrize("url, message", [
    ("mysql://u@h/db", "unsupported database URL"),
    ("not a url", "invalid database URL"),
    ("sqlite:///x.db?busy_timeout=soon", "busy_timeout"),
])
def test_bad_urls_are_refused_by_name(url, message):
    with pytest.raises(StorageError, match=message):
        open_store(url)


def test_busy_timeout_comes_from_the_url(tmp_path):
    engines = create_engines(f"sqlite:///{tmp_path / 'a.db'}?busy_timeout=2.5")
    try:
        assert engines.busy_timeout == 2.5
        assert "busy_timeout" not in engines.write.url.query
    finally:
        engines.dispose()
