"""Backfill tests run on SQLite and on PostgreSQL (a fresh schema per test), with the small
partitioned project in ``project.py`` steered through files in a temp dir."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


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
    yield request.getfixturevalue("pg_schema_url")  # tests/conftest.py: a fresh schema


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
