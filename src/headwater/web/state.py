"""The health of every asset, computed once and shared by every page and API call.

Small projects are recomputed on every request (it takes milliseconds, and nothing is ever
shown out of date) — unless one was within the last second and the store's last event id
(``mark``) has not moved since, so that many open pages polling cost at most one
computation a second. When one computation gets expensive (the whole graph's health is one
pass over the store, tens to hundreds of ms for 10,000 much-rebuilt assets), the UI serves
the last snapshot for a short while — ``ttl`` grows with the cost — and refreshes it in the
background, so that many browser tabs polling at once cost one computation, and no request
waits for one unless the snapshot is much older than that. Past its ``ttl``, a snapshot
stays current for up to ``QUIET`` seconds while the mark has not moved: an open UI over a
big, idle graph then recomputes a few times a minute (for what time alone changes:
freshness, "3 h ago"), not every few seconds. Every answer says when its snapshot was
taken (``as_of``), and actions taken through the UI invalidate it at once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey
from headwater.web.rows import RowWriter

CHEAP = 0.05          # seconds: below this, always compute afresh
MAX_SERVE_STALE = 30  # seconds: an older snapshot is recomputed while the request waits
QUIET = 20            # seconds: how long a snapshot stays current while nothing is written
CHEAP_QUIET = 1.0     # the same for a cheap one: open pages poll every 2 s, and time moves too


@dataclass
class Snapshot:
    healths: dict[AssetKey, AssetHealth]
    taken_at: float          # wall clock (what ``as_of`` says)
    taken_mono: float
    compute_s: float
    mark: int | None = None  # the store's last event id, read before computing
    seq: int = 0             # taken in this order: a later snapshot has a higher one
    _rows: dict[AssetKey, str] | None = None
    _body: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rows(self, writer: RowWriter) -> dict[AssetKey, str]:
        """Every asset's bounded API row as JSON, written once per snapshot."""
        with self._lock:
            if self._rows is None:
                self._rows = dict(zip(self.healths, writer.rows(self.healths.values())))
            return self._rows

    def body(self, writer: RowWriter, keys: Any) -> bytes:
        """``GET /api/assets`` of the whole graph (``keys``: upstream first), ready to send."""
        if self._body is None:
            self._body = json_list(self.rows(writer), keys)
        return self._body


def json_list(rows: dict[AssetKey, str], keys: Any) -> bytes:
    """``[row,row,...]`` of ``keys``' rows: one join and one encoding of tens of MB, no more."""
    parts = [rows[k] for k in keys]
    if len(parts) < 2:
        return ("[" + "".join(parts) + "]").encode()
    parts[0] = "[" + parts[0]
    parts[-1] = parts[-1] + "]"
    return ",".join(parts).encode()


class HealthCache:
    def __init__(self, compute: Callable[[], dict[AssetKey, AssetHealth]], wall: Callable[[], float] = time.time,
                 warm: Callable[[Snapshot], Any] | None = None, mark: Callable[[], int] | None = None,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self._compute = compute
        self._warm = warm  # run on a snapshot refreshed in the background, before it is served
        self._wall = wall
        self._mono = mono
        self._mark = mark  # the store's last event id: has anything been written?
        self._seq = itertools.count(1)
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._refreshing = False
        self._valid = False
        self._tried = threading.Event()  # a first computation ended (with a snapshot or an error)

    @staticmethod
    def ttl(compute_s: float) -> float:
        return 0.0 if compute_s < CHEAP else min(10.0, 1.0 + 3 * compute_s)

    def get(self) -> Snapshot:
        snap = self._snapshot
        now = self._mono()
        if snap is not None and self._valid and now - snap.taken_mono < self.ttl(snap.compute_s):
            return snap
        quiet = QUIET if snap is not None and snap.compute_s >= CHEAP else CHEAP_QUIET
        if (snap is not None and self._valid and now - snap.taken_mono < quiet
                and snap.mark is not None and self._read_mark() == snap.mark):
            return snap  # nothing written since: recomputing would give the same answer
        if snap is not None and snap.compute_s >= CHEAP and now - snap.taken_mono < MAX_SERVE_STALE:
            self._refresh_in_background()
            return snap
        with self._lock:
            current = self._snapshot
            if current is not None and current is not snap and self._valid:
                return current  # another request computed it while this one waited
            return self._take()

    def peek(self) -> Snapshot | None:
        """The snapshot at hand, however old, without computing one (None before the first)."""
        return self._snapshot

    def wait_first(self, timeout: float | None = None) -> bool:
        """Wait until a first computation has ended, without starting one."""
        return self._tried.wait(timeout)

    def prefetch(self) -> None:
        """Compute the first snapshot in the background now (a server just started): decoding
        a big store's state the first time takes most of a second, which the first page
        would otherwise wait for."""
        if self._snapshot is None:
            self._refresh_in_background()

    def invalidate(self) -> None:
        """After an action: the next request computes afresh (or, when expensive, soon)."""
        self._valid = False

    def drop(self) -> None:
        """Forget the snapshot: the next request computes one while it waits, as in a UI just
        started (``bench/web_bench.py`` times that request: the first after a change)."""
        with self._lock:
            self._snapshot = None

    def _take(self) -> Snapshot:
        try:
            snap = self._compute_snapshot()
            self._snapshot = snap
            return snap
        finally:
            self._tried.set()

    def _read_mark(self) -> int | None:
        try:
            return self._mark() if self._mark is not None else None
        except Exception:  # noqa: BLE001 - unknown: recompute, and let the computation report the store's error
            return None

    def _compute_snapshot(self) -> Snapshot:
        self._valid = True
        started = self._mono()
        mark = self._read_mark()  # before: whatever is written during the computation moves it
        healths = self._compute()
        done = self._mono()
        return Snapshot(healths, self._wall(), done, done - started, mark, next(self._seq))

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
                self._tried.set()

        threading.Thread(target=work, name="headwater-ui-refresh", daemon=True).start()
