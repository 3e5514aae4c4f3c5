"""How a workspace starts its locations' processes: all at once on a cold cache, and a
reload starts the reloaded location once, whatever its cache says.

The locations here use this interpreter (no virtualenvs): what is tested is when and how
often their processes start, which each location's own code records."""

import sys
import textwrap
from pathlib import Path

from headwater.core.keys import AssetKey
from headwater.definitions.locations_config import find_workspace
from headwater.service.workspace import Workspace

NAMES = ("a", "b", "c")

# Each location's module records that its process started, then waits until every location's
# process has: loaded one after the other, the first would wait for ever (a minute, then fail).
BARRIER = '''
import os
import time
from pathlib import Path

import headwater as hw

here = Path(os.environ["HW_TEST_MARKS"])
with open(here / "{name}.starts", "a") as f:
    f.write("started\\n")
deadline = time.monotonic() + 60
while not all((here / f"{{n}}.starts").exists() for n in {names!r}):
    if time.monotonic() > deadline:
        raise RuntimeError("location {name} waited a minute for the others to start: loaded one at a time")
    time.sleep(0.02)


@hw.asset(key="{name}/x", deps={deps!r})
def {name}_x():
    return 1
'''


def _workspace(folder: Path, marks: Path, monkeypatch) -> Path:
    marks.mkdir()
    monkeypatch.setenv("HW_TEST_MARKS", str(marks))
    toml = []
    for i, name in enumerate(NAMES):
        deps = [f"{NAMES[i - 1]}/x"] if i else []  # a dependency on another location, by key
        (folder / name).mkdir(parents=True)
        (folder / name / "defs.py").write_text(textwrap.dedent(BARRIER.format(name=name, names=NAMES, deps=deps)))
        toml.append(f'[[locations]]\nname = "{name}"\nfile = "{name}/defs.py"\npython = "{sys.executable}"\n')
    (folder / "headwater.toml").write_text("\n".join(toml))
    return folder


def _starts(marks: Path) -> dict[str, int]:
    return {n: len((marks / f"{n}.starts").read_text().splitlines()) for n in NAMES}


def test_a_cold_load_starts_every_location_at_once(tmp_path, monkeypatch):
    folder = _workspace(tmp_path / "ws", tmp_path / "marks", monkeypatch)
    ws = Workspace(find_workspace(folder), folder / ".headwater")
    try:
        ws.load()
        assert {n: (s.ok, s.error) for n, s in ws.states.items()} == {n: (True, "") for n in NAMES}
        graph = ws.definitions().graph
        assert graph.parents(AssetKey.parse("c/x")) == (AssetKey.parse("b/x"),)  # joined across locations
        assert _starts(tmp_path / "marks") == {"a": 1, "b": 1, "c": 1}
    finally:
        ws.close()


def test_reload_after_an_edit_starts_the_location_once_and_no_other(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from headwater.cli.app import app

    folder = _workspace(tmp_path / "ws", tmp_path / "marks", monkeypatch)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HEADWATER_HOME", str(folder / ".headwater"))
    runner = CliRunner()
    assert runner.invoke(app, ["locations"]).exit_code == 0
    source = folder / "b" / "defs.py"
    source.write_text(source.read_text() + "\n\n@hw.asset(key='b/y')\ndef b_y():\n    return 2\n")
    reloaded = runner.invoke(app, ["reload", "b", "--json"])
    assert reloaded.exit_code == 0, reloaded.output
    assert '"assets": 2' in reloaded.stdout
    # b's cache was stale: reading it is the reload, not a start before the reload's own.
    assert _starts(tmp_path / "marks") == {"a": 1, "b": 2, "c": 1}
