"""``GET /api/assets`` of the whole graph from ``headwater status``'s stored rows, so a UI
just started answers it at once, also right after a run.

A UI started over a 10,000-asset store used to compute the whole graph's health (importing
SQLAlchemy, decoding every latest fact, deriving every status: ~0.7 s of CPU) before its
first ``/api/assets`` could answer. ``headwater status`` keeps the same rows on disk
(``service/status_snapshot.py``), and the process that writes (a run that ended, checks,
observations) brings them up to date as it ends, deriving again only the assets it changed
and their downstream. So while no state has been derived in a UI's process, its first
whole-graph ``/api/assets`` sends those rows, bounded as the API bounds them
(``row_bounds.py``), with freshness evaluated now: they are served under exactly the
conditions ``status`` prints them (``status_snapshot.load``: the same definitions and
Headwater code, the state they were derived from still holds, no partitions, one location).
Rows older than the store, or kept for the definitions before an edit, are brought up to
date first, once, as ``status`` does (``status_refresh.refreshed``: only what changed is
derived again). Anything else (no snapshot, a damaged one, an edit that changed most of the
graph) is not served: the request waits for the computed snapshot, as before.

A UI that computed every asset's health (for a request, or in the background) stores it
there for the next process (``status_refresh.keep``, from the previous snapshot's rows
where nothing changed), unless someone kept one as new already. That is up to ~0.7 s of
CPU for 10,000 assets when no rows are there to reuse, so it waits for a quiet moment
(``activity.py``), as the other warm-ups do: the pages asked meanwhile come first.
"""

from __future__ import annotations

import threading
from typing import Any

from headwater.gc_pause import paused_gc
from headwater.service import status_refresh, status_snapshot
from headwater.web.activity import QUIET, Activity
from headwater.web.row_bounds import api_body


class StoredAssets:
    """``headwater status``'s stored rows of one UI's definitions, as the API sends them."""

    def __init__(self, instance: Any, defs: Any, fingerprint: str | None = None) -> None:
        """``fingerprint``: the definitions' fingerprint when known already (``defs`` is then
        ``first_page``'s stand-in, the policies of the definitions kept with it)."""
        self._instance = instance
        self._defs = defs
        self._fingerprint: str | None = fingerprint
        self._stand_in = bool(getattr(defs, "rows_only", False))
        self._rebase_tried = False
        self._eligible: bool | None = True if fingerprint is not None else None
        self._kept_mark: int | None = None
        self._lock = threading.Lock()
        self._keeping = threading.Lock()
        self._pending: Any = None  # the newest snapshot waiting for a quiet moment to be kept
        self._waiting = False      # a thread is waiting for it
        self._idle = threading.Event()
        self._idle.set()

    def _key(self) -> str | None:
        """The definitions' fingerprint (taken once), or None when no snapshot can serve them."""
        if self._eligible is None:
            self._eligible = status_snapshot.eligible(self._defs)
            if self._eligible:
                self._fingerprint = status_snapshot.fingerprint(self._defs)
        return self._fingerprint

    def body(self) -> tuple[bytes, float] | None:
        """The whole graph's ``/api/assets`` and the time it holds at, while the stored rows hold."""
        key = self._key()
        if key is None:
            return None
        # The index (10,000 summaries; with policies, each one's clock-free health too: 10 MB
        # of JSON) is ~250,000 objects that live only until the body is joined: collections
        # meanwhile would only rescan them, and the server's modules (0.14 s of 0.2 with
        # policies in a UI's process, against 0.03 with the collector held off).
        with paused_gc():
            try:
                found = status_snapshot.load(self._instance, self._defs, key)
                if found is None and self._may_rebase():
                    found = status_refresh.refreshed(self._instance, self._defs, key, rebase=True)
            except Exception:  # noqa: BLE001 - the store cannot say: not served (the computed path reports it)
                return None
            if found is None or found.as_of is None:
                return None
            try:
                return api_body(found), found.as_of
            except (ValueError, IndexError, OSError):  # damaged: computed instead
                return None
            finally:
                found.close()

    def _may_rebase(self) -> bool:
        """Once per UI, with the project loaded (not ``first_page``'s stand-in): rows kept for
        these definitions before a write, or for the definitions before an edit, brought up to
        date as ``status`` does (``status_refresh.refreshed``), deriving only what changed.
        Once: where that cannot serve, the UI derives the state itself anyway."""
        with self._lock:
            if self._rebase_tried or self._stand_in:
                return False
            self._rebase_tried = True
            return True

    def keep(self, snapshot: Any) -> None:
        """Store ``snapshot`` (every asset's health, read at its mark) for the next process;
        once per mark (``keep_when_quiet`` calls it)."""
        key = self._key()
        if key is None or snapshot.mark is None:
            return
        with self._keeping:
            if snapshot.mark == self._kept_mark:
                return
            status_refresh.keep(self._instance, self._defs, snapshot.mark, snapshot.healths, key)
            self._kept_mark = snapshot.mark

    def keep_when_quiet(self, snapshot: Any, activity: Activity) -> None:
        """``keep`` once no request has been in flight for ``QUIET`` seconds, in a thread of
        its own; of several snapshots handed over meanwhile, the newest."""
        with self._lock:
            self._pending = snapshot
            if self._waiting:
                return
            self._waiting = True
            self._idle.clear()
        threading.Thread(target=self._keep_pending, args=(activity,), name="headwater-ui-keep", daemon=True).start()

    def _keep_pending(self, activity: Activity) -> None:
        while True:
            activity.wait_quiet(QUIET, 0.0)
            with self._lock:
                snapshot, self._pending = self._pending, None
                if snapshot is None:
                    self._waiting = False
                    self._idle.set()
                    return
            try:
                self.keep(snapshot)
            except Exception:  # noqa: BLE001 - kept rows are an optimisation: the next snapshot is kept instead
                pass

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no snapshot waits to be kept (before closing the instance it uses)."""
        return self._idle.wait(timeout)
