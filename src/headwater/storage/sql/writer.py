"""Appending a batch of events and deriving from it runs, steps, the latest state per asset,
the latest result per check, the state per alert and per instigator.

All of it happens in the caller's transaction, which holds the database's write lock
(``BEGIN IMMEDIATE`` on SQLite, a transaction-level advisory lock on PostgreSQL), so a
batch sees no concurrent writer. That lets the rules below run as plain Python over a
small in-memory copy of the derived rows the batch touches, in event order:

1. load the derived rows the batch's rules will read (a handful of queries whatever its
   size, none at all for most batches a run writes: see ``_Batch._load``);
2. apply each event to them; drop a ``RunFinished`` for a run that already ended, and a
   ``RunQueued`` for a run id or a run key that is already known (first one wins); with
   ``drop_late``, drop what a step reports for a run that has already ended (``_LATE``: a
   canceled step whose worker finished anyway must not record a success after the run's
   end; it costs a read of the run's row per batch, so only the stores of workers that can
   outlive their run's end ask for it — Dask workers, whose tasks cannot be killed);
3. write the event rows and the changed derived rows with one ``executemany`` per
   table and shape of change, using ``INSERT ... ON CONFLICT DO UPDATE``.

A batch of 1 event and one of 1,000 therefore cost about the same number of statements.
Only the columns a rule changed are written, so a materialization's payload is never
read back just to be written again. The statements are driver SQL built once per shape
(``driver.py``): a run writes two batches per step, and SQLAlchemy's per-statement
compilation used to be most of their cost.

The write lock is also what makes run keys exactly-once across processes: the check "is
this key taken?" and the insert happen under it, and the unique index on ``runs.run_key``
backs it (a writer that skipped the lock would fail, never duplicate).

Event ids: both event tables draw from ONE counter — the next id is the highest id
either table has ever used, plus one, read under the write lock — so ids grow in commit
order across the two families, a run's merged log sorts by id alone, and ``after_id`` is
a single cursor over it. On SQLite ``sqlite_sequence`` remembers the highest id even if
rows are later deleted; on PostgreSQL the counter is ``max(id)``, so compaction must keep
the newest event of each table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, text

from headwater.core.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    AlertDeliveryAttempt,
    AlertTransition,
    AssetFailed,
    AssetMaterialized,
    AssetObserved,
    AssetSkipped,
    BackfillRequested,
    BackfillUpdated,
    CheckEvaluated,
    DynamicPartitionsChanged,
    ErrorInfo,
    Event,
    InstigatorToggled,
    ObservationUnchanged,
    RunCancelRequested,
    RunFinished,
    RunQueued,
    RunStarted,
    RunStatus,
    SkipReason,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    TickRecorded,
    is_asset_event,
)
from headwater.core.keys import AssetKey
from headwater.core.records import AttemptStatus, StepStatus
from headwater.errors import StorageError
from headwater.storage.sql.codec import dumps, error_to_json, event_json, inputs_json, keys_json, loads
from headwater.storage.sql.driver import ID_BASE_SETTING, Driver, Where
from headwater.storage.sql.latest_rows import CHUNK
from headwater.storage.sql.tables import (
    alert_state,
    asset_events,
    asset_latest,
    backfills,
    check_latest,
    dynamic_partitions,
    instigator_state,
    run_events,
    runs,
    steps,
)

PG_WRITE_LOCK = 0x4857_5752_4954  # "HWWRIT": serializes writers like SQLite's one write lock

_TERMINAL = {s.value for s in RunStatus if s.is_terminal}
_STEP_OPEN = (StepStatus.STARTED.value, StepStatus.RETRYING.value)
_RUNNING = AttemptStatus.RUNNING.value

_NEXT_ID_SQL = {
    "sqlite": "SELECT max(coalesce((SELECT max(seq) FROM sqlite_sequence"
              " WHERE name IN ('run_events', 'asset_events')), 0),"
              " coalesce((SELECT max(id) FROM run_events), 0), coalesce((SELECT max(id) FROM asset_events), 0))",
    "postgresql": "SELECT GREATEST(coalesce((SELECT max(id) FROM run_events), 0),"
                  " coalesce((SELECT max(id) FROM asset_events), 0))",
}


def append(conn: Connection, events: Sequence[Event], locked: bool = False,
           server_ids: bool = False, drop_late: bool = False) -> list[int | None]:
    """Store ``events`` and their derived state; return each event's id (None if dropped).

    ``server_ids`` (PostgreSQL): the server numbers the events — the next id is read into a
    transaction setting under the lock, and every event id sent is an offset from it — so
    nothing is read back before the rows are sent and a pipelined write reaches the server
    once (``pg_writes.py``); the ids returned are then those offsets. ``locked``: the caller
    already holds the writers' lock in this transaction. ``drop_late``: drop what a step
    reports for a run that has already ended (see the module's docstring)."""
    encoded = [(event, _encode(event)) for event in events]
    if not encoded:
        return []
    db = Driver(conn, server_ids=server_ids)
    try:
        if locked:
            pass
        elif conn.dialect.name == "postgresql":  # on the driver's cursor: it may be pipelined (pg_writes.py)
            db.executemany(_PG_LOCK_SQL, [(PG_WRITE_LOCK,)])
        else:
            take_write_lock(conn)
        if server_ids:
            db.executemany(_PG_ID_BASE_SQL, [()])
            next_id = 1
        else:
            next_id = int(db.fetch(_NEXT_ID_SQL[conn.dialect.name], ())[0][0] or 0) + 1
        batch = _Batch(db, events, drop_late)
        ids: list[int | None] = []
        for event, payload in encoded:
            if not batch.apply(event, payload, next_id):
                ids.append(None)
                continue
            ids.append(next_id)
            batch.add_event_row(event, payload, next_id)
            next_id += 1
        batch.flush(next_id - 1)
    finally:
        db.close()
    return ids


_PG_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"
# Its own statement, after the lock's: in READ COMMITTED a statement's snapshot is taken when
# it starts, so only then does it see the rows of the writer the lock made us wait for.
_PG_ID_BASE_SQL = ("SELECT set_config('" + ID_BASE_SETTING + "', (" + _NEXT_ID_SQL["postgresql"][len("SELECT "):]
                   + ")::text, true)")


def take_write_lock(conn: Connection) -> None:
    """Serialize this transaction with every other writer of the store, until it ends.

    SQLite: the write engine's ``BEGIN IMMEDIATE`` already holds the database's one write
    lock. PostgreSQL: a transaction-level advisory lock that every Headwater writer takes.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_WRITE_LOCK})


_NEEDS_RUN = (RunQueued, RunStarted, RunFinished, RunCancelRequested, StepStarted, StepSucceeded, StepFailed,
              StepSkipped)
# What a step reports. With ``drop_late``, once its run has ended (canceled, failed by a
# reaper) these are dropped: the run's end already decided what became of its steps, and a
# worker that went on regardless (a Dask task cannot be killed) must not turn a canceled
# step into a success.
_LATE = (StepStarted, StepSucceeded, StepFailed, StepSkipped, AssetMaterialized, AssetFailed, AssetSkipped,
         CheckEvaluated)
_NEEDS_INSTIGATOR = (TickRecorded, InstigatorToggled)


def _describe(event: Any) -> str:
    run = getattr(event, "run_id", None)
    key = getattr(event, "key", None)
    return (f"event {getattr(event, 'type_name', '') or type(event).__name__!r}"
            + (f" of run {run!r}" if run else "") + (f" for asset {str(key)!r}" if key else ""))


def _encode(event: Event) -> str:
    if not isinstance(event, Event) or EVENT_TYPES.get(event.type_name) is not type(event):
        raise StorageError(f"cannot store {_describe(event)}: not a Headwater event type")
    if isinstance(event, _NEEDS_RUN) and not event.run_id:
        raise StorageError(f"cannot store {_describe(event)}: it needs a run id")
    if isinstance(event, _NEEDS_INSTIGATOR) and not event.instigator:
        raise StorageError(f"cannot store {_describe(event)}: it needs an instigator (e.g. 'schedule:NAME')")
    try:
        return event_json(event)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StorageError(f"cannot store {_describe(event)}: it does not serialize to JSON ({exc})") from exc


class _Rows:
    """The rows of one derived table that a batch touches: what we know of them (loaded
    columns plus changes so far) and which columns changed, per primary key."""

    def __init__(self, table: Table, pk: tuple[str, ...]) -> None:
        self.table = table
        self.pk = pk
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.exists: set[tuple[Any, ...]] = set()
        self.dirty: dict[tuple[Any, ...], set[str]] = {}
        self.if_new: dict[tuple[Any, ...], dict[str, Any]] = {}  # written only if the row is new

    def load(self, db: Driver, where: Where, params: Sequence[Any], columns: tuple[str, ...]) -> None:
        """Merge rows from the database. What the batch already set stays as it is; columns
        it has not set (nor loaded) take the stored value, so a rule that reads a row sees
        all of it, whichever rules wrote to it before."""
        names = (*self.pk, *columns)
        width = len(self.pk)
        for values in db.fetch(db.sql.select(self.table, names, where), params):
            pk = tuple(values[:width])
            self.exists.add(pk)
            row = self.rows.get(pk)
            if row is None:
                self.rows[pk] = dict(zip(names, values))
            else:
                for name, value in zip(columns, values[width:]):
                    row.setdefault(name, value)

    def load_keys(self, db: Driver, fixed: tuple[tuple[str, Any], ...], column: str, keys: Iterable[Any],
                  columns: tuple[str, ...]) -> None:
        """``load`` the rows whose ``column`` is one of ``keys`` (and each ``fixed`` column
        equals its value), a chunk of keys per query."""
        items = sorted(keys)
        head: Where = tuple((c, 0) for c, _ in fixed)
        values = [v for _, v in fixed]
        for i in range(0, len(items), CHUNK):
            chunk = items[i:i + CHUNK]
            self.load(db, (*head, (column, len(chunk))), (*values, *chunk), columns)

    def row(self, pk: tuple[Any, ...]) -> dict[str, Any]:
        row = self.rows.get(pk)
        if row is None:
            row = self.rows[pk] = dict(zip(self.pk, pk, strict=True))
        return row

    def set(self, pk: tuple[Any, ...], **values: Any) -> None:
        self.row(pk).update(values)
        dirty = self.dirty.get(pk)
        if dirty is None:
            self.dirty[pk] = set(values)
        else:
            dirty.update(values)

    def set_if_new(self, pk: tuple[Any, ...], **values: Any) -> None:
        """Columns for a row that does not exist yet; a stored row keeps its own (the first
        value given wins, and a column ``set`` in this batch overrides it)."""
        self.row(pk)
        defaults = self.if_new.setdefault(pk, {})
        for name, value in values.items():
            defaults.setdefault(name, value)

    def flush(self, db: Driver) -> None:
        groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[Any, ...]]] = {}
        empty: set[str] = set()
        for pk in (*self.dirty, *(pk for pk in self.if_new if pk not in self.dirty)):
            cols = self.dirty.get(pk, empty)
            update = tuple(sorted(cols))
            defaults = self.if_new.get(pk)
            insert_only = tuple(sorted(c for c in defaults if c not in cols)) if defaults else ()
            row = self.rows[pk]
            values = (*pk, *(row[c] for c in update), *(defaults[c] for c in insert_only))  # type: ignore[index]
            groups.setdefault((update, insert_only), []).append(values)
        for (update, insert_only), params in groups.items():
            db.executemany(db.sql.upsert(self.table, self.pk, update, insert_only), params)
        self.dirty.clear()
        self.if_new.clear()


def _latest_pk(key: AssetKey, partition: str = "") -> tuple[str, str]:
    return (str(key), partition)


class _Batch:
    """The derived rules, applied in event order to the rows a batch touches."""

    def __init__(self, db: Driver, events: Sequence[Event], drop_late: bool = False) -> None:
        self.db = db
        self.drop_late = drop_late
        self.runs = _Rows(runs, ("run_id",))
        self.steps = _Rows(steps, ("run_id", "step_key"))
        self.latest = _Rows(asset_latest, ("asset_key", "partition"))
        self.checks = _Rows(check_latest, ("asset_key", "partition", "check_name"))
        self.alerts = _Rows(alert_state, ("rule", "asset_key"))
        self.instigators = _Rows(instigator_state, ("instigator",))
        self.dynamic = _Rows(dynamic_partitions, ("name", "partition_key"))
        self.dynamic_removed: set[tuple[str, str]] = set()
        self.backfills = _Rows(backfills, ("backfill_id",))
        self.run_keys: dict[str, str] = {}  # run key -> run id, of the keys this batch queues
        self.run_rows: list[tuple[Any, ...]] = []
        self.asset_rows: list[tuple[Any, ...]] = []
        self._load(events)

    # -- loading ------------------------------------------------------------------------

    def _load(self, events: Sequence[Event]) -> None:
        """Load what the rules will read, and only that: most rules only write (a
        ``StepStarted`` alone needs no query). Reads are: a run's row (queued, started,
        finished), the run keys a batch queues, and the attempt columns of the latest row
        of the assets of a ``StepSucceeded``, unless an earlier event of the batch set them.
        A failed run ending its open attempts loads its own rows (see ``_end_open_attempts``)."""
        run_ids: set[str] = set()
        run_keys: set[str] = set()
        succeeded: set[str] = set()
        attempted: set[str] = set()  # unpartitioned latest rows whose attempt columns the batch set
        backfill_ids: set[str] = set()
        canceled_steps: dict[str, set[str]] = {}  # run id -> steps a cancel skips (maybe running)
        for event in events:
            kind = type(event)
            if self.drop_late and kind in _LATE and event.run_id is not None:
                run_ids.add(event.run_id)
            if kind is StepStarted or kind is AssetMaterialized:
                if kind is StepStarted:
                    attempted.update(map(str, event.asset_keys))  # type: ignore[attr-defined]
                elif not event.partition:  # type: ignore[attr-defined]
                    attempted.add(str(event.key))  # type: ignore[attr-defined]
            elif kind is StepSucceeded:
                succeeded.update(k for k in map(str, event.asset_keys)  # type: ignore[attr-defined]
                                 if k not in attempted)
            elif kind is BackfillUpdated:
                backfill_ids.add(event.backfill_id)  # type: ignore[attr-defined]
            elif kind is StepSkipped and event.reason is SkipReason.CANCELED:  # type: ignore[attr-defined]
                canceled_steps.setdefault(event.run_id, set()).add(event.step_key)  # type: ignore[arg-type, attr-defined]
            elif kind is RunQueued or kind is RunStarted or kind is RunFinished or kind is RunCancelRequested:
                run_ids.add(event.run_id)  # type: ignore[arg-type]
                if kind is RunQueued and event.run_key:  # type: ignore[attr-defined]
                    run_keys.add(event.run_key)  # type: ignore[attr-defined]
        run_columns = ("status", "created_at", "tags", "run_key", "cancel_requested_at")
        if run_ids:
            self.runs.load_keys(self.db, (), "run_id", run_ids, run_columns)
        if run_keys:
            self.runs.load_keys(self.db, (), "run_key", run_keys, run_columns)
            self.run_keys = {row["run_key"]: pk[0] for pk, row in self.runs.rows.items() if row.get("run_key")}
        if backfill_ids:
            self.backfills.load_keys(self.db, (), "backfill_id", backfill_ids, ("status",))
        for run_id, step_keys in canceled_steps.items():
            self.steps.load_keys(self.db, (("run_id", run_id),), "step_key", step_keys, ("status",))
        if succeeded:
            self.latest.load_keys(self.db, (("partition", ""),), "asset_key", succeeded,
                                  ("last_attempt_run_id", "last_attempt_status"))

    # -- rules --------------------------------------------------------------------------

    def apply(self, event: Event, payload: str, event_id: int) -> bool:
        """Apply one event's rules; False means the event is dropped (not stored)."""
        kind = type(event)
        if self.drop_late and kind in _LATE and event.run_id is not None and self._ended(event.run_id):
            return False
        rule = _RULES.get(kind)
        if rule is None:
            return True
        return rule(self, event, event_id, payload) is not False

    def _ended(self, run_id: str) -> bool:
        row = self.runs.rows.get((run_id,))
        return row is not None and row.get("status") in _TERMINAL

    def _known_run(self, pk: tuple[str | None]) -> bool:
        return pk in self.runs.exists or pk in self.runs.dirty

    def _run_queued(self, e: RunQueued, event_id: int, _payload: str) -> bool:
        """A new run, waiting for a worker. Dropped when its run id is known already (a retried
        request) or its run key was queued before (first one wins, whoever asked)."""
        pk = (e.run_id,)
        if self._known_run(pk):
            return False
        run_key = e.run_key or None  # an empty key is no key
        if run_key is not None:
            if run_key in self.run_keys:
                return False
            self.run_keys[run_key] = e.run_id  # type: ignore[assignment]
        self.runs.set(pk, status=RunStatus.QUEUED.value, created_at=e.timestamp, selection=e.selection,
                      asset_keys=keys_json(e.asset_keys), tags=dumps(dict(e.tags)),
                      run_key=run_key, origin=e.origin, mode=e.mode, location=e.location,
                      parent_run_id=e.parent_run_id, queued_event_id=event_id)
        return True

    def _run_cancel_requested(self, e: RunCancelRequested, _id: int, _payload: str) -> bool:
        """Records the request on a run that has not ended (queued or started); the first
        request's time and reason stand. Dropped for an unknown run or one that has ended."""
        pk = (e.run_id,)
        row = self.runs.rows.get(pk)
        if row is None or not self._known_run(pk) or row.get("status") in _TERMINAL:
            return False
        if row.get("cancel_requested_at") is None:
            # status unchanged, but every upsert of a run row names it (the insert half needs it)
            self.runs.set(pk, status=row["status"], cancel_requested_at=e.timestamp, cancel_reason=e.reason)
        return True

    def _run_started(self, e: RunStarted, _id: int, _payload: str) -> None:
        """Starts an unknown run with everything the event says, or one already known (queued,
        or ended before it started) keeping what it was queued with: what the worker reports
        fills in or replaces, an empty field changes nothing, tags are merged."""
        pk = (e.run_id,)
        known = self._known_run(pk)
        row = self.runs.row(pk)
        status = row.get("status")
        values: dict[str, Any] = dict(
            status=status if status in _TERMINAL else RunStatus.STARTED.value,
            executor=e.executor, started_at=e.timestamp, pid=e.pid, host=e.host,
        )
        if not known:
            values.update(selection=e.selection, asset_keys=keys_json(e.asset_keys),
                          tags=dumps(dict(e.tags)), parent_run_id=e.parent_run_id, location=e.location)
        else:
            if e.selection:
                values["selection"] = e.selection
            if e.asset_keys:
                values["asset_keys"] = keys_json(e.asset_keys)
            if e.tags:
                values["tags"] = dumps({**loads(row.get("tags") or "{}"), **e.tags})
            if e.parent_run_id is not None:
                values["parent_run_id"] = e.parent_run_id
            if e.location is not None:
                values["location"] = e.location
        if row.get("created_at") is None:
            values["created_at"] = e.timestamp
        self.runs.set(pk, **values)

    def _run_finished(self, e: RunFinished, _id: int, _payload: str) -> bool:
        """Ends a run, started or still queued (canceled before it started); the first end wins."""
        pk = (e.run_id,)
        row = self.runs.row(pk)
        if row.get("status") in _TERMINAL:
            return False  # first end wins
        status = RunStatus(e.status)
        values: dict[str, Any] = dict(status=status.value, ended_at=e.timestamp, reason=e.reason)
        if row.get("created_at") is None:
            values["created_at"] = e.timestamp
        self.runs.set(pk, **values)
        if status in (RunStatus.FAILED, RunStatus.CANCELED) and e.run_id is not None:
            self._end_open_attempts(e.run_id, status, e.reason, e.timestamp)
        return True

    def _end_open_attempts(self, run_id: str, status: RunStatus, reason: str, at: float) -> None:
        """A failed or canceled run fails (cancels) what it left unfinished."""
        canceled = status is RunStatus.CANCELED
        error = error_to_json(ErrorInfo(message=reason or f"run {run_id} {status.value}"))
        self.steps.load(self.db, (("run_id", 0), ("status", len(_STEP_OPEN))), (run_id, *_STEP_OPEN), ("status",))
        step_status = (StepStatus.CANCELED if canceled else StepStatus.FAILED).value
        for pk, row in list(self.steps.rows.items()):
            if pk[0] == run_id and row.get("status") in _STEP_OPEN:
                self.steps.set(pk, status=step_status, error=error, ended_at=at)
        self.latest.load(self.db, (("last_attempt_run_id", 0), ("last_attempt_status", 0)), (run_id, _RUNNING),
                         ("last_attempt_run_id", "last_attempt_status"))
        for pk, row in list(self.latest.rows.items()):
            if row.get("last_attempt_run_id") == run_id and row.get("last_attempt_status") == _RUNNING:
                if canceled:
                    self.latest.set(pk, last_attempt_status=AttemptStatus.CANCELED.value, last_attempt_at=at)
                else:
                    self.latest.set(pk, last_attempt_status=AttemptStatus.FAILED.value, last_attempt_at=at,
                                    last_failure=error)

    def _step_started(self, e: StepStarted, _id: int, _payload: str) -> None:
        self.steps.set((e.run_id, e.step_key), status=StepStatus.STARTED.value,
                       asset_keys=keys_json(e.asset_keys), attempt=e.attempt,
                       started_at=e.timestamp, ended_at=None, error=None)
        for key in e.asset_keys:
            for partition in e.partitions or _UNPARTITIONED:
                self.latest.set(_latest_pk(key, partition), last_attempt_status=_RUNNING,
                                last_attempt_run_id=e.run_id, last_attempt_at=e.timestamp)

    def _step_succeeded(self, e: StepSucceeded, _id: int, _payload: str) -> None:
        pk = (e.run_id, e.step_key)
        self.steps.set(pk, status=StepStatus.SUCCEEDED.value, attempt=e.attempt, ended_at=e.timestamp, error=None)
        self.steps.set_if_new(pk, asset_keys=keys_json(e.asset_keys))
        for key in e.asset_keys if not e.partitions else ():  # partitions: their materializations said it
            lpk = _latest_pk(key)
            row = self.latest.row(lpk)
            if row.get("last_attempt_status") == _RUNNING and row.get("last_attempt_run_id") == e.run_id:
                self.latest.set(lpk, last_attempt_status=AttemptStatus.SUCCEEDED.value,
                                last_attempt_at=e.timestamp)

    def _step_failed(self, e: StepFailed, _id: int, _payload: str) -> None:
        pk = (e.run_id, e.step_key)
        error = error_to_json(e.error)
        values: dict[str, Any] = dict(
            status=(StepStatus.RETRYING if e.will_retry else StepStatus.FAILED).value,
            attempt=e.attempt, error=error, ended_at=None if e.will_retry else e.timestamp)
        self.steps.set(pk, **values)
        self.steps.set_if_new(pk, asset_keys=keys_json(e.asset_keys))
        if e.will_retry:
            return
        for key in e.asset_keys:
            for partition in e.partitions or _UNPARTITIONED:
                self.latest.set(_latest_pk(key, partition), last_attempt_status=AttemptStatus.FAILED.value,
                                last_attempt_run_id=e.run_id, last_attempt_at=e.timestamp, last_failure=error)

    def _step_skipped(self, e: StepSkipped, _id: int, _payload: str) -> None:
        stored = self.steps.rows.get((e.run_id, e.step_key))
        if e.reason is SkipReason.CANCELED and stored is not None and stored.get("status") in _STEP_OPEN:
            self._step_canceled(e)
            return
        self.steps.set((e.run_id, e.step_key), status=StepStatus.SKIPPED.value,
                       asset_keys=keys_json(e.asset_keys), detail=e.detail,
                       ended_at=e.timestamp)
        if e.reason not in (SkipReason.UPSTREAM_FAILED, SkipReason.CANCELED):
            return  # up to date: nothing was attempted
        why = _skip_reason(e.detail)
        for key in e.asset_keys:
            for partition in e.partitions or _UNPARTITIONED:
                self.latest.set(_latest_pk(key, partition), last_attempt_status=AttemptStatus.SKIPPED.value,
                                last_attempt_run_id=e.run_id, last_attempt_at=e.timestamp, last_failure=why)

    def _step_canceled(self, e: StepSkipped) -> None:
        """A cancel skips a step that had started (or was waiting to retry): it was stopped
        midway, so it reads canceled, as the open steps of a canceled run do."""
        self.steps.set((e.run_id, e.step_key), status=StepStatus.CANCELED.value, ended_at=e.timestamp,
                       error=error_to_json(ErrorInfo(e.detail or "canceled")), detail=e.detail)
        # Its assets' attempts end with the run (``RunFinished`` follows in the same batch).

    def _asset_skipped(self, e: AssetSkipped, _id: int, _payload: str) -> None:
        self.latest.set(_latest_pk(e.key, e.partition), last_attempt_status=AttemptStatus.SKIPPED.value,
                        last_attempt_run_id=e.run_id, last_attempt_at=e.timestamp,
                        last_failure=_skip_reason(e.detail))

    def _asset_failed(self, e: AssetFailed, _id: int, _payload: str) -> None:
        self.latest.set(_latest_pk(e.key, e.partition), last_attempt_status=AttemptStatus.FAILED.value,
                        last_attempt_run_id=e.run_id, last_attempt_at=e.timestamp,
                        last_failure=error_to_json(e.error))

    def _materialized(self, e: AssetMaterialized, event_id: int, payload: str) -> None:
        self.latest.set(_latest_pk(e.key, e.partition), last_materialization_id=event_id,
                        last_materialization=payload, last_materialized_at=e.timestamp,
                        last_attempt_status=AttemptStatus.SUCCEEDED.value, last_attempt_run_id=e.run_id,
                        last_attempt_at=e.timestamp, mat_run_id=e.run_id, mat_code_version=e.code_version,
                        mat_data_version=e.data_version, mat_data_time=e.data_time, mat_deps=keys_json(e.deps),
                        mat_inputs=inputs_json(e.inputs))

    def _observed(self, e: AssetObserved, event_id: int, payload: str) -> None:
        self.latest.set(_latest_pk(e.key, e.partition), last_observation_id=event_id,
                        last_observation=payload, last_observation_checked_at=e.timestamp)

    def _observation_unchanged(self, e: ObservationUnchanged, _id: int, _payload: str) -> None:
        """Checked again, nothing new: the last observation (the fact) stays as it is."""
        self.latest.set(_latest_pk(e.key, e.partition), last_observation_checked_at=e.timestamp)

    def _check_evaluated(self, e: CheckEvaluated, event_id: int, payload: str) -> None:
        self.checks.set((str(e.key), e.partition, e.check_name), event_id=event_id, payload=payload,
                        evaluated_at=e.timestamp, passed=bool(e.passed), severity=str(e.severity))

    def _alert_transition(self, e: AlertTransition, event_id: int, payload: str) -> None:
        self.alerts.set((e.rule, str(e.key)), state=str(e.state), since=e.timestamp, event_id=event_id,
                        payload=payload)

    def _tick(self, e: TickRecorded, event_id: int, _payload: str) -> None:
        """The latest tick of an instigator; a tick without a cursor keeps the one before."""
        values: dict[str, Any] = dict(last_tick_time=e.timestamp if e.tick_time is None else e.tick_time,
                                      last_status=str(e.status), last_tick_event_id=event_id)
        if e.cursor is not None:
            values["cursor"] = e.cursor
        self.instigators.set((e.instigator,), **values)

    def _instigator_toggled(self, e: InstigatorToggled, _id: int, _payload: str) -> None:
        self.instigators.set((e.instigator,), enabled=bool(e.enabled))

    def _dynamic_changed(self, e: DynamicPartitionsChanged, event_id: int, _payload: str) -> None:
        """Added keys keep the time they were first added; removed ones lose their row."""
        for key in e.added:
            pk = (e.name, key)
            self.dynamic_removed.discard(pk)
            self.dynamic.set_if_new(pk, added_at=e.timestamp, event_id=event_id)
        for key in e.removed:
            pk = (e.name, key)
            self.dynamic.rows.pop(pk, None)
            self.dynamic.dirty.pop(pk, None)
            self.dynamic.if_new.pop(pk, None)
            self.dynamic_removed.add(pk)

    def _backfill_requested(self, e: BackfillRequested, event_id: int, _payload: str) -> None:
        self.backfills.set((e.backfill_id,), status="requested", created_at=e.timestamp, updated_at=e.timestamp,
                           selection=e.selection, mode=e.mode, partition_range=dumps(list(e.partition_range)),
                           targets=dumps([[k, list(ps)] for k, ps in e.targets]),
                           total=sum(len(ps) for _k, ps in e.targets), tags=dumps(dict(e.tags)),
                           chunk_size=e.chunk_size, reason=None, event_id=event_id)

    def _backfill_updated(self, e: BackfillUpdated, _id: int, _payload: str) -> bool:
        """Changes the status of a known backfill; an update of an unknown one is dropped."""
        pk = (e.backfill_id,)
        if pk not in self.backfills.exists and pk not in self.backfills.dirty:
            return False
        self.backfills.set(pk, status=e.status, updated_at=e.timestamp, reason=e.reason)
        return True

    # -- writing ------------------------------------------------------------------------

    def add_event_row(self, event: Event, payload: str, event_id: int) -> None:
        if is_asset_event(event):
            self.asset_rows.append((
                event_id, str(event.key), event.partition,  # type: ignore[attr-defined]
                event.type_name, event.run_id, event.timestamp, getattr(event, "data_version", None),
                SCHEMA_VERSION, payload))
        else:
            self.run_rows.append((
                event_id, event.run_id, getattr(event, "step_key", None), event.type_name, event.timestamp,
                SCHEMA_VERSION, payload, getattr(event, "instigator", None)))

    def flush(self, last_id: int = 0) -> None:
        db = self.db
        for pk in self.latest.dirty:  # which batch last changed the row: readers fetch only newer rows
            self.latest.row(pk)["updated_id"] = last_id
            self.latest.dirty[pk].add("updated_id")
        if self.run_rows:
            db.executemany(db.sql.insert(run_events, _RUN_EVENT_COLUMNS), self.run_rows)
        if self.asset_rows:
            db.executemany(db.sql.insert(asset_events, _ASSET_EVENT_COLUMNS), self.asset_rows)
        if self.dynamic_removed:
            mark = db.sql.mark
            db.executemany(f"DELETE FROM dynamic_partitions WHERE name = {mark} AND partition_key = {mark}",
                           sorted(self.dynamic_removed))
        for rows in (self.runs, self.steps, self.latest, self.checks, self.alerts, self.instigators, self.dynamic,
                     self.backfills):
            if rows.dirty or rows.if_new:
                rows.flush(db)


