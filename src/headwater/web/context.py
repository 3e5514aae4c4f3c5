"""What every request handler needs: the project, the instance, and the UI's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.errors import HeadwaterError
from headwater.service import Instance
from headwater.web.activity import Activity
from headwater.web.canvas_graph import LayoutCache
from headwater.web.changes import ChangeFeed
from headwater.web.graph_view import ViewCache
from headwater.web.launching import RunLauncher
from headwater.web.rows import RowWriter
from headwater.web.security import Guard, is_loopback
from headwater.web.state import HealthCache
from headwater.web.stored_assets import StoredAssets

TOKEN_ENV = "HEADWATER_UI_TOKEN"


@dataclass
class UiConfig:
    """How the UI was started: ``headwater ui --host ... --read-only --launch ...``."""

    host: str = "127.0.0.1"
    port: int = 3000
    read_only: bool = False
    token: str | None = field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None)
    launch: str = "auto"
    poll_seconds: float = 2.0

    def validate(self) -> None:
        if not is_loopback(self.host) and not self.read_only and not self.token:
            raise HeadwaterError(
                f"the UI would listen on {self.host}, which is not loopback: set {TOKEN_ENV} so that actions "
                "need a token, or pass --read-only")


class WebContext:
    def __init__(self, defs: Definitions, instance: Instance, location: DefinitionsLocation | None,
                 config: UiConfig) -> None:
        config.validate()
        self.defs = defs
        self.instance = instance
        self.location = location
        self.config = config
        self.guard = Guard(read_only=config.read_only, token=config.token, loopback=is_loopback(config.host))
        self.launcher = RunLauncher(instance, location, config.launch)
        self.views = ViewCache()
        self.layouts = LayoutCache(instance.home / "ui-cache")
        self.rows = RowWriter(defs.graph)
        self.feed = ChangeFeed()
        self.cache = HealthCache(lambda: instance.healths(self.defs), warm=self._warm,
                                 mark=lambda: instance.store.last_event_id())
        self.key_names = {str(k) for k in defs.graph.keys}
        self.stored_assets = StoredAssets(instance, defs)
        self.activity = Activity()  # requests in flight: background warm-ups wait for a quiet moment

    def _warm(self, snapshot: Any) -> None:
        """Prepare a snapshot refreshed in the background: the API's body, what changed since the
        last one, the recent graph views."""
        snapshot.body(self.rows, self.defs.graph.keys)
        self.stored_assets.keep_when_quiet(snapshot, self.activity)  # for the next UI (or `status`)
        self.feed.observe(snapshot)
        self.views.rewarm(self.defs.graph, snapshot)

    def use_definitions(self, defs: Definitions) -> None:
        """A workspace location was reloaded: every view reads the new joined graph from now on."""
        self.defs = defs
        self.rows = RowWriter(defs.graph)
        self.key_names = {str(k) for k in defs.graph.keys}
        self.stored_assets = StoredAssets(self.instance, defs)
        self.cache.drop()

    @property
    def graph(self) -> Any:
        return self.defs.graph

    def close(self) -> None:
        self.launcher.close()
        self.instance.close()
