"""What a Dask worker runs for one step: load the location, run the step, write its events.

A step travels as a ``StepAddress`` — plain data: where the definitions are, which assets,
which partition, which run, and how to open the store and the value store (module-level
factories with plain arguments, pickled by reference). No user object and no value goes
through the coordinator: the worker imports the user's code itself (once per worker
process, cached), reads its inputs from the value store and writes its own events straight
to the store, exactly as a multiprocess worker does.
"""

from __future__ import annotations

import os
import pickle
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.execution.multiprocess import WorkerBootstrap
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.execution.step_execution import execute_step
from headwater.execution.step_lease import StepLease, lease_name


@dataclass(frozen=True)
class StepAddress:
    """A step by data (docs/design.md §5). ``location`` is the definitions location as JSON (the
    cache key of what a worker loaded); ``request`` carries the run id, asset keys,
    partition, attempt and the inputs as the coordinator saw them."""

    location: str
    store_url: str
    values: str  # the value store's config as JSON, part of the cache key
    request: StepRequest
    boot: WorkerBootstrap
    lease_ttl: float
    abandon_event: str  # name of the Dask Event the coordinator sets when it gives the step up
    outcome_topic: str = ""  # the coordinator's Dask event topic, where the outcome is pushed

    @property
    def run_id(self) -> str:
        return self.request.run_id

    @property
    def partition(self) -> str:
        return self.request.partition


@dataclass
class _Environment:
    defs: Any
    store: Any
    values: Any


_loaded: dict[tuple[str, str, str], _Environment] = {}
_loading = threading.Lock()


def _environment(address: StepAddress) -> _Environment:
    """The definitions, store and value store of this worker process for ``address``, built
    on first use: a worker pays the import of the user's code once, not per step."""
    key = (address.location, address.store_url, address.values)
    env = _loaded.get(key)
    if env is None:
        with _loading:
            env = _loaded.get(key)
            if env is None:
                boot = address.boot
                env = _loaded[key] = _Environment(boot.load_definitions(), boot.open_store(), boot.open_values())
    return env


def worker_identity() -> str:
    """How errors name this worker: its Dask address, host and pid."""
    try:
        from distributed import get_worker

        where = get_worker().address
    except ValueError:  # not inside a Dask worker (called directly, e.g. in a test)
        where = "no-dask-worker"
    return f"{where} (host {socket.gethostname()}, pid {os.getpid()})"


def run_step(address: StepAddress) -> StepOutcome:
    """The Dask task of one step. Raises ``StepLost`` if another worker already ran this
    attempt and died (Dask rescheduled it): the coordinator fails the attempt, naming it."""
    env = _environment(address)
    return run_leased(address, env.store,
                      lambda lease: execute_step(env.defs, env.store, env.values, address.request, lease.lost))


def run_leased(address: Any, store: Any, body: Callable[[StepLease], StepOutcome]) -> StepOutcome:
    """``body`` under the step's lease (given up when the coordinator abandons the run), its
    outcome pushed to the coordinator: what every Dask task of a step does around its work."""
    request = address.request
    abandon = abandon_check(address.abandon_event, store, request.run_id)
    lease = StepLease(store, lease_name(request), worker_identity(), address.lease_ttl, should_stop=abandon)
    lease.take()
    try:
        outcome = body(lease)
    finally:
        lease.release()
    if address.outcome_topic:
        push_outcome(address.outcome_topic, outcome)
    return outcome


def push_outcome(topic: str, outcome: StepOutcome) -> None:
    """Send the outcome to the coordinator now, over the worker's stream to the scheduler
    (which forwards it to the coordinator's client): the coordinator learns it without asking
    for the task's result — a round trip through the scheduler to this worker per step."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # called outside a Dask worker (a test): the returned outcome is all there is
        return
    worker.log_event(topic, pickle.dumps((worker.get_current_task(), outcome)))


def abandon_check(name: str, store: Any, run_id: str) -> Any:
    """A cheap "was this step given up?", asked only when the lease is renewed (a short step
    never asks): the coordinator set the step's Dask Event (timeout, Ctrl-C), or the run has
    ended without it (its coordinator died and was reaped, or the run was canceled)."""

    from distributed import Event

    try:  # made here, in the task's thread: the lease's thread has no Dask client of its own
        event: Any = Event(name)
    except ValueError:  # not inside a Dask worker (called directly, e.g. in a test)
        event = None

    def abandoned() -> bool:
        try:
            if event is not None and event.is_set():
                return True
        except Exception:  # noqa: BLE001 - the scheduler is unreachable: the run's status still tells
            pass
        run = store.get_run(run_id)
        return run is not None and run.status.is_terminal

    return abandoned
