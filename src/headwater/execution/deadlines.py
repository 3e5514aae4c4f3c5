"""One thread per process that calls functions at deadlines, most of them canceled first.

Each step defers writing its start by a few milliseconds, hoping to write it with its
outcome (``step_execution._Recorder``). A ``threading.Timer`` per step did that by starting
and ending a thread per step: on a loaded machine, starting it (which waits for the new
thread to be scheduled) cost more than the whole rest of a no-op step. Here one daemon
thread serves every deferral of the process; scheduling is a lock and a heap push, and
canceling is a flag.

A canceled call stays queued until its deadline passes; the thread drops it only then.
Dropping it as soon as the thread woke emptied the queue after every step (a step cancels
its deferral within a millisecond), so the next step's deferral found it empty and had to
wake the thread again: one thread switch per step, paid while the step's commit waited for
the GIL. Kept until due, the canceled calls of the last ``START_GRACE`` hold the queue's
head, every new (later) deadline goes behind them without a wake-up, and the thread wakes
about once per grace period, however many steps run in it.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable


class Deferred:
    """A scheduled call; ``cancel`` before its deadline and it never runs."""

    __slots__ = ("fn", "canceled")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.canceled = False

    def cancel(self) -> None:
        self.canceled = True


class _Deadlines:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Deferred]] = []
        self._order = itertools.count()
        self._pid = -1  # the process whose thread this is: a forked child starts its own
        self.wakes = 0  # waits begun, so wake-ups: what a burst of deferrals costs the process

    def call_later(self, delay: float, fn: Callable[[], None]) -> Deferred:
        deferred = Deferred(fn)
        deadline = time.monotonic() + delay
        with self._cond:
            if self._pid != os.getpid():
                self._heap.clear()
                self._pid = os.getpid()
                threading.Thread(target=self._serve, name="headwater-deadlines", daemon=True).start()
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (deadline, next(self._order), deferred))
            if earliest is None or deadline < earliest:
                self._cond.notify()
        return deferred

    def _serve(self) -> None:
        heap = self._heap
        while True:
            with self._cond:
                while True:
                    if not heap:
                        self.wakes += 1
                        self._cond.wait()
                        continue
                    wait = heap[0][0] - time.monotonic()
                    if wait <= 0:
                        deferred = heapq.heappop(heap)[2]
                        if deferred.canceled:
                            continue  # due now, so dropping it wakes nobody
                        break
                    self.wakes += 1
                    self._cond.wait(wait)
            if not deferred.canceled:
                try:
                    deferred.fn()
                except Exception:  # noqa: BLE001, S110 - a deferred call reports through its owner, never here
                    pass


_deadlines = _Deadlines()


def call_later(delay: float, fn: Callable[[], None]) -> Deferred:
    """Call ``fn`` on the process's deadline thread after ``delay`` seconds unless canceled."""
    return _deadlines.call_later(delay, fn)
