"""Run each step as a Dask task on a distributed cluster.

The coordinator (``RunCoordinator``) still decides order, retries and skips: a step is
submitted when its parents are done, so independent branches run in parallel on as many
workers as the cluster has. What this executor adds is *where*: each step goes to Dask as
a ``StepAddress`` (data, see ``dask_worker``), with the asset's ``executor_tags`` as Dask
worker resources, and comes back as a ``StepOutcome`` — pushed by the worker on this
client's event topic rather than fetched (a ``gather`` is a round trip through the scheduler
to the worker per step: most of the executor's per-step cost before). Steps released
together are sent together, one graph per set of resources.

Faults, as the other executors report them (``recorded=False``: the coordinator writes the
step's end):

* a worker dies mid-step: Dask moves the task, the next worker finds the step's lease held
  by the dead one and refuses (``StepLost``), or — if no worker is left to move it to — the
  lease runs out; either way the step fails naming the worker and the assets, and the
  coordinator retries it per its policy;
* a step past its timeout, or a run canceled (Ctrl-C): the futures are canceled and a Dask
  Event tells a worker still running the step to record nothing more;
* this process dies: its client's futures are released by the scheduler, and the run is
  marked failed by whoever notices first (``reap_dead_runs``), as with any executor.
"""

from __future__ import annotations

import pickle
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.core.events import ErrorInfo
from headwater.definitions.definitions import Definitions
from headwater.errors import HeadwaterError
from headwater.execution.dask_worker import run_step
from headwater.execution.executor import timed_out
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.execution.step_lease import LeaseState, lease_name, read_lease
from headwater.storage.interfaces import LeaseStore

# A task never finishes unobserved for longer than this: leases and timeouts are looked at.
_TICK = 0.5


@dataclass
class _Flight:
    request: StepRequest
    future: Any
    submitted: float
    lease: str


def parse_resources(owner: str, tags: dict[str, str]) -> dict[str, float]:
    """``{"memory": "8GB", "GPU": "1"}`` -> Dask resources ``{"memory": 8e9, "GPU": 1.0}``."""
    from dask.utils import parse_bytes

    out: dict[str, float] = {}
    for name, raw in tags.items():
        try:
            out[name] = float(raw)
        except ValueError:
            try:
                out[name] = float(parse_bytes(raw))
            except ValueError:
                raise HeadwaterError(f"{owner}: executor tag {name}={raw!r} is neither a number nor a size "
                                     "like '8GB'") from None
    return out


