"""Waiting for other processes' writes, without polling tables.

PostgreSQL: every event write notifies ``headwater_events`` and, when it queues a run,
``headwater_queue`` (``pg_writes.py``; notifications are delivered at commit). A waiter
keeps one autocommit connection that LISTENs, and sleeps on its socket until a notice or
the timeout — a daemon hears of a queued run at once instead of at its next tick, and the
UI's change feed wakes on a write instead of on a timer.

SQLite has no notifications: a waiter reads the last event id (two index lookups) every
``SQLITE_POLL`` seconds, which is what readers did anyway.

A notice only says "look again": channels are per database, not per schema, so the waiter
re-reads the last event id (or the queue) and sleeps again if nothing of ours changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

EVENTS = "headwater_events"
QUEUE = "headwater_queue"
SQLITE_POLL = 0.1


class ChangeWaiter:
    def __init__(self, url: str, is_sqlite: bool) -> None:
        self._url = url
        self._is_sqlite = is_sqlite
        self._conn: Any = None
        self._lock = threading.Lock()

    @property
    def notifies(self) -> bool:
        """True when waiting costs nothing until something happens (PostgreSQL)."""
        return not self._is_sqlite

    def wait(self, changed: Callable[[], bool], timeout: float, channel: str = EVENTS) -> bool:
        """Until ``changed()`` is true (checked after each notice on ``channel``, or poll) or
        ``timeout`` seconds pass; returns ``changed()``'s last answer."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if self._is_sqlite:
                while True:
                    if changed():
                        return True
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    time.sleep(min(SQLITE_POLL, left))
            conn = self._listening()  # listen first: a write between check and sleep still wakes us
            while True:
                if changed():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                heard = False
                while not heard and (left := deadline - time.monotonic()) > 0:
                    heard = any(n.channel == channel for n in conn.notifies(timeout=left, stop_after=1))

    def _listening(self) -> Any:
        if self._conn is None or self._conn.closed:
            import psycopg

            dsn = make_url(self._url).set(drivername="postgresql").render_as_string(hide_password=False)
            conn = psycopg.connect(dsn, autocommit=True)
            conn.execute(f"LISTEN {EVENTS}")
            conn.execute(f"LISTEN {QUEUE}")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
