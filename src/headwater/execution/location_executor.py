"""The executor of a workspace: each step goes to the process of the location that defines it.

Locations run their steps in their own interpreters (``location_process.py``); this
executor only routes a ``StepRequest`` to the right one and collects the outcomes. A
location whose process is gone fails the steps sent to it, naming the location, and the
coordinator goes on with the others.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from headwater.core.events import ErrorInfo
from headwater.errors import HeadwaterError
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

    def submit(self, request: StepRequest) -> None:
        self._in_flight += 1
        name = self._location_of_step(request.step_key)
        try:
            process = self._used.get(name)
            if process is None or not process.alive():
                process = self._used[name] = self._process_for(name)
                process.attach(self._inbox)
            process.send_step(request, self._store_url, self._values)
        except HeadwaterError as exc:
            self._ready.append(StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                                           error=ErrorInfo(str(exc), "LocationUnavailable"), recorded=False))

    def in_flight(self) -> int:
        return self._in_flight

    def poll(self, timeout: float | None) -> list[StepOutcome]:
        out, self._ready = self._ready, []
        if not out:
            try:
                if timeout == 0:
                    out.append(self._inbox.get_nowait()[1])
                else:  # None: until one comes (in short waits, so that Ctrl-C is heard)
                    while not out:
                        try:
                            out.append(self._inbox.get(timeout=min(timeout, 0.5) if timeout else 0.5)[1])
                        except queue.Empty:
                            if timeout is not None:
                                raise
            except queue.Empty:
                return []
        while True:
            try:
                out.append(self._inbox.get_nowait()[1])
            except queue.Empty:
                break
        self._in_flight -= len(out)
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
