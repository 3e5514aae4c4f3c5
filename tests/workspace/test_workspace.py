"""A workspace of three locations, two in virtualenvs of their own: one graph, isolated failures."""

import json
import os
import time

import pytest

import headwater as hw
from headwater.definitions.locations_config import find_workspace
from headwater.errors import HeadwaterError
from headwater.service.workspace import Workspace, location_fields

K = hw.AssetKey.parse


@pytest.fixture
def workspace(workspace_dir):
    ws = Workspace(find_workspace(workspace_dir), workspace_dir / ".headwater")
    yield ws
    ws.close()


def test_each_location_runs_in_its_own_interpreter_and_the_graph_is_one(workspace, workspace_dir, venvs):
    workspace.load()
    assert {n: s.status for n, s in workspace.states.items()} == {"ingest": "loaded", "analytics": "loaded",
                                                                  "ml": "loaded"}
    defs = workspace.definitions()
    assert defs.graph.parents(K("revenue")) == (K("orders"),)  # a dependency across locations, by key
    assert set(defs.graph.parents(K("forecast"))) == {K("revenue"), K("customers")}
    assert defs.location_of[K("orders")] == "ingest" and defs.location_of[K("forecast")] == "ml"
    with hw.Instance(home=workspace_dir / ".headwater") as instance:
        result = instance.materialize(defs, "*")
        assert result.success, result.errors
        # Each step ran in its location's interpreter: the value says which one made it.
        assert result.value("orders")["python"] == str(venvs["ingest"])
        assert result.value("revenue") == {"total": 6, "python": str(venvs["analytics"])}
        # Staleness, checks and health flow across locations.
        instance.materialize(defs, "orders")
        statuses = instance.statuses(defs)
        assert statuses[K("revenue")].stale and statuses[K("forecast")].stale
        assert [c.kind.value for c in statuses[K("revenue")].causes] == ["upstream_updated"]
        healths = {h.key: h for h in instance.health(defs, "location:analytics")}
        assert set(healths) == {K("revenue")} and healths[K("revenue")].checks[0].state.value == "passed"
    assert instance.select(defs, "location:ml or location:ingest") == {K("forecast"), K("orders"), K("customers")}


def test_a_second_reader_answers_from_the_cache_until_a_file_changes(workspace, workspace_dir):
    workspace.load()
    workspace.close()
    again = Workspace(find_workspace(workspace_dir), workspace_dir / ".headwater").load()
    assert {s.origin for s in again.states.values()} == {"cache"} and not again.processes  # nothing started
    assert again.definitions().graph.keys == workspace.definitions().graph.keys
    assert again.changed() == []
    source = workspace_dir / "ml" / "pipeline.py"
    source.write_text(source.read_text().replace("return 42", "return 43\n\n\n@hw.asset\ndef extra():\n    return 1"))
    later = time.time() + 5
    os.utime(source, (later, later))  # an editor's save, whatever the file system's clock resolution
    assert again.changed() == ["ml"]
    started = {n: p for n, p in again.processes.items()}
    reloaded = again.reload_changed()
    assert [s.name for s in reloaded] == ["ml"] and reloaded[0].origin == "process"
    assert K("extra") in again.definitions().graph
    assert set(again.processes) == {"ml"} and started == {}  # only ml was started
    again.close()


def test_a_broken_location_is_shown_with_its_traceback_and_the_others_keep_working(
        tmp_path, write_workspace, monkeypatch):
    folder = write_workspace(tmp_path / "p", ml_source="import headwater as hw\n\ndef forecast(:\n    pass\n")
    ws = Workspace(find_workspace(folder), folder / ".headwater").load()
    try:
        ml = ws.states["ml"]
        assert ml.status == "broken" and "SyntaxError" in ml.error
        assert 'ml/pipeline.py", line 3' in ml.traceback and "def forecast(:" in ml.traceback
        defs = ws.definitions()  # its keys are what the others know of it: none here
        assert K("revenue") in defs.graph and K("forecast") not in defs.graph
        with hw.Instance(home=folder / ".headwater") as instance:
            assert instance.materialize(defs, "*").success
        assert ws.failures.fresh("ml", _identity(ws, "ml")) is not None  # not retried until a file changes
    finally:
        ws.close()


def _identity(ws, name):
    from headwater.service.workspace import _identity

    return _identity(ws.config.location(name))


def test_a_failing_reload_keeps_the_last_good_definitions_and_marks_its_assets_unavailable(workspace, workspace_dir):
    workspace.load()
    (workspace_dir / "ml" / "pipeline.py").write_text("raise RuntimeError('bad deploy')\n")
    [ml] = workspace.reload("ml")
    assert ml.status == "broken" and "bad deploy" in ml.error and "last good definitions" in ml.warning
    defs = workspace.definitions()
    assert K("forecast") in defs.graph and K("forecast") in defs.unavailable
    assert location_fields(defs, K("forecast")) == {"location": "ml", "location_status": "unavailable"}
    assert location_fields(defs, K("revenue")) == {"location": "analytics", "location_status": "loaded"}
    # A new reader (another CLI process) shows the same: the last good definitions, from the cache.
    other = Workspace(find_workspace(workspace_dir), workspace_dir / ".headwater").load()
    assert other.states["ml"].status == "broken" and K("forecast") in other.definitions().unavailable
    assert not other.processes


