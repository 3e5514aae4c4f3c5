"""``headwater ui`` answers its first page before loading the user's project when its last
UI kept what that needs (``web/first_page.py``): the same rows as once the project is
loaded, with freshness policies and after a write; never when a file the definitions were
read from changed; and a project whose definitions changed anyway is reported."""

from __future__ import annotations

import os
import sys
import time
import urllib.request

import headwater as hw
from headwater.definitions.loader import DefinitionsLocation, load_definitions
from headwater.web import UiConfig, create_app, first_page

from .browser import free_port
from .test_cli_ui import start, stop, wait_for
from .test_stored_assets import Clock, snapshots

POLICY = "default_freshness=hw.FreshnessPolicy.within(__import__('datetime').timedelta(hours=1)), "


def with_policies(folder) -> None:
    pipeline = folder / "pipeline.py"
    pipeline.write_text(pipeline.read_text().replace("checks=[revenue_positive],", "checks=[revenue_positive], " + POLICY))


def kept(home, location, identity) -> None:
    """What a UI that loaded the project keeps once quiet."""
    with first_page.recording_reads() as reads:
        defs = load_definitions(location)
    first_page.remember(home, location, defs, reads, identity)


class EarlyUi:
    """A UI process started from the kept key: the project loads only when a request needs it."""

    def __init__(self, web, location, identity, clock) -> None:
        self.loads = 0

        def load():
            self.loads += 1
            return load_definitions(location)

        early = first_page.FirstPageKey.find(web.instance.home, location, identity)
        assert early is not None
        self.instance = hw.Instance(home=web.instance.home, clock=clock)
        self.app = create_app(first_page.DeferredDefinitions(load, early), self.instance, location,
                              UiConfig(launch="queue"))
        self.client = web.client.__class__(self.app, base_url=str(web.client.base_url))
        self.ctx = self.app.state.ctx

    def __enter__(self) -> EarlyUi:
        self.client.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.client.__exit__(*exc)
        assert self.ctx.stored_assets.wait_idle(timeout=60)
        self.ctx.launcher.close()
        self.instance.close()


def ui_that_kept_its_rows(make_web, project):
    """A project with freshness policies and history whose UI computed its rows and kept them
    and its key: (web, location, identity, clock) as the next UI finds them."""
    folder, location = project
    identity = first_page.identity(location)  # as `headwater ui` takes it, before loading anything
    with_policies(folder)
    web = make_web()
    clock = Clock()
    with hw.Instance(home=web.instance.home, clock=clock) as writer:
        writer.observe(web.defs)
        assert writer.materialize(web.defs).success
    assert web.client.get("/api/assets").status_code == 200  # computed, and kept once quiet
    assert web.app.state.ctx.stored_assets.wait_idle(timeout=60) and snapshots(web)
    kept(web.instance.home, location, identity)
    return web, location, identity, clock


def test_the_first_page_before_the_project_loads_is_what_it_is_once_loaded(make_web, project):
    web, location, identity, clock = ui_that_kept_its_rows(make_web, project)
    for step in ("unchanged", "a deadline passed", "after a write"):
        if step == "a deadline passed":
            clock.now += 2 * 3600
        if step == "after a write":
            with hw.Instance(home=web.instance.home, clock=clock) as writer:
                assert writer.materialize(web.defs, "staging/orders+").success  # the run keeps the rows current
        with EarlyUi(web, location, identity, clock) as ui:
            first = ui.client.get("/api/assets")
            assert first.status_code == 200
            assert ui.client.get("/").status_code == 200
            assert ui.loads == 0 and ui.instance._store is None  # neither the project nor the store opened
            assert ui.client.get("/api/assets", params={"health": "degraded"}).status_code == 200  # needs them
            assert ui.loads == 1
            assert ui.ctx.cache.peek() is not None
            assert first.json() == ui.client.get("/api/assets").json(), step
            if step == "a deadline passed":
                assert {r["freshness"]["state"] for r in first.json()} == {"overdue"}


