"""What every request handler needs: the project, the instance, and the UI's settings."""

from __future__ import annotations

import threading
from typing import Any

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.service import Instance
from headwater.web.activity import Activity
from headwater.web.canvas_graph import LayoutCache
from headwater.web.changes import ChangeFeed
from headwater.web.first_page import DeferredDefinitions
from headwater.web.graph_view import ViewCache
from headwater.web.launching import RunLauncher
from headwater.web.rows import RowWriter
from headwater.web.security import Guard
from headwater.web.state import HealthCache
from headwater.web.stored_assets import StoredAssets
from headwater.web.ui_config import TOKEN_ENV, UiConfig  # noqa: F401 - where they were defined before

_SET_LOCK = threading.Lock()


class WebContext:
    """``defs`` is the project's ``Definitions``, or a ``first_page.DeferredDefinitions``
    (``headwater ui`` listening before it loaded the project): ``defs``, ``graph``, ``rows``
    and ``key_names`` then wait for the load; ``stored_assets`` serves from the kept key
    until then."""

    def __init__(self, defs: Definitions | DeferredDefinitions, instance: Instance,
                 location: DefinitionsLocation | None, config: UiConfig, guard: Guard | None = None,
                 activity: Activity | None = None) -> None:
        config.validate()
        self._deferred = defs if isinstance(defs, DeferredDefinitions) else None
        self.instance = instance
        self.location = location
        self.config = config
        self.guard = guard or config.new_guard()
        self.launcher = RunLauncher(instance, location, config.launch)
        self.views = ViewCache()
        self.layouts = LayoutCache(instance.home / "ui-cache")
        self.feed = ChangeFeed()
        self.cache = HealthCache(lambda: instance.healths(self.defs), warm=self._warm,
                                 mark=lambda: instance.store.last_event_id())
        self.activity = activity or Activity()  # requests in flight: background warm-ups wait for a quiet moment
        self._early_assets: StoredAssets | None = None
        if self._deferred is None:
            self._set_definitions(defs)
        else:
            early = self._deferred.early
            self._early_assets = StoredAssets(instance, early.stand_in(), fingerprint=early.fingerprint)

    def _set_definitions(self, defs: Any) -> None:
        self._defs = defs
        self._rows = RowWriter(defs.graph)
        self._key_names = {str(k) for k in defs.graph.keys}
        self._stored_assets = StoredAssets(self.instance, defs)

    def _loaded(self) -> None:
        """Wait for a deferred project's definitions (loading them if nobody is)."""
        deferred = self._deferred
        if deferred is not None:
            defs = deferred.get()
            with _SET_LOCK:
                if self._deferred is deferred:
                    self._set_definitions(defs)
                    self._deferred = None

    @property
    def defs(self) -> Definitions:
        if self._deferred is not None:
            self._loaded()
        return self._defs  # type: ignore[no-any-return]

    @property
    def rows(self) -> RowWriter:
        if self._deferred is not None:
            self._loaded()
        return self._rows

    @property
    def key_names(self) -> set[str]:
        if self._deferred is not None:
            self._loaded()
        return self._key_names

    @property
    def stored_assets(self) -> StoredAssets:
        """``status``'s kept rows of these definitions; before a deferred project is loaded,
        of the definitions its kept key describes."""
        if self._deferred is not None and self._early_assets is not None and not self._deferred.loaded:
            return self._early_assets
        if self._deferred is not None:
            self._loaded()
        return self._stored_assets

    def _warm(self, snapshot: Any) -> None:
        """Prepare a snapshot refreshed in the background: the API's body, what changed since the
        last one, the recent graph views."""
        snapshot.body(self.rows, self.defs.graph.keys)
        self.stored_assets.keep_when_quiet(snapshot, self.activity)  # for the next UI (or `status`)
        self.feed.observe(snapshot)
        self.views.rewarm(self.defs.graph, snapshot)

    def use_definitions(self, defs: Definitions) -> None:
        """A workspace location was reloaded: every view reads the new joined graph from now on."""
        self._deferred = None
        self._set_definitions(defs)
        self.cache.drop()

    @property
    def graph(self) -> Any:
        return self.defs.graph

    def close(self) -> None:
        self.launcher.close()
        self.instance.close()
