"""One thread per process that calls functions at deadlines, most of them canceled first.

Each step defers writing its start by a few milliseconds, hoping to write it with its
outcome (``step_execution._Recorder``). A ``threading.Timer`` per step did that by starting
and ending a thread per step: on a loaded machine, starting it (which waits for the new
thread to be scheduled) cost more than the whole rest of a no-op step. Here one daemon
thread serves every deferral of the process; scheduling is a lock and a heap push, and
canceling is a flag.

A canceled call stays queued until its deadline passes, and the thread sleeps until the
earliest live call is due (or, with none live, until the latest canceled one would have
been). Dropping canceled calls as soon as the thread woke emptied the queue after every
step (a step cancels its deferral within a millisecond), so the next step's deferral found
it empty and woke the thread again: one thread switch per step, paid while the step's
commit waited for the GIL. Now a new deadline wakes the thread only if it is earlier than
the one the thread sleeps until, so a burst of steps costs about one wake-up per grace
period.
"""

from __future__ import annotations

import heapq
import itertools
import math
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
        self._waiting_for = math.inf  # the deadline the thread sleeps until (inf: none)
        self.wakes = 0  # waits begun, so wake-ups: what a burst of deferrals costs the process

    def call_later(self, delay: float, fn: Callable[[], None]) -> Deferred:
        deferred = Deferred(fn)
        deadline = time.monotonic() + delay
        with self._cond:
            if self._pid != os.getpid():
                self._heap.clear()
                self._pid = os.getpid()
                self._waiting_for = math.inf
                threading.Thread(target=self._serve, name="headwater-deadlines", daemon=True).start()
            heapq.heappush(self._heap, (deadline, next(self._order), deferred))
            if deadline < self._waiting_for:
                self._cond.notify()
        return deferred

    def _serve(self) -> None:
        heap = self._heap
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    while heap and heap[0][0] <= now and heap[0][2].canceled:
                        heapq.heappop(heap)  # due: dropped now that the thread is awake anyway
                    if heap and heap[0][0] <= now:
                        deferred = heapq.heappop(heap)[2]
                        break
                    self._waiting_for = _wake_time(heap)
                    self.wakes += 1
                    self._cond.wait(None if self._waiting_for == math.inf else self._waiting_for - now)
                self._waiting_for = -math.inf  # awake: it looks at the queue again before it waits
            if not deferred.canceled:
                try:
                    deferred.fn()
                except Exception:  # noqa: BLE001, S110 - a deferred call reports through its owner, never here
                    pass


def _wake_time(heap: list[tuple[float, int, Deferred]]) -> float:
    """The earliest live call's deadline; with none live, the latest canceled one's (its
    calls are dropped then, and a call scheduled since, due later, is not held up); with
    none at all, never."""
    live = [deadline for deadline, _, deferred in heap if not deferred.canceled]
    if live:
        return min(live)
    return max((deadline for deadline, _, _ in heap), default=math.inf)


_deadlines = _Deadlines()


def call_later(delay: float, fn: Callable[[], None]) -> Deferred:
    """Call ``fn`` on the process's deadline thread after ``delay`` seconds unless canceled."""
    return _deadlines.call_later(delay, fn)
