"""Canceling a run from any process: the CLI, the UI, the API, a backfill's cancel.

A mixin of ``Instance``. What happens depends on where the run stands:

* queued, or claimed by the daemon with no coordinator yet: nothing of it runs, so it ends
  ``canceled`` at once (a worker that picks it up afterwards finds it ended and refuses);
* started: a ``RunCancelRequested`` is recorded, and the process coordinating the run —
  wherever it is — reads it within a fraction of a second (``execution/run_cancel_watch.py``),
  stops its steps and ends the run ``canceled`` itself;
* ended: nothing to do, and nothing is written (an error says so).

An unknown run id is a ``RunNotFoundError`` naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.core.events import RunCancelRequested, RunFinished, RunStatus
from headwater.core.records import RunRecord
from headwater.errors import HeadwaterError
from headwater.execution.run_heartbeat import lease_name

if TYPE_CHECKING:
    from headwater.storage.interfaces import EventStore

DEFAULT_REASON = "canceled on request"


@dataclass(frozen=True)
class CancelOutcome:
    """``run`` as it stands after the call; ``requested``: its coordinator still has to stop
    it (it was started), else it ended here and then."""

    run: RunRecord
    requested: bool


class RunCancels:
    store: EventStore
    clock: Callable[[], float]

    def cancel_run(self, run_id: str, reason: str = "", requested_by: str = "") -> CancelOutcome:
        """Cancel ``run_id`` (a unique prefix is enough): at once if it has not started, else by
        asking its coordinator through the store. Raises for an unknown or ended run."""
        run: RunRecord = self.run(run_id)  # type: ignore[attr-defined]
        if run.status.is_terminal:
            raise HeadwaterError(f"run {run.run_id} already {run.status.value}; nothing to cancel")
        why = reason or DEFAULT_REASON
        now = self.clock()
        if run.status is RunStatus.QUEUED or not self._coordinated(run):
            self.store.write([RunFinished(run_id=run.run_id, timestamp=now, status=RunStatus.CANCELED,
                                          reason=why)])
            return CancelOutcome(self.run(run.run_id), False)  # type: ignore[attr-defined]
        self.store.write([RunCancelRequested(run_id=run.run_id, timestamp=now, reason=why,
                                             requested_by=requested_by)])
        after: RunRecord = self.run(run.run_id)  # type: ignore[attr-defined]
        return CancelOutcome(after, not after.status.is_terminal)

    def _coordinated(self, run: RunRecord) -> bool:
        """Whether a process has taken the run up: it wrote its pid, or holds its heartbeat.
        A claim by the daemon has neither until its worker starts."""
        return run.pid is not None or self.store.lease_holder(lease_name(run.run_id)) is not None

    def wait_for_run_end(self, run_id: str, timeout: float) -> RunRecord:
        """Block until the run has ended (woken by the store's changes), or raise after
        ``timeout`` seconds naming what it still is."""
        deadline = time.monotonic() + timeout
        last = self.store.last_event_id()
        while True:
            run: RunRecord = self.run(run_id)  # type: ignore[attr-defined]
            if run.status.is_terminal:
                return run
            left = deadline - time.monotonic()
            if left <= 0:
                raise HeadwaterError(
                    f"run {run.run_id} is still {run.status.value} after {timeout:g} s: its coordinator has not "
                    "stopped it yet (a step running in-process finishes first)")
            last = self.store.wait_for_events(last, min(left, 1.0))
