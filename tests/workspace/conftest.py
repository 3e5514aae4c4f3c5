"""Real virtualenvs (created once per session, ``--system-site-packages --without-pip`` so
they take a second) and a workspace of three teams' locations written afresh per test."""

import subprocess
import sys

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


@pytest.fixture
def write_workspace(venvs, write_locations):
    """``write_workspace(folder, ml_source=...)``: the three teams' files and headwater.toml."""
    return lambda folder, ml_source=ML: write_locations(folder, [
        {"name": "ingest", "source": INGEST, "python": venvs["ingest"]},
        {"name": "analytics", "source": ANALYTICS, "python": venvs["analytics"]},
        {"name": "ml", "source": ml_source, "working_dir": "ml"}])


@pytest.fixture
def workspace_dir(tmp_path, write_workspace, monkeypatch):
    folder = write_workspace(tmp_path / "platform")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HEADWATER_HOME", str(folder / ".headwater"))
    return folder
