"""A restarted ``headwater ui`` answers its first page before FastAPI is imported
(``web/front.py``): the same answers as the app's, every request answered while the app is
built and handed the server, every route served by the app once it is there, and the
app's answer (computed) whenever the stored rows do not hold."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn
from fastapi.testclient import TestClient

import headwater as hw
from headwater.definitions.loader import load_definitions
from headwater.web import UiConfig, create_app, first_page
from headwater.web.activity import Activity
from headwater.web.early_answers import EarlyAnswers
from headwater.web.front import FrontApp
from headwater.web.stored_assets import StoredAssets

from .browser import free_port
from .conftest import BASE
from .test_cli_ui import start, stop
from .test_first_page import materialize_and_keep_a_key, ui_that_kept_its_rows
from .test_stored_assets import snapshots


@pytest.fixture
def restarted(make_web, project):
    """(web, location, key, clock) as the next UI finds them (``ui_that_kept_its_rows``)."""
    web, location, identity, clock = ui_that_kept_its_rows(make_web, project)
    key = first_page.FirstPageKey.find(web.instance.home, location, identity)
    assert key is not None
    return web, location, key, clock


class Front:
    """What ``early_server.serve_front_first`` wires, over its own instance; ``build`` may be
    held (``gate``) to catch requests during the hand-over."""

    def __init__(self, web, location, key, clock, gated: bool = False) -> None:
        self.instance = hw.Instance(home=web.instance.home, clock=clock)
        self.loads = 0

        def load():
            self.loads += 1
            return load_definitions(location)

        self.deferred = first_page.DeferredDefinitions(load, key)
        self.config = UiConfig(launch="queue")
        self.guard = self.config.new_guard()
        self.activity = Activity()
        self.building = threading.Event()
        self.started = threading.Event()  # the app's lifespan began (``headwater ui`` warms its caches then)
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.answers = EarlyAnswers(StoredAssets(self.instance, key.stand_in(), fingerprint=key.fingerprint),
                                    self.config, self.guard)

        def build():
            self.building.set()
            assert self.gate.wait(60)
            return create_app(self.deferred, self.instance, location, self.config, on_start=self.started.set,
                              guard=self.guard, activity=self.activity)

        self.front = FrontApp(self.answers, build, self.activity)

    def close(self) -> None:
        self.gate.set()
        app = self.front.app
        if app is not None:
            assert app.state.ctx.stored_assets.wait_idle(timeout=60)
        self.instance.close()


def scope(path: str, cookie: str | None = None) -> dict:
    headers = [(b"host", b"127.0.0.1:3000")] + ([(b"cookie", f"hw_csrf={cookie}".encode())] if cookie else [])
    return {"type": "http", "method": "GET", "path": path, "query_string": b"", "root_path": "", "headers": headers}


def test_the_front_answers_the_first_page_as_the_app_does(restarted):
    """Byte for byte, headers included, before the project is loaded: the app built with the
    front's guard (its CSRF secret) over the same kept key."""
    web, location, key, clock = restarted
    f = Front(web, location, key, clock)
    app = create_app(f.deferred, f.instance, location, f.config, guard=f.guard)
    try:
        with TestClient(app, base_url=BASE) as client:
            for path, cookie in [("/", "a-cookie"), ("/api/assets", None), ("/api/assets", "a-cookie")]:
                assert f.answers.takes(scope(path, cookie))
                status, headers, body = f.answers.answer(scope(path, cookie))
                theirs = client.get(path, headers={"cookie": f"hw_csrf={cookie}"} if cookie else {})
                assert (status, body) == (theirs.status_code, theirs.content), path
                assert [(k.decode(), v.decode()) for k, v in headers] == list(theirs.headers.items()), path
            status, headers, body = f.answers.answer(scope("/"))  # a browser's first visit: a cookie set
            client.cookies.clear()
            theirs = client.get("/")
            assert [k for k, _ in headers] == [k.encode() for k in theirs.headers]
            mine = dict(headers)[b"set-cookie"].decode()
            assert re.sub("hw_csrf=[^;]+", "", mine) == re.sub("hw_csrf=[^;]+", "", theirs.headers["set-cookie"])
            token = re.search(rb'name="csrf-token" content="([0-9a-f]+)"', body).group(1).decode()
            assert token == f.guard.csrf_for(re.match("hw_csrf=([^;]+)", mine).group(1))
            assert f.loads == 0 and f.instance._store is None  # neither the project nor the store opened
        for plain in [scope("/", '"quoted"'), {**scope("/api/assets"), "query_string": b"select=*"},
                      {**scope("/"), "method": "HEAD"}, scope("/graph"),
                      {**scope("/"), "headers": [(b"host", b"evil.example")]}]:
            assert not f.answers.takes(plain)  # the app's to answer
    finally:
        app.state.ctx.launcher.close()
        f.close()


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request on a connection of its own (as a browser opens them while a page loads)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_requests_during_the_hand_over_are_answered_and_every_route_works_after(restarted):
    """Under Uvicorn: the first page from the front; a request for anything else starts the
    build and waits for it while the first page is still answered; then the app answers
    everything, with the front's CSRF cookie, its lifespan started."""
    web, location, key, clock = restarted
    f = Front(web, location, key, clock, gated=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(f.front, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        status, headers, page = get(port, "/")
        assert status == 200 and f.front.app is None  # the front's
        status, _, rows = get(port, "/api/assets")
        assert status == 200 and f.front.app is None
        cookie = headers["set-cookie"].split(";")[0]
        with ThreadPoolExecutor(4) as pool:
            waiting = [pool.submit(get, port, path, {"cookie": cookie})
                       for path in ("/api/session", "/static/app.css", "/api/assets?select=*")]
            assert f.building.wait(60)
            for _ in range(3):  # while the app is built: the first page still answered, the others wait
                assert get(port, "/")[0] == 200 and get(port, "/api/assets")[0] == 200
            assert not any(w.done() for w in waiting)
            f.gate.set()
            session, css, selected = [w.result(timeout=120) for w in waiting]
        assert f.front.app is not None and f.started.is_set()
        token = re.search(rb'name="csrf-token" content="([0-9a-f]+)"', page).group(1).decode()
        assert session[0] == 200 and json.loads(session[2])["csrf_token"] == token  # the same guard
        assert css[0] == 200 and css[1]["content-type"].startswith("text/css")
        assert selected[0] == 200 and {r["key"] for r in json.loads(selected[2])} == \
            {r["key"] for r in json.loads(rows)}
        assert get(port, "/api/assets")[2] == rows  # the app's, from the same stored rows
        for path in ("/assets", "/runs", "/api/assets/revenue", "/api/runs", "/graph"):
            assert get(port, path)[0] == 200, path
        status, _, body = get(port, "/api/actions/check", {"cookie": cookie})
        assert status == 405  # a POST route: the app's own answer to a GET
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/actions/check", method="POST",
                                         data=json.dumps({"key": "revenue"}).encode(),
                                         headers={"Content-Type": "application/json", "Cookie": cookie,
                                                  "X-CSRF-Token": token})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200  # the front's cookie and page token act on the app
        assert f.loads == 1  # loaded once, by the first request that needed it
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        f.close()
    assert not thread.is_alive()


def test_without_rows_that_hold_the_app_answers(restarted):
    """The stored rows gone (or older than the store): ``/api/assets`` is the app's, computed."""
    web, location, key, clock = restarted
    for snap in snapshots(web):
        snap.unlink()
    f = Front(web, location, key, clock)
    try:
        with TestClient(f.front, base_url=BASE) as client:
            assert client.get("/").status_code == 200 and f.front.app is None
            answered = client.get("/api/assets")
            assert answered.status_code == 200 and f.front.app is not None  # built for it
            assert {r["key"] for r in answered.json()} == {str(k) for k in web.defs.graph.keys}
            assert f.front.app.state.ctx.cache.peek() is not None  # computed
    finally:
        f.close()


def test_a_build_that_fails_stops_the_server_with_its_error(restarted):
    web, location, key, clock = restarted
    f = Front(web, location, key, clock)
    failures = []

    def build():
        raise RuntimeError("the web stack does not import")

    front = FrontApp(f.answers, build, f.activity, on_error=failures.append)
    try:
        with TestClient(front, base_url=BASE, raise_server_exceptions=False) as client:
            assert client.get("/").status_code == 200
            assert client.get("/api/session").status_code == 500
        assert [str(e) for e in failures] == ["the web stack does not import"]
    finally:
        f.close()


def first_answers(port: int, proc, paths: list[str], count: int) -> list[tuple[int, dict, bytes]]:
    """From the first answer to ``paths[0]`` on (polled until the server listens), ``count``
    more requests cycling through ``paths``, each on a new connection."""
    deadline = time.monotonic() + 60
    answered = []
    while not answered:
        assert time.monotonic() < deadline and proc.poll() is None, "the UI did not answer"
        try:
            answered.append(get(port, paths[0]))
        except OSError:  # not listening yet
            time.sleep(0.02)
    for i in range(count):
        answered.append(get(port, paths[(i + 1) % len(paths)]))
    return answered


def test_a_restarted_ui_process_refuses_no_request_across_the_hand_over(project):
    """The real command: from its first answer on, every request (new connections, the
    first page's and others, as a browser's page load sends them) gets a 200; after an edit
    of the project, the key no longer holds and the UI loads first, as before."""
    folder, _ = project
    materialize_and_keep_a_key(folder)
    paths = ["/", "/api/assets", "/static/app.css", "/api/session", "/api/assets", "/", "/api/assets/revenue"]
    port = free_port()
    proc = start(["ui", "--port", str(port), "--read-only"], folder)
    try:
        answered = first_answers(port, proc, paths, 60)  # bounded: rounds after the app answers too
    finally:
        out = stop(proc)
    assert [a[0] for a in answered] == [200] * len(answered)
    assert "Headwater UI on http://127.0.0.1:" in out
    pipeline = folder / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "\ndefs = defs.extended(assets=[hw.asset(key='added')(lambda: None)])\n")
    port = free_port()
    proc = start(["ui", "--port", str(port), "--read-only"], folder)
    try:
        answered = first_answers(port, proc, ["/api/assets", "/"], 1)
    finally:
        stop(proc)
    assert "added" in {r["key"] for r in json.loads(answered[0][2])}  # the edited project's, from its first answer