def test_the_same_key_in_two_locations_is_one_line_naming_both(tmp_path, write_workspace):
    folder = write_workspace(tmp_path / "p", ml_source="import headwater as hw\n\n@hw.asset\ndef orders():\n    return 1\n")
    ws = Workspace(find_workspace(folder), folder / ".headwater").load()
    try:
        with pytest.raises(HeadwaterError) as info:
            ws.definitions()
        message = str(info.value)
        assert "\n" not in message and "asset orders" in message and "'ingest'" in message and "'ml'" in message
    finally:
        ws.close()


def test_the_cli_lists_locations_reloads_one_and_shows_unavailable_assets(workspace_dir):
    from typer.testing import CliRunner

    from headwater.cli.app import app

    runner = CliRunner()
    listed = runner.invoke(app, ["locations", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(r["name"], r["status"], r["assets"]) for r in json.loads(listed.output)] == [
        ("ingest", "loaded", 2), ("analytics", "loaded", 1), ("ml", "loaded", 1)]
    (workspace_dir / "ml" / "pipeline.py").write_text("import missing_library\n")
    reloaded = runner.invoke(app, ["reload", "ml"])
    assert reloaded.exit_code == 1
    assert "ml" in reloaded.output and "broken" in reloaded.output and "missing_library" in reloaded.output
    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 0, status.output
    rows = {r["key"]: r for r in json.loads(status.stdout)}
    assert rows["forecast"]["location_status"] == "unavailable" and rows["forecast"]["location"] == "ml"
    assert rows["orders"]["location"] == "ingest" and rows["orders"]["location_status"] == "loaded"
    table = runner.invoke(app, ["status", "location:ml", "--no-pager"])
    assert "location unavailable" in table.stdout and "orders" not in table.stdout
    assert "warning: location ml failed to load" in table.stderr


def test_the_ui_lists_locations_and_its_button_reloads_one(workspace, workspace_dir, monkeypatch):
    from fastapi.testclient import TestClient

    from headwater.web import UiConfig, create_app

    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    workspace.load()
    instance = hw.Instance(home=workspace_dir / ".headwater")
    app = create_app(workspace.definitions(), instance, workspace.location, UiConfig(launch="queue"))
    with TestClient(app, base_url="http://127.0.0.1:3000") as client:
        assert [r["status"] for r in client.get("/api/locations").json()] == ["loaded"] * 3
        page = client.get("/locations")
        assert page.status_code == 200 and page.text.count(">Reload</button>") == 3
        token = client.get("/api/session").json()["csrf_token"]
        (workspace_dir / "ml" / "pipeline.py").write_text("import headwater as hw\n\n@hw.asset\ndef churn():\n"
                                                          "    return 1\n")
        reloaded = client.post("/api/locations/ml/reload", headers={"X-CSRF-Token": token})
        assert reloaded.status_code == 200 and reloaded.json()[0]["status"] == "loaded"
        keys = {r["key"] for r in client.get("/api/assets").json()}
        assert "churn" in keys and "forecast" not in keys  # the UI reads the reloaded graph
        (workspace_dir / "ml" / "pipeline.py").write_text("raise ValueError('half-written file')\n")
        form = client.post("/locations/ml/reload", data={"csrf_token": token}, follow_redirects=True)
        assert form.status_code == 200 and "half-written file" in form.text and "last good definitions" in form.text
        assert client.post("/api/locations/nope/reload", headers={"X-CSRF-Token": token}).status_code == 400
    app.state.ctx.launcher.close()
    instance.close()


def test_a_queued_run_of_a_workspace_is_executed_by_the_run_worker(workspace_dir):
    from typer.testing import CliRunner

    from headwater.cli.app import app

    runner = CliRunner()
    queued = runner.invoke(app, ["materialize", "location:ingest+", "--queue", "--json"])
    assert queued.exit_code == 0, queued.output
    run_id = json.loads(queued.stdout)["run_id"]
    worked = runner.invoke(app, ["run-worker", run_id])
    assert worked.exit_code == 0, worked.output
    with hw.Instance(home=workspace_dir / ".headwater") as instance:
        run = instance.run(run_id)
        assert run.status.value == "succeeded" and {str(k) for k in run.asset_keys} == {
            "orders", "customers", "revenue", "forecast"}


def test_the_daemon_reloads_only_the_location_whose_files_changed(workspace, workspace_dir):
    from headwater.automation.daemon import Daemon

    workspace.load()
    with hw.Instance(home=workspace_dir / ".headwater") as instance:
        daemon = Daemon(instance, workspace.definitions(), workspace.location, interval=1)
        daemon.tick()
        before = dict(workspace.processes)
        source = workspace_dir / "ingest" / "pipeline.py"
        source.write_text(source.read_text() + "\n\n@hw.asset\ndef refunds():\n    return []\n")
        later = time.time() + 5
        os.utime(source, (later, later))
        daemon.tick()
        assert K("refunds") in daemon.defs.graph
        assert workspace.processes["ingest"] is not before["ingest"]  # a new process for ingest
        assert all(workspace.processes[n] is before[n] for n in ("analytics", "ml"))  # the others untouched
