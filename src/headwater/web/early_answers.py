"""The first page's two answers as the app gives them, made without FastAPI or the project.

A restarted ``headwater ui`` (``first_page.py``) is first asked for ``/`` (the graph page: a
frame, the same for every project but for the CSRF token in it) and for the whole graph's
``/api/assets`` (``status``'s stored rows: ``stored_assets.py``). ``front.py`` answers
those two from here while the app is imported and built: the same status, headers and
bytes as ``pages.graph_page`` and ``api.assets`` give before the project is loaded (the
tests compare them). Anything else about such a request (a query, another method, a
Host the guard refuses, a cookie header this reader would not parse as Starlette does) is
left to the app.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from headwater.reports import iso
from headwater.service.executor_names import EXECUTORS
from headwater.web.security import ANSWER_HEADERS, CSP, CSRF_COOKIE, Guard
from headwater.web.stored_assets import StoredAssets
from headwater.web.ui_config import UiConfig

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
FIRST_PAGE = ("/", "/api/assets")
_TAIL = [(b"content-security-policy", CSP.encode()),
         *[(name.lower().encode(), value.encode()) for name, value in ANSWER_HEADERS]]


class _Url:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


class _Request:
    """What the graph page's templates and ``Guard.has_token`` read of a request."""

    def __init__(self, path: str, headers: dict[str, str], cookies: dict[str, str]) -> None:
        self.url = _Url(path)
        self.headers = headers
        self.cookies = cookies


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    """The request's headers by lower-case name, the first of each (as Starlette's ``get``)."""
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _cookies(header: str) -> dict[str, str]:
    """A ``Cookie`` header without quoted values, as Starlette reads one (the last of a name)."""
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            name, value = "", name
        name, value = name.strip(), value.strip()
        if name or value:
            cookies[name] = value
    return cookies


class EarlyAnswers:
    """``/`` and the whole graph's ``/api/assets`` of a UI whose project is not loaded yet."""

    def __init__(self, stored: StoredAssets, config: UiConfig, guard: Guard) -> None:
        self._stored = stored
        self._config = config
        self._guard = guard
        self._env: Any = None
        self._env_lock = threading.Lock()

    def takes(self, scope: dict[str, Any]) -> bool:
        """Whether this request is one of the first page's, asked plainly."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in FIRST_PAGE \
                or scope["query_string"] or scope.get("root_path"):
            return False
        headers = _headers(scope)
        return self._guard.host_header_allowed(headers.get("host", "")) and '"' not in headers.get("cookie", "")

    def answer(self, scope: dict[str, Any]) -> Answer | None:
        """The answer to a request ``takes`` took; None when only the app can give it (the
        stored rows do not hold: it computes them)."""
        if scope["path"] == "/":
            return self._graph_page(_headers(scope))
        found = self._stored.body()
        if found is None:
            return None
        body, as_of = found
        return 200, [(b"x-headwater-as-of", (iso(as_of) or "").encode("latin-1")),
                     (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"),
                     *_TAIL], body

    def _graph_page(self, headers: dict[str, str]) -> Answer:
        """``pages.graph_page`` with no query and no health snapshot yet, through ``pages.render``."""
        guard = self._guard
        cookies = _cookies(headers.get("cookie", ""))
        cookie = cookies.get(CSRF_COOKIE)
        fresh = cookie is None
        cookie = cookie or guard.new_cookie()
        request = _Request("/", headers, cookies)
        values = dict(select="", health="", status="", as_of=None, executors=EXECUTORS, error=None, cursor=None,
                      request=request, csrf_token=guard.csrf_for(cookie), read_only=guard.read_only,
                      token_required=guard.token_required, authenticated=guard.has_token(request),  # type: ignore[arg-type]
                      poll_seconds=self._config.poll_seconds, notice=None, now=time.time())
        body = self._template("graph.html").render(values).encode("utf-8")
        out = [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/html; charset=utf-8")]
        if fresh:
            out.append((b"set-cookie", _csrf_cookie(cookie)))
        return 200, out + _TAIL, body

    def _template(self, name: str) -> Any:
        with self._env_lock:
            if self._env is None:
                from headwater.web.page_env import environment

                self._env = environment()
            return self._env.get_template(name)


def _csrf_cookie(value: str) -> bytes:
    """The ``Set-Cookie`` value of ``set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict")``."""
    from http.cookies import SimpleCookie

    cookie: SimpleCookie = SimpleCookie()
    cookie[CSRF_COOKIE] = value
    cookie[CSRF_COOKIE]["path"] = "/"
    cookie[CSRF_COOKIE]["httponly"] = True
    cookie[CSRF_COOKIE]["samesite"] = "strict"
    return cookie.output(header="").strip().encode("latin-1")
