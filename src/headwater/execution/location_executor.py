"""The executor of a workspace: each step goes to the process of the location that defines it.

Locations run their steps in their own interpreters (``location_process.py``); this
executor only routes a ``StepRequest`` to the right one and collects the outcomes. A
location whose process is gone fails the steps sent to it, naming the location, and the
coordinator goes on with the others.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from headwater.core.events import ErrorInfo
from headwater.errors import HeadwaterError
from headwater.execution.executor import timed_out
from headwater.execution.location_process import LocationProcess
from headwater.execution.requests import StepOutcome, StepRequest


class LocationExecutor:
    name = "locations"

    def __init__(self, process_for: Callable[[str], LocationProcess], location_of_step: Callable[[str], str],
                 store_url: str, values: dict[str, Any], capacity: int = 8,
                 on_close: Callable[[], None] | None = None) -> None:
        self._on_close = on_close
        self.capacity = capacity
        self._process_for = process_for
        self._location_of_step = location_of_step
        self._store_url = store_url
        self._values = values
        self._inbox: queue.Queue[tuple[int, StepOutcome]] = queue.Queue()
        self._used: dict[str, LocationProcess] = {}
        self._ready: list[StepOutcome] = []
        self._in_flight = 0
        # Steps with a timeout, by (step, attempt): their process, and their id there.
        self._timed: dict[tuple[str, int], tuple[LocationProcess, int, StepRequest]] = {}
        self._given_up: set[tuple[str, int]] = set()  # timed out: a late outcome is dropped

    def submit(self, request: StepRequest) -> None:
        self._in_flight += 1
        name = self._location_of_step(request.step_key)
        try:
            process = self._used.get(name)
            if process is None or not process.usable():
                process = self._used[name] = self._process_for(name)
                process.attach(self._inbox)
            n = process.send_step(request, self._store_url, self._values)
            if request.timeout is not None:
                self._timed[(request.step_key, request.attempt)] = (process, n, request)
        except HeadwaterError as exc:
            self._ready.append(StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                                           error=ErrorInfo(str(exc), "LocationUnavailable"), recorded=False))

    def in_flight(self) -> int:
        return self._in_flight

    def poll(self, timeout: float | None) -> list[StepOutcome]:
        out, self._ready = self._ready, []
        out.extend(self._expired())
        if not out:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not out:
                now = time.monotonic()
                wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - now))  # short: Ctrl-C is heard
                wait = min([wait] + [max(0.0, began + r.timeout - now) for began, r in self._running()])
                try:
                    out.append(self._take(self._inbox.get(timeout=wait) if wait > 0 else self._inbox.get_nowait()))
                except queue.Empty:
                    pass
                out.extend(self._expired())
                if deadline is not None and time.monotonic() >= deadline:
                    break
        while True:
            try:
                out.append(self._take(self._inbox.get_nowait()))
            except queue.Empty:
                break
        out = [o for o in out if o is not None]
        self._in_flight -= len(out)
        return out

    def _take(self, item: tuple[int, StepOutcome]) -> StepOutcome | None:
        _n, outcome = item
        key = (outcome.step_key, outcome.attempt)
        if key in self._given_up:  # it ended just as its time ran out: the timeout was reported
            self._given_up.discard(key)
            return None
        self._timed.pop(key, None)
        return outcome

    def _running(self) -> list[tuple[float, StepRequest]]:
        """The steps with a timeout that a location's thread has taken up, and since when."""
        out = []
        for process, n, request in self._timed.values():
            began = process.began(n)
            if began is not None and request.timeout is not None:
                out.append((began, request))
        return out

    def _expired(self) -> list[StepOutcome]:
        """Steps past their timeout: failed now, their processes told to let them go."""
        now = time.monotonic()
        out = []
        for key, (process, n, request) in list(self._timed.items()):
            began = process.began(n)
            if began is not None and request.timeout is not None and now - began >= request.timeout:
                del self._timed[key]
                self._given_up.add(key)
                process.abandon(n)
                out.append(timed_out(request, now - began))
        return out

    def cancel(self) -> None:
        """Ctrl-C: the locations' processes running steps now are ended (the workspace starts
        new ones when asked again)."""
        for process in self._used.values():
            if process.in_flight():
                process.kill()

    def close(self) -> None:
        self._used.clear()
        if self._on_close is not None:
            self._on_close()
