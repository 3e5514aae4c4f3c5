"""Narrow interfaces onto the event store, split by what a caller needs.

Execution and automation depend on these protocols, never on a concrete store, so the
same code runs on SQLite and PostgreSQL (and could run on anything else that honours
them). The conformance suite in ``tests/storage`` runs every backend through them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from headwater.core.events import (
    AlertDeliveryAttempt,
    AlertTransition,
    CheckEvaluated,
    Event,
    RunStatus,
    TickRecorded,
)
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, InstigatorState, RunRecord, StepRecord, StoredEvent
from headwater.core.retention import RetentionPolicy


class EventWriter(Protocol):
    def write(self, events: Sequence[Event]) -> None:
        """Append ``events`` and update every derived table in ONE transaction.

        Either all of them are stored or none is (then a ``StorageError`` is raised). A
        ``RunFinished`` for a run that has already finished is dropped: the first end wins;
        so is a ``RunCancelRequested`` for an unknown or ended run, and, by the store of a
        worker that may outlive its run's end (``drop_late_reports``), what a step reports
        (start, outcome, materialization, check) once its run has ended.
        """


class RunReader(Protocol):
    def get_run(self, run_id: str) -> RunRecord | None: ...

    def run_stop_state(self, run_id: str) -> tuple[RunStatus, float | None, str] | None:
        """(status, when a cancel was requested, its reason) of a run, None if unknown: what
        the coordinator of a running run polls, so one primary-key read of three columns."""

    def list_runs(self, limit: int = 50, statuses: Iterable[RunStatus] | None = None,
                  before_created_at: float | None = None) -> list[RunRecord]: ...

    def run_steps(self, run_id: str) -> list[StepRecord]: ...

    def run_events(self, run_id: str, after_id: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """Run events (lifecycle and logs) AND asset events of the run, merged in time order."""

    def finished_runs(self, after_id: int = 0, limit: int = 100) -> list[tuple[int, RunRecord]]:
        """(id of its run_finished event, run) for runs that finished after ``after_id``, in order."""


class AssetStateReader(Protocol):
    def latest_facts(self, keys: Iterable[AssetKey] | None = None, partition: str = "") -> dict[AssetKey, AssetFacts]:
        """Latest facts for the given keys (all known keys when None), in one query."""

    def latest_facts_once(self, keys: Iterable[AssetKey] | None = None, partition: str = "") -> dict[AssetKey, AssetFacts]:
        """Equal facts for a reader that reads once: materializations summarized (the rest
        fetched when asked for), nothing cached."""

    def materializations(self, key: AssetKey, partition: str = "", limit: int = 20,
                         before_id: int | None = None) -> list[StoredEvent]:
        """Newest first."""

    def observations(self, key: AssetKey, partition: str = "", limit: int = 20,
                     before_id: int | None = None) -> list[StoredEvent]:
        """Newest first."""


class PartitionStateReader(Protocol):
    def partition_facts(self, keys: Iterable[AssetKey]) -> dict[AssetKey, Mapping[str, AssetFacts]]:
        """Latest facts of every stored partition of ``keys``, in one read (a mapping per asset
        that may build each ``AssetFacts`` when first asked: ``core.partition_rows``)."""

    def dynamic_partitions(self) -> dict[str, tuple[str, ...]]:
        """The keys of every dynamic partitions definition, in the order they were added."""

    def backfills(self, limit: int = 50) -> list[dict]: ...

    def backfill(self, backfill_id: str) -> dict | None: ...

    def backfill_ids(self, status: str) -> list[str]:
        """Ids of the backfills in ``status``, oldest first."""

    def runs_with_key_prefix(self, prefix: str) -> list[RunRecord]:
        """Runs queued under a run key that starts with ``prefix`` (a backfill's runs), oldest first."""


class CheckResultReader(Protocol):
    def latest_check_results(self, partition: str = "") -> Mapping[AssetKey, Mapping[str, CheckEvaluated]]:
        """The latest evaluation of every check of every asset, in one query. Read-only: an
        unchanged store may answer the next call with the very same mapping."""

    def check_history(self, key: AssetKey, check_name: str | None = None, partition: str = "",
                      limit: int = 20) -> list[StoredEvent]:
        """Newest first."""


class AlertStateReader(Protocol):
    def alert_states(self) -> dict[tuple[str, AssetKey], AlertTransition]:
        """The latest transition per (rule, asset): what is firing now."""

    def alert_deliveries(self, limit: int = 100) -> list[AlertDeliveryAttempt]:
        """Newest first."""


class AutomationStateReader(Protocol):
    def run_for_key(self, run_key: str) -> RunRecord | None:
        """The run queued under ``run_key``, if any (run keys are unique: first one wins)."""

    def queued_runs(self, limit: int = 100) -> list[RunRecord]:
        """Runs still waiting for a worker, OLDEST first (FIFO by the time they were queued),
        unlike ``list_runs``, which is newest first: the order a launcher should take them in."""

    def instigator_states(self) -> dict[str, InstigatorState]: ...

    def ticks(self, instigator: str | None = None, limit: int = 50) -> list[TickRecorded]:
        """Newest first."""


class EventCursorReader(Protocol):
    def last_event_id(self) -> int:
        """The highest id among the stored events (0 when there are none).

        Ids grow in commit order across both event families, and every derived table
        changes only with an event, so a reader that remembers this number learns with one
        cheap query whether anything at all was written since (the UI polls it to recompute
        a large graph's health only when something happened)."""


    def assets_changed_since(self, event_id: int, partition: str = "") -> set[AssetKey]:
        """The assets whose latest facts or latest check results (of ``partition``) changed
        with an event after ``event_id``: what a copy of derived state taken at that id must
        re-derive (with their downstream), the rest being as it was."""


class ChangeWaiter(Protocol):
    notifies: bool  # True: waiting costs nothing until a change (PostgreSQL LISTEN/NOTIFY)

    def wait_for_events(self, after_id: int, timeout: float) -> int:
        """Block until an event past ``after_id`` is stored by any process, or ``timeout``
        seconds pass; return the last event id then. A change feed without polling tables."""

    def wait_for_queued_run(self, timeout: float, known: Collection[str] = ()) -> bool:
        """Block until a run other than ``known`` is queued by any process, or ``timeout``."""


class LeaseStore(Protocol):
    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> bool:
        """Take or renew the lease ``name`` for ``owner`` until ``now + ttl``; False while another
        owner holds an unexpired lease. Atomic across processes (one daemon per store)."""

    def release_lease(self, name: str, owner: str) -> None: ...

    def lease_holder(self, name: str) -> tuple[str, float] | None:
        """(owner, expires_at) of the lease ``name``, expired or not; None when it is free.
        How a coordinator learns that a step's worker stopped renewing (docs/design.md §5)."""

    def leases(self, prefix: str) -> dict[str, tuple[str, float]]:
        """Leases whose name starts with ``prefix``: name -> (owner, expires_at), expired ones
        too (a run's expired lease is how its death is noticed)."""


class RetentionStore(Protocol):
    def collect_garbage(self, policy: RetentionPolicy, now: float, dry_run: bool = False,
                        convert: bool = True) -> Any:
        """Delete what ``policy`` lets go at ``now`` — never the latest fact of an asset
        partition, nor anything status reads — and give the space back; returns a report."""


class EventStore(EventWriter, RunReader, AssetStateReader, PartitionStateReader, CheckResultReader, AlertStateReader,
                 AutomationStateReader, EventCursorReader, ChangeWaiter, LeaseStore, RetentionStore, Protocol):
    """Everything a process needs; open one per process and ``close()`` it when done."""

    url: str

    def close(self) -> None: ...
