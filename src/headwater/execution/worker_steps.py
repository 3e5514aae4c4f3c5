"""A multiprocess worker's side of the pool: steps run back to back, stored in groups, reported
only once stored.

A worker that took one step at a time stored each in a transaction of its own and then idled
while its outcome went to the coordinator and the next step came back: on SQLite the commit
and the round trip cost more than a no-op step. So the coordinator sends a worker a few ready
steps ahead (``multiprocess.py``), and the worker runs what it holds for ``GROUP_WINDOW``
seconds (at most ``GROUP_MAX`` steps), holding each step's final events, then stores them all
in ONE transaction and only then sends their outcomes, in one message — the in-process
executor's grouping (``held_writes.py``), kept across the process boundary.

"Reported means stored": an outcome is sent only after the transaction holding its events
has committed, whichever thread committed it. A step that runs longer than ``START_GRACE``
has its start written by the deadline thread, with everything held before it, and the
outcomes of those steps are sent then: a long step keeps no earlier step unreported. The same
thread gives the steps the worker holds but has not begun back to the coordinator (and keeps
giving back whatever arrives while the step runs), so a long step holds up nothing that
another worker could run.

What the coordinator needs when a worker dies is in ``WorkerProgress``, counters in shared
memory: which step the worker began last (and when: a step's timeout counts from there),
which it ended last, and up to which step its outcomes are stored (and being stored). From
them it tells the step that was running (failed, as before) from steps that had ended but
were not stored (nothing of their end is stored: run again) and from steps not begun (run
elsewhere) — see ``MultiprocessExecutor._worker_lost``.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from headwater.core.events import ErrorInfo, Event
from headwater.execution.deadlines import call_later
from headwater.execution.held_writes import GROUP_MAX, GROUP_WINDOW
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.execution.step_execution import START_GRACE, execute_step
from headwater.storage.interfaces import EventWriter

GIVE_BACK_EVERY = 0.05
"""Seconds between two give-backs while a long step runs (for steps sent just as it began)."""

Numbered = tuple[int, StepRequest]  # (sequence number given by the coordinator, request)


@dataclass(frozen=True)
class WorkerProgress:
    """Shared values (``multiprocessing.Value``) the worker sets and the coordinator reads:
    sequence numbers of the step begun last, the step ended last, the last step whose final
    events are committed, and the last step whose final events are being committed (set
    before the commit, so a kill between the commit and ``stored`` leaves no doubt unseen);
    and when the step begun last began (``time.monotonic``, set before ``begun``): its
    timeout counts from there."""

    begun: Any
    ended: Any
    stored: Any
    storing: Any
    begun_at: Any


class _Inbox:
    """The requests read from the pipe and not begun. Read by the main thread between steps
    and by the deadline thread during a long step (to give them back), never both at once."""

    def __init__(self, conn: Connection, send: Callable[[Any], None]) -> None:
        self.conn = conn
        self.send = send
        self.lock = threading.Lock()
        self.queue: deque[Numbered] = deque()
        self.closed = False  # the coordinator said stop, or is gone
        self.running = 0  # the step the main thread runs now (0: none)
        self.gave_back = False  # the coordinator was told the running step is long

    def drain(self) -> None:
        """Take what is in the pipe without waiting (the caller holds ``lock``)."""
        while not self.closed and self.conn.poll(0):
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = None
            if message is None:  # the coordinator is done or dead: begin nothing more
                self.closed = True
                self.queue.clear()
            else:
                self.queue.extend(message)


def _give_back(inbox: _Inbox, seq: int) -> None:
    """On the deadline thread, ``START_GRACE`` into step ``seq``: hand the coordinator the
    steps not begun, and tell it this step is long (it sends this worker nothing ahead until
    the step ends); again every ``GIVE_BACK_EVERY`` seconds for what came in meanwhile."""
    with inbox.lock:
        if inbox.running != seq:
            return  # the step ended
        inbox.drain()
        items = list(inbox.queue)
        inbox.queue.clear()
        if items or not inbox.gave_back:
            inbox.send(("returned", seq, items))
        inbox.gave_back = True
    call_later(GIVE_BACK_EVERY, partial(_give_back, inbox, seq))


class _Reports:
    """The steps' writer: holds each step's final events (``hold``), writes them before
    whatever is written next, in one transaction, and after each commit sends the outcomes
    whose events it stored. Threads: the deadline thread writes a long step's start."""

    def __init__(self, writer: EventWriter, send: Callable[[Any], None], progress: WorkerProgress) -> None:
        self._writer = writer
        self._send = send
        self._progress = progress
        self._lock = threading.Lock()
        self._held: list[Event] = []
        self._held_through = 0  # the last step whose final events are held
        self.current = 0  # the step running (set by the main thread before it begins)
        self._waiting: list[tuple[int, StepRequest, StepOutcome]] = []

    def hold(self, events: Sequence[Event]) -> None:
        with self._lock:
            self._held.extend(events)
            self._held_through = self.current

    def write(self, events: Sequence[Event]) -> None:
        with self._lock:
            batch = [*self._held, *events]
            if self._held:  # killed from here to the next line, these steps' ends may or may not be stored
                self._progress.storing.value = self._held_through
            if batch:
                self._writer.write(batch)  # raises: nothing stored, what is held stays held
            if self._held:
                self._progress.stored.value = self._held_through
            self._held = []
            # Every waiting outcome's events were held before it waited: all stored now.
            self._report()

    def ended(self, seq: int, request: StepRequest, outcome: StepOutcome) -> None:
        with self._lock:
            self._waiting.append((seq, request, outcome))

    def end_group(self) -> None:
        """Store what is held and report it; if the store refuses, the steps fail unrecorded
        (the coordinator records their failure), as a step whose own write failed did."""
        try:
            self.write(())
        except Exception as exc:  # noqa: BLE001 - reported per step, the worker goes on
            error = ErrorInfo.from_exception(exc, traceback.format_exc())
            with self._lock:
                self._held = []
                self._waiting = [(seq, request, outcome if not outcome.recorded else replace(
                    outcome, ok=False, materializations=(), failed_keys=request.asset_keys, error=error,
                    recorded=False)) for seq, request, outcome in self._waiting]
                self._report()

    def _report(self) -> None:
        if self._waiting:
            self._send(("done", [(seq, outcome) for seq, _, outcome in self._waiting]))
            self._waiting = []


