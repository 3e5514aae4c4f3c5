import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import headwater as hw
from headwater.definitions.loader import DefinitionsLocation, load_definitions
from headwater.web import UiConfig, create_app

from .project import PIPELINE

BASE = "http://127.0.0.1:3000"


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipeline.py").write_text(PIPELINE)
    (folder / "orders.txt").write_text("3 4 5\n")
    location = DefinitionsLocation(file=str(folder / "pipeline.py"), working_dir=str(folder))
    return folder, location


class Web:
    """An app over the test project, a client, and the instance behind it."""

    def __init__(self, folder: Path, location: DefinitionsLocation, config: UiConfig) -> None:
        self.folder = folder
        self.location = location
        self.defs = load_definitions(location)
        self.instance = hw.Instance(home=folder / ".headwater")
        self.app = create_app(self.defs, self.instance, location, config)
        self.client = TestClient(self.app, base_url=BASE)

    def materialize(self, selection: str = "*"):
        return self.instance.materialize(self.defs, selection)

    def csrf(self) -> str:
        return self.client.get("/api/session").json()["csrf_token"]

    def post(self, url: str, body: dict | None = None, **kw):
        return self.client.post(url, json=body or {}, headers={"X-CSRF-Token": self.csrf()}, **kw)

    def close(self) -> None:
        self.client.close()
        self.app.state.ctx.launcher.close()
        self.instance.close()


@pytest.fixture
def make_web(project, monkeypatch):
    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    monkeypatch.setenv("HEADWATER_HOME", str(project[0] / ".headwater"))
    made = []

    def make(**config) -> Web:
        config.setdefault("launch", "queue")
        web = Web(project[0], project[1], UiConfig(**config))
        made.append(web)
        return web

    yield make
    for web in made:
        web.close()


@pytest.fixture
def web(make_web):
    """A project with history: raw observed, everything materialized, flaky failed once after."""
    w = make_web()
    w.instance.observe(w.defs)
    assert w.materialize().success
    (w.folder / "FLAKY").write_text("")
    w.materialize("flaky")
    os.remove(w.folder / "FLAKY")
    return w
