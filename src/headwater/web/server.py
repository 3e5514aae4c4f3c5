"""Serving the UI with Uvicorn: ``headwater ui``, and ``headwater dev`` (the daemon beside it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.service import Instance
from headwater.web import charts
from headwater.web.activity import FIRST_PAGE_GRACE, QUIET, Activity
from headwater.web.app import create_app
from headwater.web.context import UiConfig
from headwater.web.first_page import DeferredDefinitions, clean_old_bodies
from headwater.web.security import Guard


def ui_app(defs: Definitions | DeferredDefinitions, instance: Instance, location: DefinitionsLocation | None,
           config: UiConfig, remember: Callable[[Definitions], None] | None = None,
           guard: Guard | None = None, activity: Activity | None = None) -> FastAPI:
    """The app of ``headwater ui``, which warms its caches once started. ``defs`` deferred
    (``first_page.py``): the project is loaded once the server is quiet or a request needs
    it. ``remember(defs)``, once quiet, keeps what the next UI's first page needs. ``guard``
    and ``activity``: the front's (``front.py``), when it answered before this app was built."""
    def warm() -> None:
        """Once the server is quiet after its first answers, or has listened for
        ``FIRST_PAGE_GRACE`` seconds with no request (so the first pages share the interpreter
        with none of this; ``/`` is a frame, a restarted UI's first ``/api/assets`` is read from
        disk, ``stored_assets.py``, and a request that needs the state computes it itself):
        the first health snapshot, the whole graph's layout if not on disk yet, then, once
        the first snapshot is there, vl-convert's engine (about a second of CPU, for the
        asset pages' charts)."""
        ctx = app.state.ctx

        def work() -> None:
            ctx.activity.wait_quiet(QUIET, FIRST_PAGE_GRACE)
            try:
                loaded = ctx.defs
            except BaseException:  # noqa: BLE001 - reported by the deferred load; the server stops
                return
            if remember is not None:
                try:
                    remember(loaded)
                except Exception:  # noqa: BLE001 - an optimisation for the next UI: it loads first instead
                    pass
            clean_old_bodies(instance.home)
            ctx.cache.prefetch()
            ctx.layouts.get(ctx.graph, ctx.graph.keys)
            ctx.cache.wait_first()
            charts.warm()

        threading.Thread(target=work, daemon=True, name="headwater-ui-warm").start()

    app = create_app(defs, instance, location, config, on_start=warm, guard=guard, activity=activity)
    return app


def serve_ui(defs: Definitions | DeferredDefinitions, instance: Instance, location: DefinitionsLocation | None,
             config: UiConfig, say: Any = print, daemon_interval: float | None = None,
             remember: Callable[[Definitions], None] | None = None) -> None:
    """Serve until Ctrl-C. With ``daemon_interval``, the daemon ticks in a thread beside the UI,
    on its own connection to the store (as it would in its own process). ``defs`` deferred:
    a load that fails stops the server and is raised here (``ui_app`` for the rest)."""
    app = ui_app(defs, instance, location, config, remember)
    stop = threading.Event()
    thread = None
    daemon_instance = None
    if daemon_interval is not None:
        from headwater.automation.daemon import Daemon

        daemon_instance = Instance(home=instance.home, database_url=instance.database_url)
        daemon = Daemon(daemon_instance, defs, location or DefinitionsLocation(), interval=daemon_interval)
        thread = threading.Thread(target=daemon.run, args=(stop,), name="headwater-daemon", daemon=True)
        thread.start()
        say(f"headwater daemon ({daemon.owner}) ticking every {daemon_interval:g}s on {instance.database_url}")
    say(config.listening())
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning"))
    if isinstance(defs, DeferredDefinitions):
        defs.on_error = lambda exc: setattr(server, "should_exit", True)
    try:
        server.run()
        if isinstance(defs, DeferredDefinitions) and defs.error is not None:
            raise defs.error
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        if daemon_instance is not None:
            daemon_instance.close()
