"""``SqlEventStore``: the event store on SQLite or PostgreSQL, and ``open_store``.

This module is the seam: it opens the database (engines, schema check), runs each call
as one short transaction with busy retries, and turns every database failure into a
``StorageError`` naming the database. The SQL itself lives beside it: ``writer.py``
appends events and derives state, ``latest.py`` reads latest facts, ``checks.py`` check
results, ``alerts.py`` alert state, ``automation.py`` run keys, the run queue, instigator
state and ticks, ``leases.py`` the daemon's lease, ``codec.py`` turns rows back into records.

Open one store per process and ``close()`` it; a store is safe to share between the
threads of that process (each call checks a connection out of a pool).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, func, select, union_all

from headwater.core.events import (
    AlertDeliveryAttempt,
    AlertTransition,
    AssetMaterialized,
    AssetObserved,
    CheckEvaluated,
    Event,
    RunStatus,
    TickRecorded,
)
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, InstigatorState, RunRecord, StepRecord, StoredEvent
from headwater.core.retention import RetentionPolicy
from headwater.errors import StorageError
from headwater.storage.sql import automation, backfill_reads, full_disk, leases
from headwater.storage.sql.alerts import AlertsReader
from headwater.storage.sql.change_feed import QUEUE, ChangeWaiter
from headwater.storage.sql.checks import ChecksReader
from headwater.storage.sql.codec import key_of, run_from_row, step_from_row, stored_event
from headwater.storage.sql.engines import Engines, create_engines
from headwater.storage.sql.failures import with_retry
from headwater.storage.sql.latest import LatestFactsReader
from headwater.storage.sql.partitions import PartitionFactsReader, backfill_rows, dynamic_partition_keys
from headwater.storage.sql.pg_writes import PgWriteSession, commit_may_wait
from headwater.storage.sql.schema import HEAD, ensure_schema
from headwater.storage.sql.sqlite_writes import SqliteWriteSession
from headwater.storage.sql.tables import asset_events, asset_latest, check_latest, run_events, runs, steps
from headwater.storage.sql.writer import append

if TYPE_CHECKING:
    from headwater.storage.sql.retention import GcReport

T = TypeVar("T")


def open_store(url: str, drop_late_reports: bool = False) -> SqlEventStore:
    """Open (creating or upgrading if needed) the store at ``url``.

    ``sqlite:///path/to/headwater.db`` (optionally ``?busy_timeout=SECONDS``) or
    ``postgresql://user@host:port/database``. ``drop_late_reports``: the store of a worker
    whose step may outlive its run's end (a Dask task) drops what the step reports once the
    run has ended, at the cost of one read of the run's row per write (``writer.py``).
    """
    engines = create_engines(url)
    try:
        with_retry(engines, lambda: ensure_schema(engines))
    except StorageError as exc:
        readable = full_disk.read_only_engines(engines) if full_disk.is_io_failure(exc) else None
        if readable is None or full_disk.current_revision(readable) != HEAD:
            engines.dispose()
            if full_disk.is_io_failure(exc) and full_disk.disk_full(engines):
                raise StorageError(full_disk.full_message(engines)) from exc
            raise
        return SqlEventStore(url, readable, drop_late_reports)  # a full disk: reads work, writes say why not
    except BaseException:
        engines.dispose()
        raise
    return SqlEventStore(url, engines, drop_late_reports)


class SqlEventStore:
    """``EventStore`` over SQLAlchemy Core (see ``storage/interfaces.py`` for the contract)."""

    def __init__(self, url: str, engines: Engines, drop_late_reports: bool = False) -> None:
        self.url = url
        self.drop_late_reports = drop_late_reports
        self._engines = engines
        self._latest = LatestFactsReader()
        self._partitions = PartitionFactsReader(self._read)
        self._checks = ChecksReader()
        self._alerts = AlertsReader()
        self._closed = False
        self._pg_writes = None if engines.is_sqlite else PgWriteSession(engines.write)
        self._sqlite_writes = SqliteWriteSession(engines.write) if engines.is_sqlite else None
        self._waiter = ChangeWaiter(url, engines.is_sqlite)

    @property
    def engines(self) -> Engines:
        """The SQLAlchemy engines underneath, for tools and tests that need to look inside."""
        return self._engines

    def __repr__(self) -> str:
        return f"SqlEventStore({self._engines.target!r})"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._waiter.close()
            if self._pg_writes is not None:
                self._pg_writes.close()
            if self._sqlite_writes is not None:
                self._sqlite_writes.close()
            self._engines.dispose()

    def __enter__(self) -> SqlEventStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------

    def _read(self, action: Callable[[Connection], T]) -> T:
        self._check_open()

        def attempt() -> T:
            with self._engines.read.connect() as conn:
                return action(conn)

        return with_retry(self._engines, attempt)

    def _transaction(self, action: Callable[[Connection], T], what: str) -> T:
        """Run ``action`` in one write transaction, retried while SQLite is busy."""

        def attempt() -> T:
            with self._engines.write.begin() as conn:
                return action(conn)

        return self._transaction_with(attempt, what)

    def _transaction_with(self, attempt: Callable[[], T], what: str) -> T:
        self._check_open()
        try:
            return with_retry(self._engines, attempt)
        except StorageError:
            raise
        except Exception as exc:  # e.g. the driver refusing a value: the transaction was rolled back
            raise StorageError(f"could not {what} in {self._engines.target}, nothing was changed: "
                               f"{type(exc).__name__}: {exc}") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the store for {self._engines.target} is closed")

    # -- writing ------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> None:
        """Append ``events`` and derive runs, steps and latest state, in one transaction."""
        self._check_open()
        batch = list(events)
        if not batch:
            return

        def attempt() -> None:
            if self._pg_writes is not None:  # one reused connection, pipelined: see pg_writes.py
                self._pg_writes.append(batch, relaxed=commit_may_wait(batch), drop_late=self.drop_late_reports)
                return
            assert self._sqlite_writes is not None
            # One kept connection (see sqlite_writes.py), one transaction per batch.
            self._sqlite_writes.transaction(lambda conn: append(conn, batch, drop_late=self.drop_late_reports))

        try:
            with_retry(self._engines, attempt)
        except StorageError:
            raise
        except Exception as exc:  # e.g. the driver refusing a value: still nothing was stored
            raise StorageError(f"could not write {len(batch)} event(s) to {self._engines.target}, nothing was "
                               f"stored: {type(exc).__name__}: {exc}") from exc

    def last_event_id(self) -> int:
        """The highest id among the stored events of both families: two index lookups."""
        stmt = select(*(select(func.max(t.c.id)).scalar_subquery() for t in (run_events, asset_events)))
        return self._read(lambda conn: max((v or 0) for v in conn.execute(stmt).one()))

    def assets_changed_since(self, event_id: int, partition: str = "") -> set[AssetKey]:
        """Rows of ``asset_latest`` (by ``updated_id``, indexed) and of ``check_latest`` (by
        ``event_id``) changed after ``event_id``: every write that changes them stamps them."""
        a, c = asset_latest.c, check_latest.c
        stmt = (select(a.asset_key).where(a.updated_id > event_id, a.partition == partition)
                .union(select(c.asset_key).where(c.event_id > event_id, c.partition == partition)))
        return self._read(lambda conn: {key_of(k) for (k,) in conn.execute(stmt)})

    # -- runs ---------------------------------------------------------------------------

    @property
    def notifies(self) -> bool:
        """True when waiting for a change costs nothing until it happens (PostgreSQL's
        LISTEN/NOTIFY); on SQLite, waiting polls the last event id."""
        return self._waiter.notifies

    def wait_for_events(self, after_id: int, timeout: float) -> int:
        """Block until an event past ``after_id`` is stored (by any process) or ``timeout``
        seconds pass; return the last event id then."""
        self._check_open()
        self._waiter.wait(lambda: self.last_event_id() > after_id, timeout)
        return self.last_event_id()

    def wait_for_queued_run(self, timeout: float, known: Collection[str] = ()) -> bool:
        """Block until a run other than ``known`` is queued (by any process) or ``timeout``;
        True if one is. Woken only by writes that queue a run (PostgreSQL)."""
        self._check_open()
        known = set(known)

        def new_run() -> bool:
            return any(r.run_id not in known for r in self.queued_runs(limit=len(known) + 1))

        return self._waiter.wait(new_run, timeout, QUEUE)

    def get_run(self, run_id: str) -> RunRecord | None:
        def query(conn: Connection) -> RunRecord | None:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
            return run_from_row(row) if row is not None else None

        return self._read(query)

    def run_stop_state(self, run_id: str) -> tuple[RunStatus, float | None, str] | None:
        stmt = select(runs.c.status, runs.c.cancel_requested_at, runs.c.cancel_reason).where(runs.c.run_id == run_id)

        def query(conn: Connection) -> tuple[RunStatus, float | None, str] | None:
            row = conn.execute(stmt).first()
            return None if row is None else (RunStatus(row[0]), row[1], row[2] or "")

        return self._read(query)

    def list_runs(self, limit: int = 50, statuses: Iterable[RunStatus] | None = None,
                  before_created_at: float | None = None) -> list[RunRecord]:
        """Newest first; page with ``before_created_at`` = the last run's ``created_at``."""
        stmt = select(runs)
        if statuses is not None:
            stmt = stmt.where(runs.c.status.in_([RunStatus(s).value for s in statuses]))
        if before_created_at is not None:
            stmt = stmt.where(runs.c.created_at < before_created_at)
        stmt = stmt.order_by(runs.c.created_at.desc().nulls_last(), runs.c.run_id.desc()).limit(limit)
        return self._read(lambda conn: [run_from_row(r) for r in conn.execute(stmt)])

    def run_steps(self, run_id: str) -> list[StepRecord]:
        """In the order they started (skipped steps, which never start, by when they were skipped)."""
        stmt = (select(steps).where(steps.c.run_id == run_id)
                .order_by(func.coalesce(steps.c.started_at, steps.c.ended_at).asc().nulls_last(),
                          steps.c.step_key))
        return self._read(lambda conn: [step_from_row(r) for r in conn.execute(stmt)])

    def run_events(self, run_id: str, after_id: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """The run's lifecycle and log events and its asset events, merged.

        Both families share one id counter (see ``writer.py``), so the merge is by id and
        ids follow commit order; ``after_id`` is the last id a reader saw, whichever family
        it came from. ``StoredEvent.extra["family"]`` says which table an event lives in.
        """
        cols = ("id", "type", "schema_version", "payload")
        merged = union_all(
            select(*(run_events.c[c] for c in cols)).where(run_events.c.run_id == run_id,
                                                           run_events.c.id > after_id),
            select(*(asset_events.c[c] for c in cols)).where(asset_events.c.run_id == run_id,
                                                             asset_events.c.id > after_id),
        ).subquery()
        stmt = select(merged).order_by(merged.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._read(lambda conn: [stored_event(*row) for row in conn.execute(stmt)])

    # -- assets -------------------------------------------------------------------------

    def latest_facts(self, keys: Iterable[AssetKey] | None = None, partition: str = "") -> dict[AssetKey, AssetFacts]:
        """Latest facts per asset, in one query. Assets with nothing stored are absent."""
        return self._read(lambda conn: self._latest.read(conn, keys, partition))

    def latest_facts_once(self, keys: Iterable[AssetKey] | None = None, partition: str = "") -> dict[AssetKey, AssetFacts]:
        """``latest_facts`` for a reader that reads once (a CLI process): the same facts, each
        materialization a summary of the stored columns (``core.materialization_summary``),
        nothing decoded beyond that and nothing kept for a next read."""
        return self._read(lambda conn: self._partitions.summaries(conn, keys, partition))

    def partition_facts(self, keys: Iterable[AssetKey]) -> dict[AssetKey, Mapping[str, AssetFacts]]:
        """Latest facts of every stored partition of ``keys`` (partition ``''`` left out)."""
        keys = list(keys)
        if not keys:
            return {}
        return self._read(lambda conn: self._partitions.read(conn, keys))

    def dynamic_partitions(self) -> dict[str, tuple[str, ...]]:
        """The keys of every dynamic partitions definition, in the order they were added."""
        return self._read(dynamic_partition_keys)

    def backfills(self, limit: int = 50) -> list[dict]:
        """Backfills as planned, newest first, with their status."""
        return self._read(lambda conn: backfill_rows(conn, None, limit))

    def backfill(self, backfill_id: str) -> dict | None:
        rows = self._read(lambda conn: backfill_rows(conn, backfill_id, 1))
        return rows[0] if rows else None

    def runs_with_key_prefix(self, prefix: str) -> list[RunRecord]:
        """Runs queued under a run key starting with ``prefix`` (a backfill's), oldest first."""
        return self._read(lambda conn: backfill_reads.runs_with_key_prefix(conn, prefix))

    def backfill_ids(self, status: str) -> list[str]:
        """Ids of the backfills in ``status``, oldest first (every one, not the newest page)."""
        return self._read(lambda conn: backfill_reads.backfill_ids_with_status(conn, status))

    def materializations(self, key: AssetKey, partition: str = "", limit: int = 20,
                         before_id: int | None = None) -> list[StoredEvent]:
        """Newest first; page with ``before_id`` = the last id seen."""
        return self._history(AssetMaterialized.type_name, key, partition, limit, before_id)

    def observations(self, key: AssetKey, partition: str = "", limit: int = 20,
                     before_id: int | None = None) -> list[StoredEvent]:
        """Newest first; page with ``before_id`` = the last id seen."""
        return self._history(AssetObserved.type_name, key, partition, limit, before_id)

    def _history(self, type_name: str, key: AssetKey, partition: str, limit: int,
                 before_id: int | None) -> list[StoredEvent]:
        c = asset_events.c
        stmt = (select(c.id, c.type, c.schema_version, c.payload)
                .where(c.asset_key == str(key), c.partition == partition, c.type == type_name))
        if before_id is not None:
            stmt = stmt.where(c.id < before_id)
        stmt = stmt.order_by(c.id.desc()).limit(limit)
        return self._read(lambda conn: [stored_event(*row) for row in conn.execute(stmt)])

    # -- checks -------------------------------------------------------------------------

    def latest_check_results(self, partition: str = "") -> Mapping[AssetKey, Mapping[str, CheckEvaluated]]:
        """The latest evaluation of every check of every asset, in one query."""
        return self._read(lambda conn: self._checks.latest(conn, partition))

    def check_history(self, key: AssetKey, check_name: str | None = None, partition: str = "",
                      limit: int = 20) -> list[StoredEvent]:
        """Evaluations of the asset's checks (or of the one named), newest first."""
        return self._read(lambda conn: self._checks.history(conn, key, check_name, partition, limit))

    # -- alerts -------------------------------------------------------------------------

    def alert_states(self) -> dict[tuple[str, AssetKey], AlertTransition]:
        """The latest transition per (rule, asset), firing or resolved."""
        return self._read(self._alerts.states)

    def alert_deliveries(self, limit: int = 100) -> list[AlertDeliveryAttempt]:
        """Delivery attempts of every rule and channel, newest first."""
        return self._read(lambda conn: self._alerts.deliveries(conn, limit))

    # -- automation -----------------------------------------------------------------------

    def run_for_key(self, run_key: str) -> RunRecord | None:
        """The run queued under ``run_key`` (the first one: later requests were dropped)."""
        return self._read(lambda conn: automation.run_for_key(conn, run_key))

    def queued_runs(self, limit: int = 100) -> list[RunRecord]:
        """Runs waiting for a worker, oldest first: in the order they were queued (committed)."""
        return self._read(lambda conn: automation.queued_runs(conn, limit))

    def instigator_states(self) -> dict[str, InstigatorState]:
        """Every instigator that was ever ticked or toggled, by name."""
        return self._read(automation.instigator_states)

    def ticks(self, instigator: str | None = None, limit: int = 50) -> list[TickRecorded]:
        """Ticks of one instigator (of all when None), newest first."""
        return self._read(lambda conn: automation.ticks(conn, instigator, limit))

    # -- leases ---------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> bool:
        """Take or renew ``name`` for ``owner`` until ``now + ttl``; False while another owner
        holds it unexpired. Written directly, with no event: see ``leases.py`` for why. Leases
        are taken and renewed often (one per Dask step): on PostgreSQL one statement on the
        reused write connection, committed without waiting for the disk — a lease lost in a
        server crash only lets another holder take it."""
        leases.check_lease_args(name, owner, ttl, now)
        if self._pg_writes is not None:
            session = self._pg_writes
            params = (name, owner, float(now) + float(ttl), float(now))
            return self._transaction_with(lambda: bool(session.statement(leases.PG_ACQUIRE, params)),
                                          f"acquire the lease {name!r}")
        return self._transaction(lambda conn: leases.acquire(conn, name, owner, ttl, now),
                                 f"acquire the lease {name!r}")

    def release_lease(self, name: str, owner: str) -> None:
        """Give up ``name`` if ``owner`` holds it; anyone else's lease is left as it is."""
        leases.check_lease_args(name, owner)
        if self._pg_writes is not None:
            session = self._pg_writes
            self._transaction_with(lambda: session.statement(leases.PG_RELEASE, (name, owner)),
                                   f"release the lease {name!r}")
            return
        self._transaction(lambda conn: leases.release(conn, name, owner), f"release the lease {name!r}")

    def lease_holder(self, name: str) -> tuple[str, float] | None:
        """(owner, expires_at) of ``name``, expired or not; None when nobody holds it."""
        leases.check_lease_args(name, "reader")
        return self._read(lambda conn: leases.holder(conn, name))

    def leases(self, prefix: str) -> dict[str, tuple[str, float]]:
        """Leases named ``prefix...`` with their owner and expiry, expired ones included."""
        return self._read(lambda conn: leases.held(conn, prefix))

    # -- retention ------------------------------------------------------------------------

    def collect_garbage(self, policy: RetentionPolicy, now: float, dry_run: bool = False,
                        convert: bool = True) -> GcReport:
        """Delete what ``policy`` lets go at ``now`` and give the space back (see ``retention.py``)."""
        from headwater.storage.sql import retention

        return retention.collect(self._engines, lambda action: self._transaction(action, "collect garbage"),
                                 self._read, policy, now, dry_run, convert)

    def finished_runs(self, after_id: int = 0, limit: int = 100) -> list[tuple[int, RunRecord]]:
        """Runs that finished after the event id ``after_id``, in the order they finished,
        each with the id of its ``run_finished`` event (a run-status sensor's cursor)."""
        from headwater.storage.sql.run_finishes import finished_after

        return self._read(lambda conn: finished_after(conn, after_id, limit))
