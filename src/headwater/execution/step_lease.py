"""A step's liveness as a lease its worker renews (docs/design.md §5), not a pid.

A pid says nothing about a process on another host, and a Dask worker that is killed or
cut off from the network simply stops talking. So the worker running a step takes the
store lease ``step:<run>:<step>:<attempt>`` when it starts and renews it every
``ttl / 4`` seconds from a thread; the coordinator reads it (``lease_holder``) and, once
it is past its expiry, fails the step naming the worker that held it.

The lease also makes a step attempt run at most once: Dask reschedules a task whose worker
died on another worker, but that second worker finds the lease taken by the dead one and
refuses, so the coordinator — not Dask — decides whether the step is retried (per its
retry policy, as a new attempt with its own lease).

Kept apart from the daemon's and runs' leases on purpose (same store table, different
names): a lead may unify them; this module only needs ``LeaseStore``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from headwater.execution.requests import StepRequest
from headwater.storage.interfaces import LeaseStore

DEFAULT_TTL = 30.0


def lease_ttl() -> float:
    """Seconds a step's lease lasts unrenewed: ``$HEADWATER_STEP_LEASE_TTL`` or 30."""
    raw = os.environ.get("HEADWATER_STEP_LEASE_TTL")
    try:
        value = float(raw) if raw else DEFAULT_TTL
    except ValueError:
        value = DEFAULT_TTL
    return value if value > 0 else DEFAULT_TTL


def lease_name(request: StepRequest) -> str:
    part = f"[{request.partition}]" if request.partition else ""
    return f"step:{request.run_id}:{request.step_key}{part}:{request.attempt}"


class StepLost(Exception):
    """This step attempt was already started by another worker, which is gone."""


@dataclass(frozen=True)
class LeaseState:
    owner: str
    expires_at: float


def read_lease(store: LeaseStore, name: str) -> LeaseState | None:
    held = store.lease_holder(name)
    return None if held is None else LeaseState(*held)


class StepLease:
    """Held by the worker while it runs one step attempt; ``lost`` is set when renewing
    fails (the lease was taken from us) or ``should_stop`` says the coordinator gave up."""

    def __init__(self, store: LeaseStore, name: str, owner: str, ttl: float,
                 should_stop: Callable[[], bool] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.lost = threading.Event()
        self._should_stop = should_stop
        self._clock = clock
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> None:
        """Take the lease (one transaction), or raise ``StepLost`` naming whoever holds it."""
        if not self.store.acquire_lease(self.name, self.owner, self.ttl, self._clock()):
            prior = read_lease(self.store, self.name)
            who = prior.owner if prior is not None else "another worker"
            raise StepLost(f"worker {who} started this attempt and then died (Dask moved the task to "
                           f"{self.owner})")
        self._thread = threading.Thread(target=self._renew, name=f"headwater-lease-{self.name}", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._done.wait(self.ttl / 4):
            try:
                if self._should_stop is not None and self._should_stop():
                    self.lost.set()
                    return
                if not self.store.acquire_lease(self.name, self.owner, self.ttl, self._clock()):
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 - a store hiccup: try again next time; expiry tells the rest
                continue

    def release(self) -> None:
        """Stop renewing and give the lease up: the step's end is recorded, so nobody needs it
        (a worker that dies mid-step never gets here, and its lease stays to be noticed)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(self.ttl)
        self.store.release_lease(self.name, self.owner)
