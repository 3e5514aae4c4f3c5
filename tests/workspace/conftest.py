"""Real virtualenvs (created once per session, ``--system-site-packages --without-pip`` so
they take a second) and a workspace of three teams' locations written afresh per test."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

INGEST = '''
import sys
import time
import headwater as hw

@hw.asset(group="raw", owners=["ingest"], code_version="1")
def orders():                              # every load is new data
    return hw.Output({"rows": [1, 2, 3], "python": sys.prefix}, data_version=str(time.time_ns()))

@hw.asset(group="raw")
def customers():
    return ["ana", "bo"]
'''

ANALYTICS = '''
import sys
import headwater as hw

@hw.asset(group="marts", freshness=hw.FreshnessPolicy.within(3600))
def revenue(orders):                       # an asset of the ingest location, by name
    return {"total": sum(orders["rows"]), "python": sys.prefix}

@hw.check("revenue")
def positive(revenue):
    return revenue["total"] > 0


defs = hw.Definitions(assets=[revenue], checks=[positive])
'''

ML = '''
import headwater as hw

@hw.asset(deps=["revenue", "customers"], group="ml")
def forecast():
    return 42
'''


@pytest.fixture(scope="session")
def venvs(tmp_path_factory):
    """Two virtualenvs of their own: the ingest and analytics teams' interpreters."""
    root = tmp_path_factory.mktemp("venvs")
    out = {}
    for name in ("ingest", "analytics"):
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                        str(root / name)], check=True)
        out[name] = root / name
    return out


def _write(folder: Path, venvs, ml_source: str = ML) -> Path:
    for name, source in (("ingest", INGEST), ("analytics", ANALYTICS), ("ml", ml_source)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "pipeline.py").write_text(textwrap.dedent(source))
    (folder / "headwater.toml").write_text(textwrap.dedent(f'''
        [[locations]]
        name = "ingest"
        file = "ingest/pipeline.py"
        python = "{venvs['ingest']}/bin/python"

        [[locations]]
        name = "analytics"
        file = "analytics/pipeline.py"
        python = "{venvs['analytics']}/bin/python"

        [[locations]]
        name = "ml"
        file = "ml/pipeline.py"
        working_dir = "ml"
    '''))
    return folder


@pytest.fixture
def write_workspace(venvs):
    """``write_workspace(folder, ml_source=...)``: the three teams' files and headwater.toml."""
    return lambda folder, ml_source=ML: _write(folder, venvs, ml_source)


@pytest.fixture
def workspace_dir(tmp_path, write_workspace, monkeypatch):
    folder = write_workspace(tmp_path / "platform")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HEADWATER_HOME", str(folder / ".headwater"))
    return folder
