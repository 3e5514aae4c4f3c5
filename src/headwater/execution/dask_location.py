"""A Dask task for a step of a workspace: run it in its code location's interpreter, on the worker.

A workspace's locations may each have their own interpreter (docs/workspaces.md), which the
Dask worker's own Python cannot stand in for. So a step travels as a
``LocationStepAddress`` — data: the location's name and configuration, the run id, asset
keys and partition in the ``StepRequest``, the store's URL and the value store's config —
and the task starts the location's server (``python -m headwater.service.location_server``
with the location's ``python``) as a child of the worker process, once per worker process
and location, and hands it the step over the same JSON-lines protocol the local executor
uses. The child writes the step's events to the store itself; the task holds the step's
lease meanwhile, exactly as ``dask_worker.run_step`` does, and when the coordinator gives
the step up (timeout, Ctrl-C) it tells the child to record nothing more and retires that
process (killed once idle; the next step starts a fresh one).

The location's interpreter and code must be at the same paths on the worker's host as in
the workspace's configuration (a shared file system, or the same image).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.core.events import ErrorInfo
from headwater.execution.dask_worker import run_leased, worker_identity
from headwater.execution.location_process import LocationProcess
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.execution.step_lease import StepLease

_WAIT = 0.2  # how often the task looks at the lease while the location runs the step


@dataclass(frozen=True)
class LocationStepAddress:
    """A step of a code location by data (docs/design.md §5)."""

    location: str  # the location's name
    config: str  # its LocationConfig as JSON (where its code is, which python runs it)
    store_url: str
    values: str  # the value store's config as JSON
    request: StepRequest
    open_store: Callable[[], Any]  # for the step's lease (a module-level factory, pickled by reference)
    lease_ttl: float
    abandon_event: str
    outcome_topic: str = ""

    @property
    def run_id(self) -> str:
        return self.request.run_id

    @property
    def partition(self) -> str:
        return self.request.partition


class LocationUnavailableError(Exception):
    """The location's process could not be started or could not load its code on this worker."""


_stores: dict[str, Any] = {}
_processes: dict[str, LocationProcess] = {}
_lock = threading.Lock()


def _store(address: LocationStepAddress) -> Any:
    with _lock:
        if address.store_url not in _stores:
            _stores[address.store_url] = address.open_store()
        return _stores[address.store_url]


def _process(address: LocationStepAddress) -> LocationProcess:
    """This worker process's server of the location, started (and its code loaded) on first use."""
    with _lock:
        process = _processes.get(address.config)
        if process is not None and process.usable():
            return process
        config = json.loads(address.config)
        from headwater.execution.location_process import default_python

        python = config.get("python") or default_python()
        try:
            process = LocationProcess(address.location, python, config, config["working_dir"])
        except Exception as exc:  # noqa: BLE001 - named below with the worker
            raise LocationUnavailableError(str(exc)) from None
        report = process.wait_loaded()
        if not report.ok:
            raise LocationUnavailableError(report.error + (f"\n{report.traceback}" if report.traceback else ""))
        old = _processes.get(address.config)
        if old is not None and old.alive() and not old.in_flight():
            old.stop()
        _processes[address.config] = process
        return process


def run_location_step(address: LocationStepAddress) -> StepOutcome:
    """The Dask task of one step of a code location (raises ``StepLost`` like ``run_step``)."""
    return run_leased(address, _store(address), lambda lease: _run(address, lease))


def _run(address: LocationStepAddress, lease: StepLease) -> StepOutcome:
    request = address.request
    try:
        process = _process(address)
    except LocationUnavailableError as exc:
        return StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys, recorded=False,
                           error=ErrorInfo(f"code location {address.location!r} could not be loaded on Dask worker "
                                           f"{worker_identity()}: {exc}", "LocationUnavailable"))
    n, future = process.run_step(request, address.store_url, json.loads(address.values))
    while True:
        try:
            return future.result(timeout=_WAIT)
        except concurrent.futures.TimeoutError:
            if lease.lost.is_set():  # given up by the coordinator (timeout, Ctrl-C), or the lease taken
                process.abandon(n)
                return StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                                   recorded=False, error=ErrorInfo("abandoned"))


@atexit.register
def _stop_all() -> None:
    """The worker process ends: its locations' servers end with it."""
    for process in list(_processes.values()):
        process.kill()
