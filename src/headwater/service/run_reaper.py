"""Noticing runs whose coordinator died, and saying so (docs/design.md §4).

Every read of runs or status goes through ``reap``, so a dead run is never reported as
``started`` by one command and as failed by the next. A ``started`` run is dead when:

* its heartbeat lease (``execution/run_heartbeat.py``) has expired — this sees a run on
  another machine and a pid reused by some other program;
* or it runs on this host and its process is gone — noticed at once, without waiting for
  the lease to run out;
* or (no lease: a run by an older Headwater, or claimed by the daemon and not yet picked
  up by its worker) the same pid test, and a claim nobody took up within ``claim_timeout``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable

from headwater.core.events import RunFinished, RunStatus
from headwater.core.records import RunRecord
from headwater.execution.run_heartbeat import PREFIX, lease_name
from headwater.storage.interfaces import EventStore

CLAIM_TIMEOUT = 120.0
"""A claimed run whose worker has not reported after this long is failed (the launcher died)."""


def reap(store: EventStore, runs: Iterable[RunRecord], clock: Callable[[], float],
         claim_timeout: float | None = CLAIM_TIMEOUT) -> list[str]:
    """Mark the dead ones among ``runs`` failed, with the reason; returns their ids.
    ``claim_timeout=None`` leaves claims (no pid, no lease) alone."""
    started = [r for r in runs if r.status is RunStatus.STARTED]
    if not started:
        return []
    leases = store.leases(PREFIX)
    host = socket.gethostname()
    wall = time.time()
    reaped = []
    for run in started:
        reason = _why_dead(run, leases.get(lease_name(run.run_id)), host, wall, clock(), claim_timeout)
        if reason is None:
            continue
        store.write([RunFinished(run_id=run.run_id, timestamp=clock(), status=RunStatus.FAILED, reason=reason)])
        held = leases.get(lease_name(run.run_id))
        if held is not None:
            store.release_lease(lease_name(run.run_id), held[0])
        reaped.append(run.run_id)
    return reaped


def _why_dead(run: RunRecord, lease: tuple[str, float] | None, host: str, wall: float, now: float,
              claim_timeout: float | None) -> str | None:
    """Leases are compared with the wall clock (they are renewed in real time); a claim with
    ``now``, the clock that stamped it."""
    local = run.host == host
    if local and run.pid is not None and run.pid != os.getpid() and not alive(run.pid):
        return f"the process running it (pid {run.pid} on {host}) died before the run finished"
    if lease is not None:
        owner, expires_at = lease
        if expires_at > wall:
            return None
        return (f"its heartbeat stopped: the lease of {owner} expired {wall - expires_at:.0f} s ago "
                f"(the process coordinating it died, hung or lost the store)")
    if not local:
        return None  # no lease and another machine: nothing we can tell from here
    if run.pid is None and claim_timeout is not None:
        since = run.started_at or run.created_at or 0.0
        if now - since < claim_timeout:
            return None
        return f"its worker never reported within {claim_timeout:g} s of being launched"
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
