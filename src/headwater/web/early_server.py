"""Serving a restarted ``headwater ui`` whose first page is answered before the app exists.

``first_page.py`` says when a UI may listen before loading its project; ``front.py``
answers the first page while FastAPI and the app are imported, then hands every request
to the app. This wires the two under Uvicorn, which alone is imported before listening.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from headwater.web.activity import Activity
from headwater.web.early_answers import EarlyAnswers
from headwater.web.first_page import DeferredDefinitions
from headwater.web.front import App, FrontApp
from headwater.web.stored_assets import StoredAssets
from headwater.web.ui_config import UiConfig


def serve_front_first(defs: DeferredDefinitions, instance: Any, location: Any, config: UiConfig,
                      say: Callable[[str], Any], remember: Callable[[Any], None] | None = None,
                      freeze: bool = False) -> None:
    """Serve until Ctrl-C, the first page first (``server.serve_ui`` for the rest). A load of
    the project or a build of the app that fails stops the server and is raised here.
    ``freeze``: the app's modules, once imported, live as long as the process (``gc.freeze``)."""
    import uvicorn

    config.validate()
    guard = config.new_guard()
    activity = Activity()
    early = defs.early
    answers = EarlyAnswers(StoredAssets(instance, early.stand_in(), fingerprint=early.fingerprint), config, guard)

    def build() -> App:
        from headwater.gc_pause import paused_gc

        with paused_gc():  # the web stack's import builds objects as long-lived as the process
            from headwater.web.server import ui_app

            app = ui_app(defs, instance, location, config, remember, guard=guard, activity=activity)
        if freeze:
            gc.freeze()
        return app  # type: ignore[return-value]

    front = FrontApp(answers, build, activity)
    errors: list[BaseException] = []
    say(config.listening())
    server = uvicorn.Server(uvicorn.Config(front, host=config.host, port=config.port, log_level="warning"))

    def stop(exc: BaseException) -> None:
        errors.append(exc)
        server.should_exit = True

    defs.on_error = lambda exc: setattr(server, "should_exit", True)
    front.on_error = stop
    server.run()
    if defs.error is not None:
        raise defs.error
    if errors:
        raise errors[0]
