"""Launching runs from the UI: queue them, and start a worker when no daemon is there to.

The UI never runs assets in its own process (a slow or crashing asset must not take the
UI down). A run is queued in the store; if a daemon is alive (it holds the ``daemon``
lease) the daemon launches it, as it does every queued run. Otherwise the UI takes the
lease for a moment, so that no daemon starting at the same instant can take the same run,
claims the run and starts ``headwater run-worker RUN_ID`` — the very worker the daemon
would start — then lets the lease go. A worker that exits without ending its run gets the
run marked failed, with its exit code and the tail of its log (as the daemon does).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from typing import Any

from headwater.automation.daemon import LEASE
from headwater.automation.launcher import launch_worker
from headwater.core.events import RunFinished, RunStatus
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord
from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.errors import HeadwaterError

LAUNCH_MODES = ("auto", "queue")


class RunLauncher:
    def __init__(self, instance: Any, location: DefinitionsLocation | None, mode: str = "auto") -> None:
        if mode not in LAUNCH_MODES:
            raise HeadwaterError(f"unknown launch mode {mode!r}; one of {', '.join(LAUNCH_MODES)}")
        self.instance = instance
        self.location = location
        self.mode = mode
        self.owner = f"ui:{socket.gethostname()}:{os.getpid()}"
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def submit(self, defs: Definitions, selection: str, *, asset_keys: Iterable[AssetKey] = (), mode: str = "all",
               tags: dict[str, str] | None = None, **partitions: Any) -> RunRecord:
        """Queue (and maybe start) a run; ``partitions`` are ``Instance.enqueue``'s partition
        arguments (``partition``, ``partition_range``, ``targets``)."""
        if self.location is None:
            raise HeadwaterError("this UI was started without a definitions location (-f/-m), so it cannot "
                                 "launch runs")
        tags = {"origin": "ui", **(tags or {})}
        store = self.instance.store
        with self._lock:
            if self.mode == "queue" or not store.acquire_lease(LEASE, self.owner, 30.0, time.time()):
                record, _ = self.instance.enqueue(defs, selection, asset_keys=asset_keys, tags=tags, origin="ui",
                                                  mode=mode, location=self.location, **partitions)
                return record
            try:
                record, _ = self.instance.enqueue(defs, selection, asset_keys=asset_keys, tags=tags, origin="ui",
                                                  mode=mode, location=self.location, **partitions)
                self.instance.claim(record)
                self.workers[record.run_id] = launch_worker(record, self.instance.home, self.instance.database_url,
                                                            self.instance.home / "logs")
            finally:
                store.release_lease(LEASE, self.owner)
        return self.instance.run(record.run_id)

    def reap(self) -> None:
        """Fail the runs whose worker exited before ending them."""
        with self._lock:
            done = {rid: p.poll() for rid, p in self.workers.items() if p.poll() is not None}
            for rid in done:
                del self.workers[rid]
        for run_id, code in done.items():
            run = self.instance.store.get_run(run_id)
            if run is not None and not run.status.is_terminal:
                tail = _tail(self.instance.home / "logs" / f"{run_id}.log")
                self.instance.store.write([RunFinished(
                    run_id=run_id, timestamp=self.instance.clock(), status=RunStatus.FAILED,
                    reason=f"its worker process exited with code {code} before finishing the run"
                           + (f": {tail}" if tail else ""))])

    def close(self, timeout: float = 5.0) -> None:
        """Leave running workers alone (they finish their runs), but collect finished ones."""
        deadline = time.monotonic() + timeout
        for proc in list(self.workers.values()):
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self.reap()


def _tail(path: Any, limit: int = 500) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""
