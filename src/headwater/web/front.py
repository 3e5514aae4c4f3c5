"""``headwater ui``'s first page answered before FastAPI is imported, on the same server.

A restarted UI (``first_page.py``) listened before loading the project, yet still imported
the web stack first: FastAPI, Starlette, pydantic, the app's fifty routes and their views,
~0.3 s of CPU before ``/`` could be answered, for a page that is a frame and a body read
from disk (``early_answers.py``). So Uvicorn serves this small ASGI application instead;
it answers those two requests itself while the app is not there, and builds the app (in
a thread: an import holds the interpreter only between its bytecodes) as soon as a
request needs it, or once the server is quiet after its first answers (as the project's
load waits, ``activity.py``). From then on every request goes to the app, which also gets
its lifespan (its warm-up, its close) from here as a server would give it.

There is no hand-over of a socket, so none can drop a connection: the server that listens
is the one that serves until the end; what changes is the application behind it. A
request that comes while the app is being built waits for it (counted as in flight, so
that the warm-ups wait too), and one the front cannot answer (no stored rows that hold,
any other path) is the app's. A build that fails is raised to the requests that wait and
stops the server (``on_error``), as a project that fails to load does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from headwater.web.activity import FIRST_PAGE_GRACE, QUIET, Activity
from headwater.web.early_answers import EarlyAnswers

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class FrontApp:
    """The ASGI application Uvicorn serves: the first page from ``answers``, everything else
    (and everything once built) by the app ``build()`` returns."""

    def __init__(self, answers: EarlyAnswers, build: Callable[[], App], activity: Activity,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._answers = answers
        self._build = build
        self._activity = activity
        self.on_error = on_error
        self.app: App | None = None  # the app, once built and started
        self._built: asyncio.Future[App] | None = None
        self._building = False
        self._closing = False
        self._lifespan: _Lifespan | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(receive, send)
            return
        app = self.app
        if app is not None:
            await app(scope, receive, send)
            return
        activity = self._activity
        if self._answers.takes(scope):
            activity.begin()
            try:
                answer = await asyncio.get_running_loop().run_in_executor(None, self._answers.answer, scope)
            finally:
                activity.end()
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        activity.begin()  # in flight while it waits for the app: the warm-ups wait for it too
        try:
            app = await self.ready()
            await app(scope, receive, send)
        finally:
            activity.end()

    async def ready(self) -> App:
        """The app, built (and started) first if need be."""
        if self.app is not None:
            return self.app
        self._start_build()
        return await asyncio.shield(self._future())

    def _future(self) -> asyncio.Future[App]:
        if self._built is None:
            self._built = asyncio.get_running_loop().create_future()
            self._built.add_done_callback(_retrieved)
        return self._built

    def _start_build(self) -> None:
        """On the event loop: build the app in a thread, once; start it back on the loop."""
        if self._building or self._closing:
            return
        self._building = True
        loop = asyncio.get_running_loop()
        self._future()

        def work() -> None:
            app: App | None = None
            error: BaseException | None = None
            try:
                app = self._build()
            except BaseException as exc:  # noqa: BLE001 - handed to the requests that wait, and to on_error
                error = exc
            try:
                loop.call_soon_threadsafe(lambda: loop.create_task(self._start(app, error)))
            except RuntimeError:  # the loop closed: the server stopped meanwhile
                pass

        threading.Thread(target=work, name="headwater-ui-build", daemon=True).start()

    async def _start(self, app: App | None, error: BaseException | None) -> None:
        future = self._future()
        if app is not None and error is None and not self._closing:
            lifespan = _Lifespan(app)
            try:
                await lifespan.startup()
            except Exception as exc:  # noqa: BLE001 - as a build that failed
                error = exc
            else:
                self._lifespan = lifespan
                self.app = app
                future.set_result(app)
                return
        if error is None:  # the server stops (Ctrl-C during the build): not an error
            future.set_exception(RuntimeError("the UI stopped before its app was built"))
            return
        future.set_exception(error)
        if self.on_error is not None:
            self.on_error(error)

    async def _serve_lifespan(self, receive: Receive, send: Send) -> None:
        """The server's lifespan: once started, the build waits for a quiet moment (or a
        request); at the end, the app's own lifespan ends first."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._build_when_quiet(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._closing = True
                if self._lifespan is not None:
                    try:
                        await self._lifespan.shutdown()
                    except Exception as exc:  # noqa: BLE001 - reported as a server reports it
                        await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                        return
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _build_when_quiet(self, loop: asyncio.AbstractEventLoop) -> None:
        def wait() -> None:
            self._activity.wait_quiet(QUIET, FIRST_PAGE_GRACE)
            try:
                loop.call_soon_threadsafe(self._start_build)
            except RuntimeError:  # the loop closed: the server stopped meanwhile
                pass

        threading.Thread(target=wait, name="headwater-ui-front", daemon=True).start()


class _Lifespan:
    """The ASGI lifespan of the app behind the front, driven as a server drives one."""

    def __init__(self, app: App) -> None:
        self._app = app
        loop = asyncio.get_running_loop()
        self._messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._started: asyncio.Future[None] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()
        for future in (self._started, self._stopped):
            future.add_done_callback(_retrieved)
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._messages.put_nowait({"type": "lifespan.startup"})
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._started

    async def shutdown(self) -> None:
        self._messages.put_nowait({"type": "lifespan.shutdown"})
        await self._stopped

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        try:
            await self._app(scope, self._messages.get, self._send)
        except Exception as exc:  # noqa: BLE001 - the startup or shutdown that waits raises it
            for future in (self._started, self._stopped):
                if not future.done():
                    future.set_exception(exc)
            return
        for future in (self._started, self._stopped):  # an app without a lifespan: nothing to wait for
            if not future.done():
                future.set_result(None)

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._started.set_result(None)
        elif kind == "lifespan.startup.failed":
            self._started.set_exception(RuntimeError(message.get("message") or "the UI's startup failed"))
        elif kind == "lifespan.shutdown.complete":
            self._stopped.set_result(None)
        elif kind == "lifespan.shutdown.failed":
            self._stopped.set_exception(RuntimeError(message.get("message") or "the UI's shutdown failed"))


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Marks a failure as seen: it is raised to whoever awaits, or reported by ``on_error``."""
    if not future.cancelled():
        future.exception()
