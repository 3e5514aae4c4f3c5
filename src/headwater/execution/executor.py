"""The executor interface, and the cheapest executor: the calling process itself.

Every executor takes step requests and hands back outcomes; the coordinator owns order,
retries and skipping, so an executor only decides *where* a step runs. Outcomes with
``recorded=False`` (timeouts, dead workers) must have their end recorded by the caller.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from headwater.core.events import ErrorInfo
from headwater.definitions.definitions import Definitions
from headwater.execution.held_writes import GROUP_MAX, GROUP_WINDOW, HeldWrites
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.execution.step_execution import execute_step
from headwater.storage.interfaces import EventWriter
from headwater.values.interface import ValueStore


class Executor(Protocol):
    name: str
    capacity: int

    def submit(self, request: StepRequest) -> None: ...

    def poll(self, timeout: float | None) -> list[StepOutcome]:
        """Outcomes finished since the last call; waits up to ``timeout`` for at least one."""

    def in_flight(self) -> int: ...

    def cancel(self) -> None:
        """Stop everything running now (Ctrl-C)."""

    def close(self) -> None: ...


def timed_out(request: StepRequest, elapsed: float) -> StepOutcome:
    keys = ", ".join(str(k) for k in request.asset_keys)
    what = f"step {request.step_key}" + ("" if keys == request.step_key else f" ({keys})")
    return StepOutcome(
        request.step_key, request.attempt, False, failed_keys=request.asset_keys,
        error=ErrorInfo(f"{what} timed out after {request.timeout:g} s (ran {elapsed:.1f} s): the asset "
                        "function did not return", "StepTimeout"),
        duration=elapsed, recorded=False)


class InProcessExecutor:
    """Runs steps one at a time in this process; a step with a timeout runs in a thread
    that is abandoned (not killed: Python cannot kill a thread) when time is up.

    A ``poll`` runs the ready steps for a few milliseconds and stores their outcomes in one
    transaction before it returns them (``held_writes.py``); a step with a timeout runs
    alone. If one of them is interrupted (Ctrl-C), the outcomes of those that ended before
    it are stored and returned first, and the interruption is raised by the next ``poll``:
    the coordinator must know them as done before it cancels what is left."""

    name = "in_process"
    capacity = 1

    def __init__(self, defs: Definitions, writer: EventWriter, values: ValueStore,
                 clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._defs = defs
        self._writer = writer
        self._values = values
        self._queue: deque[StepRequest] = deque()
        self._interrupted: BaseException | None = None

    def submit(self, request: StepRequest) -> None:
        self._queue.append(request)

    def in_flight(self) -> int:
        return len(self._queue)

    def poll(self, timeout: float | None) -> list[StepOutcome]:
        if self._interrupted is not None:
            interrupted, self._interrupted = self._interrupted, None
            raise interrupted
        if not self._queue:
            if timeout:
                time.sleep(timeout)
            return []
        if self._queue[0].timeout is not None:
            return [self._run_with_timeout(self._queue.popleft())]
        return self._run_group()

    def _run_group(self) -> list[StepOutcome]:
        """Ready steps (without a timeout) for ``GROUP_WINDOW`` seconds, their outcomes stored
        together; at least one step, at most ``GROUP_MAX``."""
        held = HeldWrites(self._writer)
        outcomes: list[StepOutcome] = []
        until = time.monotonic() + GROUP_WINDOW
        try:
            while self._queue and self._queue[0].timeout is None:
                request = self._queue.popleft()
                outcomes.append(execute_step(self._defs, held, self._values, request, clock=self._clock,
                                             hold=held.hold))
                if len(outcomes) >= GROUP_MAX or time.monotonic() >= until:
                    break
        except BaseException as exc:  # Ctrl-C in a step: what ended before it is done, and said so first
            held.flush()
            if not outcomes:
                raise
            self._interrupted = exc
            return outcomes
        held.flush()
        return outcomes

    def _run_with_timeout(self, request: StepRequest) -> StepOutcome:
        abandoned = threading.Event()
        box: list[StepOutcome] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                box.append(execute_step(self._defs, self._writer, self._values, request, abandoned, self._clock))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)

        started = time.monotonic()
        thread = threading.Thread(target=target, name=f"headwater-step-{request.step_key}", daemon=True)
        thread.start()
        thread.join(request.timeout)
        if thread.is_alive():
            abandoned.set()
            return timed_out(request, time.monotonic() - started)
        if failure:
            raise failure[0]
        return box[0]

    def cancel(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        """An interruption no ``poll`` raised (the run stopped for another reason first) is
        raised here: Ctrl-C is never swallowed."""
        self._queue.clear()
        interrupted, self._interrupted = self._interrupted, None
        if interrupted is not None:
            raise interrupted
