"""The health of every asset, computed once and shared by every page and API call.

Small projects are recomputed on every request (it takes milliseconds, and nothing is ever
shown out of date). When one computation gets expensive (the whole graph's health is one
pass over the store, ~1 s for 10,000 much-rebuilt assets), the UI serves the last snapshot
for a short while — ``ttl`` grows with the cost — and refreshes it in the background, so
that many browser tabs polling at once cost one computation, and no request waits for one
unless the snapshot is much older than that. Every answer says when its snapshot was taken
(``as_of``), and actions taken through the UI invalidate it at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey
from headwater.web.shapes import asset_row

CHEAP = 0.05          # seconds: below this, always compute afresh
MAX_SERVE_STALE = 30  # seconds: an older snapshot is recomputed while the request waits


@dataclass
class Snapshot:
    healths: dict[AssetKey, AssetHealth]
    taken_at: float          # wall clock (what ``as_of`` says)
    taken_mono: float
    compute_s: float
    _rows: dict[AssetKey, str] | None = None
    _body: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rows(self, graph: Any) -> dict[AssetKey, str]:
        """Every asset's bounded API row, serialized once per snapshot."""
        with self._lock:
            if self._rows is None:
                self._rows = {k: json.dumps(asset_row(h, graph), separators=(",", ":"), default=str)
                              for k, h in self.healths.items()}
            return self._rows

    def body(self, graph: Any) -> bytes:
        """``GET /api/assets`` of the whole graph, upstream first, ready to send."""
        if self._body is None:
            rows = self.rows(graph)
            self._body = ("[" + ",".join(rows[k] for k in graph.keys) + "]").encode()
        return self._body


class HealthCache:
    def __init__(self, compute: Callable[[], dict[AssetKey, AssetHealth]], wall: Callable[[], float] = time.time,
                 warm: Callable[[Snapshot], Any] | None = None) -> None:
        self._compute = compute
        self._warm = warm  # run on a snapshot refreshed in the background, before it is served
        self._wall = wall
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._refreshing = False
        self._valid = False

    @staticmethod
    def ttl(compute_s: float) -> float:
        return 0.0 if compute_s < CHEAP else min(10.0, 1.0 + 3 * compute_s)

    def get(self) -> Snapshot:
        snap = self._snapshot
        now = time.monotonic()
        if snap is not None and self._valid and now - snap.taken_mono < self.ttl(snap.compute_s):
            return snap
        if snap is not None and snap.compute_s >= CHEAP and now - snap.taken_mono < MAX_SERVE_STALE:
            self._refresh_in_background()
            return snap
        with self._lock:
            current = self._snapshot
            if current is not None and current is not snap and self._valid:
                return current  # another request computed it while this one waited
            return self._take()

    def invalidate(self) -> None:
        """After an action: the next request computes afresh (or, when expensive, soon)."""
        self._valid = False

    def _take(self) -> Snapshot:
        snap = self._compute_snapshot()
        self._snapshot = snap
        return snap

    def _compute_snapshot(self) -> Snapshot:
        self._valid = True
        started = time.monotonic()
        healths = self._compute()
        return Snapshot(healths, self._wall(), time.monotonic(), time.monotonic() - started)

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True

        def work() -> None:
            try:
                with self._lock:
                    snap = self._compute_snapshot()
                    if self._warm is not None:
                        self._warm(snap)  # before anyone sees it: the first request finds it ready
                    self._snapshot = snap
            except Exception:  # noqa: BLE001 - the next request computes in the foreground and reports it
                self._valid = False
            finally:
                self._refreshing = False

        threading.Thread(target=work, name="headwater-ui-refresh", daemon=True).start()