class DaskExecutor:
    name = "dask"

    def __init__(self, client: Any, defs: Definitions, leases: LeaseStore,
                 address_for: Callable[[StepRequest, str, str], Any], *, cluster: Any = None,
                 lease_ttl: float, description: str, task: Callable[[Any], StepOutcome] = run_step) -> None:
        self._client = client
        self._cluster = cluster
        self._defs = defs
        self._leases = leases
        self._address_for = address_for
        self._task = task  # run_step; a workspace's: dask_location.run_location_step
        self._ttl = lease_ttl
        self.description = description
        self._flights: dict[str, _Flight] = {}  # by Dask key
        self._ready: list[StepOutcome] = []  # failed before reaching Dask (no worker fits)
        self._offered: dict[str, dict[str, float]] = {}
        self._next_lease_check = 0.0
        # What came back, in arrival order: ("outcome", key, the StepOutcome) pushed by the
        # worker, or ("done", key, None) from a future's callback (an error, a loss, or a finished
        # task whose pushed outcome went missing).
        self._done: queue.Queue[tuple[str, str, StepOutcome | None]] = queue.Queue()
        self._unsent: list[tuple[StepRequest, dict[str, float]]] = []
        self.capacity = max(1, sum(w.get("nthreads", 1) for w in self._workers().values()))
        # Workers push each outcome on this client's own event topic (it goes worker ->
        # scheduler -> here over streams that are open anyway, no round trip), which the
        # scheduler empties once this client has gone.
        self.outcome_topic = client.id
        client.subscribe_topic(self.outcome_topic, self._pushed)

    def _pushed(self, event: tuple[float, Any]) -> None:
        """On the client's event loop: a worker's outcome (bytes); other messages the scheduler
        logs to a client's topic are dicts, and are not ours."""
        _at, message = event
        if isinstance(message, bytes):
            key, outcome = pickle.loads(message)
            self._done.put(("outcome", key, outcome))

    # -- the Executor interface ------------------------------------------------------------

    def submit(self, request: StepRequest) -> None:
        resources = self._resources(request)
        missing = self._unmet(resources)
        if missing:
            self._ready.append(StepOutcome(
                request.step_key, request.attempt, False, failed_keys=request.asset_keys, recorded=False,
                error=ErrorInfo(f"step {request.step_key} needs Dask worker resources {missing}, which no worker "
                                f"of {self.description} offers (start workers with --resources, e.g. "
                                f"dask worker ADDRESS --resources \"{_spell(resources)}\")", "NoWorkerFits")))
            return
        self._unsent.append((request, resources))

    def _send(self) -> None:
        """Everything submitted since the last poll, as one graph per set of resources: one
        message to the scheduler for all the steps a finished step released."""
        unsent, self._unsent = self._unsent, []
        groups: dict[tuple[tuple[str, float], ...], list[StepRequest]] = {}
        for request, resources in unsent:
            groups.setdefault(tuple(sorted(resources.items())), []).append(request)
        now = time.monotonic()
        for resources, requests in groups.items():
            keys = [f"headwater-{r.run_id[:12]}-{r.step_key}-{r.attempt}" for r in requests]
            names = [lease_name(r) for r in requests]
            # The abandon Event of each step is one nobody sets unless the step is given up.
            addresses = [self._address_for(r, f"headwater-abandon-{n}", self.outcome_topic)
                         for r, n in zip(requests, names)]
            futures = self._client.map(self._task, addresses, key=keys, pure=False, retries=0,
                                       resources=dict(resources) or None)
            for request, key, name, future in zip(requests, keys, names, futures):
                self._flights[key] = _Flight(request, future, now, name)
                future.add_done_callback(lambda f, key=key: self._done.put(("done", key, None)))

    def in_flight(self) -> int:
        return len(self._flights) + len(self._ready) + len(self._unsent)

    def poll(self, timeout: float | None) -> list[StepOutcome]:
        if self._unsent:
            self._send()
        outcomes, self._ready = self._ready, []
        if outcomes:
            return outcomes
        if not self._flights:
            if timeout:
                time.sleep(timeout)
            return []
        wait_for = _TICK if timeout is None else min(timeout, _TICK)
        now = time.monotonic()
        for f in self._flights.values():
            if f.request.timeout is not None:
                wait_for = min(wait_for, max(0.0, f.submitted + f.request.timeout - now))
        done: list[tuple[str, str, StepOutcome | None]] = []
        try:
            done.append(self._done.get(timeout=wait_for))  # woken by the first step that ends
            while True:
                done.append(self._done.get_nowait())  # and whatever ended with it
        except queue.Empty:
            pass
        unreported: list[_Flight] = []
        for _kind, key, pushed in done:
            flight = self._flights.get(key)
            if flight is None:
                continue  # reported already, or given up (timeout, lease, cancel)
            if pushed is not None:
                del self._flights[key]
                outcomes.append(pushed)
                continue
            status = flight.future.status
            if status == "finished":  # finished, but its pushed outcome never came: fetch it
                del self._flights[key]
                unreported.append(flight)
            elif status in ("error", "cancelled", "lost"):
                del self._flights[key]
                outcomes.append(self._failure(flight))
        if unreported:
            outcomes.extend(self._client.gather([f.future for f in unreported]))
        outcomes.extend(self._overdue())
        return outcomes

    def cancel(self) -> None:
        self._unsent.clear()
        flights = list(self._flights.values())
        self._flights.clear()
        self._abandon(flights)

    def close(self) -> None:
        try:
            if self._flights:
                self.cancel()
        finally:
            try:
                self._client.close()
            finally:
                if self._cluster is not None:
                    self._cluster.close()

    # -- faults ----------------------------------------------------------------------------

    def _failure(self, flight: _Flight) -> StepOutcome:
        request = flight.request
        assets = ", ".join(map(str, request.asset_keys))
        elapsed = time.monotonic() - flight.submitted
        try:
            exc = flight.future.exception(timeout=5)
        except Exception as problem:  # noqa: BLE001 - the future itself is gone (canceled, scheduler lost)
            exc = problem
        kind = type(exc).__name__
        if kind == "StepLost":
            message = f"step {request.step_key} (asset {assets}) was lost: {exc}"
            error_type = "WorkerDied"
        elif kind == "KilledWorker":
            held = read_lease(self._leases, flight.lease)
            who = f"worker {held.owner}" if held else "the workers running it"
            message = f"{who} died while running step {request.step_key} (asset {assets}): {exc}"
            error_type = "WorkerDied"
        else:
            message = f"step {request.step_key} (asset {assets}) failed on Dask before it could report: {kind}: {exc}"
            error_type = kind
        return StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                           error=ErrorInfo(message, error_type), duration=elapsed, recorded=False)

    def _overdue(self) -> list[StepOutcome]:
        """Steps past their timeout, and steps whose worker stopped renewing their lease."""
        out: list[StepOutcome] = []
        now = time.monotonic()
        gone: list[_Flight] = []
        for key, flight in list(self._flights.items()):
            request = flight.request
            elapsed = now - flight.submitted
            if request.timeout is not None and elapsed >= request.timeout:
                del self._flights[key]
                gone.append(flight)
                out.append(timed_out(request, elapsed))
        if now >= self._next_lease_check and self._flights:
            self._next_lease_check = now + min(self._ttl / 2, 5.0)
            wall = time.time()
            held_now: dict[str, tuple[str, float]] = {}
            for run_id in {f.request.run_id for f in self._flights.values()}:  # one query per run
                held_now.update(self._leases.leases(f"step:{run_id}:"))
            for key, flight in list(self._flights.items()):
                lease = held_now.get(flight.lease)
                held = None if lease is None else LeaseState(*lease)
                if held is None or held.expires_at > wall:
                    continue  # not started yet (queued on Dask), or alive
                del self._flights[key]
                gone.append(flight)
                request = flight.request
                out.append(StepOutcome(
                    request.step_key, request.attempt, False, failed_keys=request.asset_keys, recorded=False,
                    duration=now - flight.submitted, error=ErrorInfo(
                        f"worker {held.owner} running step {request.step_key} (asset "
                        f"{', '.join(map(str, request.asset_keys))}) stopped renewing its lease "
                        f"{wall - held.expires_at:.0f} s ago: it died or lost its connection", "WorkerDied")))
        if gone:
            self._abandon(gone)
        return out

    def _abandon(self, flights: list[_Flight]) -> None:
        from distributed import Event

        for flight in flights:
            try:
                Event(f"headwater-abandon-{flight.lease}", client=self._client).set()
            except Exception:  # noqa: BLE001 - the scheduler is gone: nothing left to tell
                pass
        if flights:
            try:
                self._client.cancel([f.future for f in flights], force=True)
            except Exception:  # noqa: BLE001 - same
                pass

    # -- resources -------------------------------------------------------------------------

    def _workers(self) -> dict[str, Any]:
        return dict(self._client.scheduler_info().get("workers", {}))

    def _resources(self, request: StepRequest) -> dict[str, float]:
        tags: dict[str, str] = {}
        for key in request.asset_keys:
            tags.update(self._defs.graph.spec(key).executor_tags)
        return parse_resources(f"asset {request.asset_keys[0]}", tags) if tags else {}

    def _unmet(self, resources: dict[str, float]) -> str:
        if not resources:
            return ""
        for attempt in range(2):
            if attempt or not self._offered:
                self._offered = {a: dict(w.get("resources") or {}) for a, w in self._workers().items()}
            if any(all(offer.get(k, 0.0) >= v for k, v in resources.items()) for offer in self._offered.values()):
                return ""
        return _spell(resources)


def _spell(resources: dict[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in resources.items())
