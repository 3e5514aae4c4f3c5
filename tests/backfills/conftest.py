"""Backfill tests run on SQLite and on PostgreSQL (a fresh schema per test), with the small
partitioned project in ``project.py`` steered through files in a temp dir."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_pg: list[str] = []


def _pg_problem() -> str:
    if not _pg:
        import psycopg

        try:
            with psycopg.connect(PG_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg.append("")
        except psycopg.OperationalError as exc:
            _pg.append(f"no PostgreSQL server answers at {PG_URL}: {str(exc).strip()}")
    return _pg[0]


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the project file; the project reads its steering files from here."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(HERE / "project.py", folder / "project.py")
    monkeypatch.setenv("HW_BACKFILL_DIR", str(folder))
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'headwater.db'}"
        return
    reason = _pg_problem()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"hw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def defs(project_dir: Path):  # type: ignore[no-untyped-def]
    from headwater.definitions.loader import find_location, load_definitions

    return load_definitions(find_location(str(project_dir / "project.py"), None, None))


@pytest.fixture
def instance(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    from headwater.service import Instance

    inst = Instance(home=tmp_path / "home", database_url=db_url)
    yield inst
    inst.close()


sys.path.insert(0, str(HERE))