def test_the_key_holds_only_while_every_file_read_is_unchanged(tmp_path):
    folder = tmp_path / "project"
    (folder / "sql").mkdir(parents=True)
    (folder / "sql" / "a.sql").write_text("select 1")
    (folder / "helper.py").write_text("GROUP = 'g'\n")
    (folder / "settings.txt").write_text("b\n")
    (folder / "pipeline.py").write_text(
        "import json, pathlib\nimport headwater as hw\nfrom helper import GROUP\n"
        "HERE = pathlib.Path(__file__).parent\n"
        "names = [p.stem for p in sorted((HERE / 'sql').iterdir())] + (HERE / 'settings.txt').read_text().split()\n"
        "defs = hw.Definitions(assets=[hw.asset(key=n, group=GROUP)(lambda: None) for n in names])\n")
    location = DefinitionsLocation(file=str(folder / "pipeline.py"), working_dir=str(folder))
    home = folder / ".headwater"
    (home / "ui-cache").mkdir(parents=True)  # as a project's home is (creating it changes its folder)
    identity = first_page.identity(location)
    path = list(sys.path)
    try:
        edits = [lambda: (folder / "pipeline.py").write_text((folder / "pipeline.py").read_text() + "# edited\n"),
                 lambda: (folder / "helper.py").write_text("GROUP = 'other'\n"),
                 lambda: (folder / "settings.txt").write_text("b c\n"),
                 lambda: (folder / "sql" / "d.sql").write_text("select 2")]
        for edit in edits:
            sys.modules.pop("helper", None)
            kept(home, location, identity)
            assert first_page.FirstPageKey.find(home, location, identity) is not None
            recorded = [p for p, _, _ in __import__("orjson").loads((home / "ui-cache" / "first-page.json").read_bytes())["files"]]
            assert not any("/json/" in p for p in recorded)  # the installation's modules are not keys
            time.sleep(0.01)  # mtimes in ns: a distinct one, whatever the file system's granularity
            (folder / f"run-output-{len(recorded)}.csv").write_text("1")  # the project folder gains a file
            assert first_page.FirstPageKey.find(home, location, identity) is not None  # no definition read it
            edit()
            assert first_page.FirstPageKey.find(home, location, identity) is None
        assert first_page.FirstPageKey.find(home, location, "another interpreter or path") is None
    finally:
        sys.path[:] = path
        sys.modules.pop("helper", None)


def test_old_ui_bodies_are_removed_and_nothing_else(tmp_path):
    cache = tmp_path / "ui-cache"
    cache.mkdir()
    names = ["assets-0123abcd.json", "assets-4567.json", "assets-0123abcd.99.1.tmp", "assets-young.1.2.tmp",
             "layout-0e21.json", "first-page.json", "notes.txt"]
    for name in names:
        (cache / name).write_text("{}")
    old = time.time() - 2 * first_page.STALE_TMP
    os.utime(cache / "assets-0123abcd.99.1.tmp", (old, old))
    (cache / "assets-dir.json").mkdir()
    assert first_page.clean_old_bodies(tmp_path) == 3
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["assets-young.1.2.tmp", "layout-0e21.json", "first-page.json", "notes.txt", "assets-dir.json"])
    assert first_page.clean_old_bodies(tmp_path / "nowhere") == 0


def test_a_ui_process_keeps_the_key_and_reports_definitions_that_changed_without_their_files(project):
    """Definitions that read the environment: the second UI answers its first page for the
    kept ones, then finds out, says so and forgets the key."""
    folder, _ = project
    pipeline = folder / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "\nimport os as _os\n"
                        "if _os.environ.get('EXTRA'):\n"
                        "    defs = defs.extended(assets=[hw.asset(key='extra')(lambda: None)])\n")
    key = materialize_and_keep_a_key(folder)
    port, proc = ui_with("EXTRA", folder)
    try:
        first = wait_for(f"http://127.0.0.1:{port}/api/assets", proc)
        assert "extra" not in {r["key"] for r in first}  # answered for the kept definitions
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/assets?select=*", timeout=30) as response:
            assert "extra" in response.read().decode()  # loaded
        deadline = time.monotonic() + 60
        while key.exists():
            assert time.monotonic() < deadline, "the key was not forgotten"
            time.sleep(0.05)
    finally:
        out = stop(proc)
    assert "the definitions differ from the ones this UI's first /api/assets was answered for" in out


def test_a_project_that_fails_to_load_after_the_first_page_stops_the_ui(project):
    """As a UI that loads first exits 2 with the error, so does one that answered first."""
    folder, _ = project
    pipeline = folder / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "\nimport os as _os\n"
                        "if _os.environ.get('BROKEN'):\n    raise RuntimeError('the warehouse is unreachable')\n")
    materialize_and_keep_a_key(folder)
    port, proc = ui_with("BROKEN", folder)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/api/assets", proc)  # answered before loading
        out, _ = proc.communicate(timeout=60)  # the load (once quiet) fails: the server stops
    finally:
        if proc.poll() is None:
            stop(proc)
    assert proc.returncode == 2
    assert "the warehouse is unreachable" in out