def serve(conn: Connection, defs: Any, writer: EventWriter, values: Any, progress: WorkerProgress) -> None:
    """Run what the coordinator sends until it sends ``None`` or goes away."""
    send_lock = threading.Lock()

    def send(message: Any) -> None:
        with send_lock:
            try:
                conn.send(message)
            except OSError:  # the coordinator is gone: the pipe's end stops the loop
                pass

    inbox = _Inbox(conn, send)
    reports = _Reports(writer, send, progress)
    while True:
        with inbox.lock:
            inbox.drain()
            idle = not inbox.queue
            if idle and inbox.closed:
                return
        if idle:
            conn.poll(None)  # wait for the next message (or the pipe's end)
            continue
        _run_group(defs, reports, values, inbox, progress)


def _run_group(defs: Any, reports: _Reports, values: Any, inbox: _Inbox, progress: WorkerProgress) -> None:
    """The steps held, back to back, for ``GROUP_WINDOW`` seconds (at most ``GROUP_MAX``),
    then their outcomes stored and reported. A step past its timeout is the coordinator's
    to end: it kills the worker (``begun_at`` says when the step began)."""
    until = time.monotonic() + GROUP_WINDOW
    count = 0
    while True:
        with inbox.lock:
            inbox.drain()
            if not inbox.queue:
                break
            seq, request = inbox.queue.popleft()
            inbox.running = seq
        progress.begun_at.value = time.monotonic()
        progress.begun.value = seq
        reports.current = seq
        give_back = call_later(START_GRACE, partial(_give_back, inbox, seq))
        try:
            outcome = execute_step(defs, reports, values, request, hold=reports.hold)
        except Exception as exc:  # noqa: BLE001 - a bug or a store failure: report, keep serving
            outcome = StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                                  error=ErrorInfo.from_exception(exc, traceback.format_exc()), recorded=False)
        give_back.cancel()
        with inbox.lock:
            inbox.running = 0
            inbox.gave_back = False
        progress.ended.value = seq
        reports.ended(seq, request, outcome)
        count += 1
        if count >= GROUP_MAX or time.monotonic() >= until:
            break
    reports.end_group()
