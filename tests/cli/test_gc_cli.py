"""``headwater gc``: the policy of the project's pyproject.toml, a dry run that deletes
nothing, and a collection that keeps what status reads."""

import json
import time

from typer.testing import CliRunner

import headwater as hw
from headwater.cli.app import app
from headwater.definitions.loader import find_location, load_definitions


def test_gc_dry_run_then_collect(write_project, tmp_path, monkeypatch):
    path = write_project("import headwater as hw\n@hw.asset\ndef a(context):\n    context.log.info('x')\n"
                         "    return 1\ndefs = hw.Definitions(assets=[a])\n")
    (path.parent / "pyproject.toml").write_text('[tool.headwater]\nfile = "pipeline.py"\n'
                                                '[tool.headwater.retention]\nlogs = 1\nstep_events = 1\n'
                                                'asset_facts = 1\n')
    monkeypatch.chdir(path.parent)
    defs = load_definitions(find_location())
    two_days_ago = time.time() - 2 * 86400
    with hw.Instance(home=tmp_path / "home", clock=lambda: two_days_ago) as inst:  # runs recorded 2 days ago
        for _ in range(3):
            assert inst.materialize(defs).success
    home = ["--home", str(tmp_path / "home")]
    runner = CliRunner()
    dry = json.loads(runner.invoke(app, ["gc", "--dry-run", "--json", *home]).stdout)
    assert dry["dry_run"] and dry["rows"]["logs"] == 3 and dry["rows"]["asset_facts"] == 2
    assert dry["policy"]["logs"] == "1d"
    done = runner.invoke(app, ["gc", *home])
    assert done.exit_code == 0 and "logs: deleted 3 row(s)" in done.stdout and "freed" in done.stdout
    status = json.loads(runner.invoke(app, ["status", "--json", *home]).stdout)
    assert status[0]["status"] == "materialized"  # the latest materialization stays
