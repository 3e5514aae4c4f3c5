"""Steps' outcomes held back a few milliseconds, to be stored in one transaction.

The in-process executor runs the steps that are ready one after another. Storing each
one's outcome in a transaction of its own costs more than running a no-op step: on SQLite
a commit writes a dozen pages to the WAL, and every transaction pays its lock, its id
lookup and a statement per table. So the executor runs the steps that are ready for
``GROUP_WINDOW`` seconds (at most ``GROUP_MAX`` of them), holding each one's final events
here, then stores them all in ONE ``write`` before it reports any of their outcomes.

What that keeps: order (everything is written in the order it happened, whoever writes
next takes what is held first), atomicity (one transaction), and "reported means stored":
the coordinator learns of an outcome — prints it, releases the steps that read it, returns
it — only once it is committed, so no step ever reads an input whose materialization is
not stored. What a killed process loses: the steps of the current group that had ended —
those of its first ``GROUP_WINDOW`` seconds, none held longer than ``GROUP_WINDOW`` plus
``START_GRACE`` (a step that runs longer than ``START_GRACE`` has its start written by the
deadline thread, and with it everything held). Nothing had been told of them; like a step
killed midway, they run again next time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from headwater.core.events import Event
from headwater.storage.interfaces import EventWriter

GROUP_WINDOW = 0.01
"""Seconds of steps whose outcomes go in one transaction (the group ends after the step that
passes it)."""
GROUP_MAX = 200
"""Steps at most in one transaction: keeps the write lock short for other writers."""


class HeldWrites:
    """An ``EventWriter`` that writes what is held first: ``hold`` keeps events for later,
    ``write`` stores the held ones and its own in one transaction, ``flush`` the held ones.

    Threads: a step's deferred start is written by the deadline thread while the step runs;
    the lock keeps whole batches in order."""

    def __init__(self, writer: EventWriter) -> None:
        self._writer = writer
        self._lock = threading.Lock()
        self._held: list[Event] = []

    def hold(self, events: Sequence[Event]) -> None:
        with self._lock:
            self._held.extend(events)

    def write(self, events: Sequence[Event]) -> None:
        with self._lock:
            batch = [*self._held, *events]
            if batch:
                self._writer.write(batch)  # raises: nothing stored, the held events stay held
            self._held = []

    def flush(self) -> None:
        self.write(())

    @property
    def held(self) -> int:
        return len(self._held)
