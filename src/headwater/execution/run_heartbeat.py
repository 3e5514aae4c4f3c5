"""A run's heartbeat: the lease ``run:<id>`` its coordinating process renews while it runs.

Liveness by pid + host (what the reaper had) cannot see a pid reused by another program,
nor a run coordinated on another machine. A lease can: the coordinator takes
``run:<run_id>`` in the store before the run starts, a thread renews it every
``ttl / 3`` seconds, and it is released when the run ends. A run still ``started`` whose
lease has expired lost its coordinator, wherever that was; any reader that sees it marks
it failed, saying when the heartbeat stopped (``service/run_reaper.py``).

Wall-clock time on purpose (not the instance's clock, which tests freeze): liveness is
about real patience, like a sensor's timeout. The machines sharing a store must keep
their clocks within a fraction of ``ttl`` of each other (NTP does).

Steps have their own liveness (the multiprocess executor's worker heartbeat; a remote
executor's per-step lease): this lease is the run's, one per running run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from types import TracebackType

from headwater.errors import HeadwaterError
from headwater.storage.interfaces import LeaseStore

log = logging.getLogger("headwater.run_heartbeat")

PREFIX = "run:"
DEFAULT_TTL = 30.0


def lease_name(run_id: str) -> str:
    return PREFIX + run_id


class RunHeartbeat:
    """Context manager: hold ``run:<run_id>`` while the body runs, renewed from a thread."""

    def __init__(self, store: LeaseStore, run_id: str, ttl: float = DEFAULT_TTL) -> None:
        self.store = store
        self.name = lease_name(run_id)
        self.ttl = ttl
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunHeartbeat:
        if not self.store.acquire_lease(self.name, self.owner, self.ttl, time.time()):
            raise HeadwaterError(f"{self.name[len(PREFIX):]} is already being run by another process "
                                 "(its heartbeat lease is held)")
        self._thread = threading.Thread(target=self._renew, name=f"headwater-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.store.acquire_lease(self.name, self.owner, self.ttl, time.time())
            except Exception:  # noqa: BLE001 - a busy store: the next beat tries again
                log.warning("could not renew %s", self.name, exc_info=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.store.release_lease(self.name, self.owner)
        except Exception:  # noqa: BLE001 - it expires by itself; never hide the run's own error
            log.warning("could not release %s", self.name, exc_info=True)
