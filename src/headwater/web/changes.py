"""The change feed: what changed on screen since a page was drawn, so that the graph, the
catalog and the asset pages follow runs without reloading.

A page is drawn from one health snapshot and carries that snapshot's cursor. It polls
``GET /api/changes?since=CURSOR`` and gets back only the assets whose state as shown —
health, status, staleness, last update, freshness, checks, the reasons in words — differs
from what it was drawn with, and the cursor to poll with next. Nothing changed: an empty
answer, and no work beyond the snapshot every page shares anyway (``state.py``), so a
10,000-asset graph open in many tabs costs each poll a few hundred bytes.

The feed compares each new snapshot it is shown with the one before, asset by asset, on a
small tuple (``shown``); if any differs, its version goes up and a bounded log remembers
which assets changed. Comparing what is shown, not which events arrived, catches every
way a state moves: a materialization upstream makes the whole downstream stale, a
deadline passing makes an asset overdue with no event at all. A cursor is
``EPOCH.VERSION``; one from another process (the UI restarted) or older than the log gets
``full``: every asset, which a page applies the same way.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from typing import Any

from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey

KEEP = 500  # versions the log remembers: minutes of changes, even at one per poll


def shown(h: AssetHealth) -> tuple[Any, ...]:
    """What any page shows of an asset's state: when this differs, the asset changed."""
    st = h.status
    f = h.freshness
    return (h.health, st.status, st.stale, st.last_updated_at, f.state if f is not None else None,
            tuple((c.name, c.state) for c in h.checks), h.reasons)


class ChangeFeed:
    def __init__(self, keep: int = KEEP) -> None:
        self.epoch = secrets.token_hex(4)
        self._keep = keep
        self._lock = threading.Lock()
        self._version = 0
        self._seq = 0                                   # the newest snapshot seen
        self._shown: dict[AssetKey, tuple[Any, ...]] = {}
        self._versions: dict[int, int] = {}             # snapshot seq -> version, recent ones
        self._log: deque[tuple[int, frozenset[AssetKey]]] = deque()
        self._forgotten = 0                             # changes up to this version left the log

    def cursor(self, snapshot: Any) -> str:
        """The cursor of ``snapshot``'s state: what a page drawn from it polls with."""
        return f"{self.epoch}.{self.observe(snapshot)}"

    def observe(self, snapshot: Any) -> int:
        """Compare ``snapshot`` with the newest one seen (once per snapshot); its version.

        An older snapshot than the newest seen (another request refreshed it meanwhile) gets
        the version it had, or -1 if that is forgotten: its page then asks for everything."""
        with self._lock:
            if snapshot.seq <= self._seq:
                return self._version if snapshot.seq == self._seq else self._versions.get(snapshot.seq, -1)
            now_shown = {k: shown(h) for k, h in snapshot.healths.items()}
            if self._seq:
                before = self._shown
                changed = frozenset(k for k, s in now_shown.items() if before.get(k) != s)
                changed |= frozenset(k for k in before if k not in now_shown)
                if changed:
                    self._version += 1
                    self._log.append((self._version, changed))
                    if len(self._log) > self._keep:
                        self._forgotten = self._log.popleft()[0]
            self._shown, self._seq = now_shown, snapshot.seq
            self._versions[snapshot.seq] = self._version
            if len(self._versions) > 64:
                del self._versions[min(self._versions)]
            return self._version

    def since(self, cursor: str | None, snapshot: Any) -> tuple[str, frozenset[AssetKey] | None]:
        """The cursor of ``snapshot`` and the assets changed between ``cursor`` and it;
        None for "everything" (no cursor, another process's, or one the log forgot)."""
        version = self.observe(snapshot)
        current = f"{self.epoch}.{version}"
        epoch, _, number = (cursor or "").partition(".")
        try:
            seen = int(number)
        except ValueError:
            return current, None
        if epoch != self.epoch or seen < self._forgotten or version < 0:
            return current, None
        if seen > version:  # the page has seen a newer snapshot than the one this request got
            return cursor or current, frozenset()
        with self._lock:
            keys = frozenset().union(*(changed for v, changed in self._log if seen < v <= version))
        return current, keys
