"""How ``headwater ui`` starts: listening before loading the project when it can.

A project whose last UI kept what the first page needs (``web/first_page.py``), and whose
files are as they were, is loaded after the server listens; any other (the first UI of a
project, an edited one, a workspace, a dbt project) is loaded first, and keeps that for the
next UI once the server is quiet. Where ``status``'s rows can serve its definitions, such a
UI too listens before the web app is imported (FastAPI and pydantic: most of its start),
answering its first page from the rows kept for them, or for the definitions before an
edit, brought up to date.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater.definitions.loader import find_location, load_definitions
from headwater.service import Instance


def start_ui(file: str | None, module: str | None, attribute: str | None, home: Path | None, config: Any,
             say: Callable[[str], None], warn: Callable[[str], None], freeze: bool) -> None:
    """Serve the UI of the project at ``file``/``module`` (or found from here) until Ctrl-C.
    ``freeze``: a real ``headwater`` process, whose definitions live as long as it does
    (``typer_app._Project``)."""
    from headwater.web import first_page

    location = None
    if file or module:
        location = find_location(file, module, attribute)
    else:
        from headwater.definitions.locations_config import find_workspace

        if find_workspace() is None:
            location = find_location(None, None, attribute)
    if location is None or not first_page.usable(location):
        from headwater.cli.typer_app import _Project
        from headwater.web.server import serve_ui

        p = _Project(file, module, attribute, home, reuses=True)
        serve_ui(p.defs, p.instance, p.location, config, say)
        return
    instance = Instance(home=home)
    identity = first_page.identity(location)
    early = first_page.FirstPageKey.find(instance.home, location, identity)
    reads: list[list[Any]] = []

    def load() -> Any:
        try:
            with first_page.recording_reads() as recorded:
                defs = load_definitions(location)
            reads.extend(recorded)
        finally:
            if freeze:
                gc.freeze()  # as ``_Project`` does: never scanned again
        if early is not None:
            from headwater.service import status_snapshot

            if status_snapshot.fingerprint(defs) != early.fingerprint:
                warn("warning: the definitions differ from the ones this UI's first /api/assets was answered for, "
                     "though their files did not change (do they read the environment or the clock?); "
                     "from now on the UI loads them before it listens")
                first_page.forget(instance.home)
        return defs

    def remember(defs: Any) -> None:
        if early is None:
            first_page.remember(instance.home, location, defs, reads, identity)

    if early is not None:  # the first page from the kept key, before the app is imported (web/front.py)
        from headwater.web.early_server import serve_front_first

        if freeze:
            gc.freeze()  # the modules imported so far live as long as the process: never scanned again
        serve_front_first(first_page.DeferredDefinitions(load, early), instance, location, config, say,
                          remember=remember, freeze=freeze)
    else:
        from headwater.service import status_snapshot

        defs = load()
        if not status_snapshot.eligible(defs):
            from headwater.web.server import serve_ui

            serve_ui(defs, instance, location, config, say, remember=remember)
            return
        # Loaded first (edited since its last UI, or never served): still listening before the
        # app is imported, the first page from the kept rows brought up to date (stored_assets.py).
        from headwater.web.early_server import serve_front_first

        if freeze:
            gc.freeze()
        serve_front_first(first_page.DeferredDefinitions(lambda: defs, first_page.FirstPageKey.of(defs)), instance,
                          location, config, say, remember=remember, freeze=freeze)