def materialize_and_keep_a_key(folder):  # type: ignore[no-untyped-def]
    """Materialize ``pipeline.py`` and run a UI until it has kept its rows and its key, as a
    user's previous UI would have; returns the key's path."""
    pipeline = folder / "pipeline.py"
    key = folder / ".headwater" / "ui-cache" / "first-page.json"
    with hw.Instance(home=folder / ".headwater") as writer:
        assert writer.materialize(load_definitions(DefinitionsLocation(file=str(pipeline), working_dir=str(folder))),
                                  "*").success
    port = free_port()
    proc = start(["ui", "--port", str(port), "--read-only"], folder)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/assets", proc)  # computed, the rows kept; the key too, once quiet
        deadline = time.monotonic() + 60
        while not key.exists() or not list((folder / ".headwater" / "snapshots").glob("status-*.snap")):
            assert time.monotonic() < deadline, "no key or rows kept"
            time.sleep(0.05)
    finally:
        stop(proc)
    return key


def ui_with(variable: str, folder):  # type: ignore[no-untyped-def]
    """A ``headwater ui`` started with ``variable=1`` in its environment: (port, process)."""
    os.environ[variable] = "1"
    try:
        port = free_port()
        return port, start(["ui", "--port", str(port), "--read-only"], folder)
    finally:
        del os.environ[variable]


def test_what_a_load_writes_is_not_what_it_read(tmp_path, monkeypatch):
    """The import system writes a module's bytecode through a temporary ``x.pyc.<id>``
    (``os.open`` with write flags): not a file the definitions were read from. Recorded as
    absent, it dropped the key whenever the same name was written again."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipeline.py").write_text("import headwater as hw\ndefs = hw.Definitions(assets=[hw.asset(key='a')(lambda: None)])\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    location = DefinitionsLocation(file=str(folder / "pipeline.py"), working_dir=str(folder))
    with first_page.recording_reads() as reads:
        load_definitions(location)
    paths = [p for p, _, _ in reads]
    assert str((folder / "pipeline.py").resolve()) in paths
    assert list((folder / "__pycache__").glob("pipeline.*.pyc")), "no bytecode was written: nothing tested"
    assert not [p for p in paths if ".pyc" in p], paths


def test_an_edited_project_is_loaded_first_and_its_first_page_is_the_kept_rows_brought_up_to_date(make_web, project):
    """The key no longer holds (a file changed): the project is loaded before listening, and
    the first ``/api/assets`` is still answered without the state derived, from the rows kept
    for the definitions before the edit, revenue and dashboard derived again."""
    web, location, identity, clock = ui_that_kept_its_rows(make_web, project)
    pipeline = web.folder / "pipeline.py"
    pipeline.write_text(pipeline.read_text().replace('group="marts", code_version="1"', 'group="marts", code_version="2"'))
    assert first_page.FirstPageKey.find(web.instance.home, location, identity) is None
    defs = load_definitions(location)
    instance = hw.Instance(home=web.instance.home, clock=clock)
    app = create_app(first_page.DeferredDefinitions(lambda: defs, first_page.FirstPageKey.of(defs)), instance, location,
                     UiConfig(launch="queue"))
    client = web.client.__class__(app, base_url=str(web.client.base_url))
    ctx = app.state.ctx
    try:
        with client:
            first = client.get("/api/assets")
            assert first.status_code == 200
            assert ctx.cache.peek() is None and instance._store is None  # answered from the rows, no state derived
            rows = {r["key"]: r for r in first.json()}
            assert rows["revenue"]["stale"] and rows["dashboard"]["stale"] and not rows["staging/orders"]["stale"]
            assert client.get("/api/assets", params={"health": "degraded"}).status_code == 200  # derives the state
            assert first.json() == client.get("/api/assets").json()
        assert ctx.stored_assets.wait_idle(timeout=60)
    finally:
        ctx.launcher.close()
        instance.close()


def test_headwater_ui_of_an_edited_project_answers_its_first_page(project):
    folder, _ = project
    materialize_and_keep_a_key(folder)
    pipeline = folder / "pipeline.py"
    pipeline.write_text(pipeline.read_text().replace('group="marts", code_version="1"', 'group="marts", code_version="2"'))
    port = free_port()
    proc = start(["ui", "--port", str(port), "--read-only"], folder)
    try:
        first = {r["key"]: r for r in wait_for(f"http://127.0.0.1:{port}/api/assets", proc)}
        assert first["revenue"]["stale"] and not first["staging/orders"]["stale"]
    finally:
        stop(proc)
    assert len(list((folder / ".headwater" / "snapshots").glob("status-*.snap"))) == 2