_RUN_EVENT_COLUMNS = ("id", "run_id", "step_key", "type", "timestamp", "schema_version", "payload", "instigator")
_ASSET_EVENT_COLUMNS = ("id", "asset_key", "partition", "type", "run_id", "timestamp", "data_version",
                        "schema_version", "payload")


def _skip_reason(detail: str) -> str:
    """Why the latest attempt did not happen, kept where a failure's error is kept, so that
    ``why`` can say it; status reads it as an error only when the attempt failed."""
    return error_to_json(ErrorInfo(detail or "skipped", "skipped"))


_RULES: dict[type, Any] = {
    RunQueued: _Batch._run_queued,
    RunStarted: _Batch._run_started,
    RunFinished: _Batch._run_finished,
    RunCancelRequested: _Batch._run_cancel_requested,
    StepStarted: _Batch._step_started,
    StepSucceeded: _Batch._step_succeeded,
    StepFailed: _Batch._step_failed,
    StepSkipped: _Batch._step_skipped,
    AssetFailed: _Batch._asset_failed,
    AssetSkipped: _Batch._asset_skipped,
    AssetMaterialized: _Batch._materialized,
    AssetObserved: _Batch._observed,
    ObservationUnchanged: _Batch._observation_unchanged,
    CheckEvaluated: _Batch._check_evaluated,
    AlertTransition: _Batch._alert_transition,
    AlertDeliveryAttempt: None,  # stored, derives nothing
    TickRecorded: _Batch._tick,
    InstigatorToggled: _Batch._instigator_toggled,
    DynamicPartitionsChanged: _Batch._dynamic_changed,
    BackfillRequested: _Batch._backfill_requested,
    BackfillUpdated: _Batch._backfill_updated,
}
_UNPARTITIONED = ("",)
