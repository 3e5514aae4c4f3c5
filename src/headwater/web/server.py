"""Serving the UI with Uvicorn: ``headwater ui``, and ``headwater dev`` (the daemon beside it)."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.service import Instance
from headwater.web import charts
from headwater.web.activity import QUIET
from headwater.web.app import create_app
from headwater.web.context import UiConfig

FIRST_PAGE_GRACE = 1.0  # seconds after the start when no request came: the caches warm (``activity.py``)


def serve_ui(defs: Definitions, instance: Instance, location: DefinitionsLocation | None, config: UiConfig,
             say: Any = print, daemon_interval: float | None = None) -> None:
    """Serve until Ctrl-C. With ``daemon_interval``, the daemon ticks in a thread beside the UI,
    on its own connection to the store (as it would in its own process)."""
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
            ctx.cache.prefetch()
            ctx.layouts.get(defs.graph, defs.graph.keys)
            ctx.cache.wait_first()
            charts.warm()

        threading.Thread(target=work, daemon=True, name="headwater-ui-warm").start()

    app = create_app(defs, instance, location, config, on_start=warm)
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
    host = f"[{config.host}]" if ":" in config.host else config.host
    mode = " (read-only)" if config.read_only else " (actions need HEADWATER_UI_TOKEN)" if config.token else ""
    say(f"Headwater UI on http://{host}:{config.port}{mode} — Ctrl-C to stop")
    try:
        uvicorn.run(app, host=config.host, port=config.port, log_level="warning")
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        if daemon_instance is not None:
            daemon_instance.close()
