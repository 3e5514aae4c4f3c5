"""Narrow interfaces onto the event store, split by what a caller needs.

Execution and automation depend on these protocols, never on a concrete store, so the
same code runs on SQLite and PostgreSQL (and could run on anything else that honours
them). The conformance suite in ``tests/storage`` runs every backend through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from headwater.core.events import Event, RunStatus
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, RunRecord, StepRecord, StoredEvent


class EventWriter(Protocol):
    def write(self, events: Sequence[Event]) -> None:
        """Append ``events`` and update every derived table in ONE transaction.

        Either all of them are stored or none is (then a ``StorageError`` is raised). A
        ``RunFinished`` for a run that has already finished is dropped: the first end wins.
        """


class RunReader(Protocol):
    def get_run(self, run_id: str) -> RunRecord | None: ...

    def list_runs(self, limit: int = 50, statuses: Iterable[RunStatus] | None = None,
                  before_created_at: float | None = None) -> list[RunRecord]: ...

    def run_steps(self, run_id: str) -> list[StepRecord]: ...

    def run_events(self, run_id: str, after_id: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """Run events (lifecycle and logs) AND asset events of the run, merged in time order."""


class AssetStateReader(Protocol):
    def latest_facts(self, keys: Iterable[AssetKey] | None = None, partition: str = "") -> dict[AssetKey, AssetFacts]:
        """Latest facts for the given keys (all known keys when None), in one query."""

    def materializations(self, key: AssetKey, partition: str = "", limit: int = 20,
                         before_id: int | None = None) -> list[StoredEvent]:
        """Newest first."""

    def observations(self, key: AssetKey, partition: str = "", limit: int = 20,
                     before_id: int | None = None) -> list[StoredEvent]:
        """Newest first."""


class EventStore(EventWriter, RunReader, AssetStateReader, Protocol):
    """Everything a process needs; open one per process and ``close()`` it when done."""

    url: str

    def close(self) -> None: ...
