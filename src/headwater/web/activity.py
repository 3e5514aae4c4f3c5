"""Whether the server is busy answering, so that work nobody waits for yields to requests.

``headwater ui`` warms its caches (the first health snapshot, the layout, vl-convert's
engine) in a background thread. Python runs one thread at a time: warming while the first
page is being answered made that page wait for the warm-up's share of the interpreter. So
the warm-up waits for a quiet moment: no request in flight and none answered for a short
while after the first one (or, when nobody asks, a short while after the start).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

QUIET = 0.2  # seconds without a request before work nobody waits for starts
FIRST_PAGE_GRACE = 1.0  # seconds after the start when no request came: the warm-ups begin


class Activity:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._in_flight = 0
        self._last: float | None = None  # when the last answer was sent; None before the first
        self._started = clock()

    def begin(self) -> None:
        with self._cond:
            self._in_flight += 1

    def end(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._last = self._clock()
            self._cond.notify_all()

    def wait_quiet(self, quiet: float, first_within: float) -> None:
        """Return once, after a first answer, nothing has been in flight for ``quiet``
        seconds; or when ``first_within`` seconds passed since the start with no request."""
        with self._cond:
            while True:
                now = self._clock()
                if self._in_flight:
                    self._cond.wait()
                    continue
                if self._last is None:
                    left = self._started + first_within - now
                else:
                    left = self._last + quiet - now
                if left <= 0:
                    return
                self._cond.wait(left)
