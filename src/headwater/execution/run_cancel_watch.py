"""How the process coordinating a run learns that it should stop: by reading the store.

A cancel can come from any process (``headwater run cancel``, the UI, the API) while the run
is coordinated by another one: a worker the daemon launched, a foreground ``materialize``,
the driver of a backfill, on this machine or another. They share nothing but the store, so
the canceler records a ``RunCancelRequested`` there and the coordinator polls for it — one
primary-key read of three columns of ``runs`` every ``EVERY`` seconds, made only while the
run goes on (a read costs ~0.1 ms on SQLite: a run of a minute pays ~25 ms in all).

The same read notices a run that has ended without its coordinator: canceled while it was
only claimed, or failed by a reaper that took its coordinator for dead. Either way the
coordinator stops, and the store keeps the end it already has (the first end wins).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from headwater.core.events import RunStatus
from headwater.storage.interfaces import RunReader

log = logging.getLogger("headwater.run_cancel_watch")

EVERY = 0.25
"""Seconds between two reads: how long a cancel waits, at most, to be noticed between steps."""


@dataclass(frozen=True)
class StopRequest:
    """Why the coordinator must stop, and the status the run ends (or has ended) with."""

    reason: str
    status: RunStatus = RunStatus.CANCELED


class CancelWatch:
    """Callable: the ``StopRequest`` for ``run_id`` once there is one, else None; reads the
    store at most every ``every`` seconds (calls in between answer from the last read)."""

    def __init__(self, store: RunReader, run_id: str, every: float = EVERY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.run_id = run_id
        self.every = every
        self._monotonic = monotonic
        self._next = 0.0
        self._found: StopRequest | None = None

    def __call__(self) -> StopRequest | None:
        if self._found is not None:
            return self._found
        now = self._monotonic()
        if now < self._next:
            return None
        self._next = now + self.every
        try:
            state = self.store.run_stop_state(self.run_id)
        except Exception:  # noqa: BLE001 - a busy store: the run goes on, the next read tries again
            log.warning("could not read whether run %s was canceled", self.run_id, exc_info=True)
            return None
        if state is None:
            return None
        status, requested_at, reason = state
        if status.is_terminal:
            self._found = StopRequest(f"the run already ended {status.value} elsewhere", status)
        elif requested_at is not None:
            self._found = StopRequest(reason or "canceled on request")
        return self._found
