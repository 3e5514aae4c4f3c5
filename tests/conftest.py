import textwrap
from pathlib import Path

import pytest

import headwater as hw


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
