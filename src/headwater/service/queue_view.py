"""Why each queued run still waits: its place in the queue and what holds it back.

The same pure decision the daemon takes (``automation.run_queue.runs_to_launch``) applied
to the store as it is now, so what ``runs``, ``run show`` and the UI say is what the
daemon will do on its next tick. Without the definitions (``headwater runs`` outside a
project) the concurrency limits are unknown, and only the position is told.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from headwater.automation.run_queue import build_limits, runs_to_launch
from headwater.core.events import RunStatus
from headwater.core.keys import AssetKey
from headwater.definitions.definitions import Definitions
from headwater.storage.interfaces import EventStore

QUEUE_READ = 1000


def queue_waits(store: EventStore, defs: Definitions | None,
                resolve: Callable[[str], Iterable[AssetKey]] | None = None) -> dict[str, str]:
    """Run id -> one line: "2nd of 3 in the queue; waits: 1 run(s) in progress, the limit is 1"."""
    queued = store.queued_runs(limit=QUEUE_READ)
    if not queued:
        return {}
    waiting: dict[str, str] | None = None
    if defs is not None:
        running = store.list_runs(limit=QUEUE_READ, statuses=[RunStatus.STARTED])
        limits = build_limits(defs.concurrency_limits, resolve or (lambda s: ()))
        waiting = runs_to_launch(queued, running, defs.max_concurrent_runs, limits).waiting
    out: dict[str, str] = {}
    for i, run in enumerate(queued):
        place = f"{_ordinal(i + 1)} of {len(queued)} in the queue"
        if waiting is None:
            out[run.run_id] = f"{place}; waits for the daemon (`headwater daemon`) to launch it"
        elif run.run_id in waiting:
            out[run.run_id] = f"{place}; waits: {waiting[run.run_id]}"
        else:
            out[run.run_id] = f"{place}; no limit holds it: the daemon launches it on its next tick"
    return out


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
