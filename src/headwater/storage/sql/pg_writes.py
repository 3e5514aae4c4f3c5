"""Event writes on PostgreSQL: one reused connection, and a whole transaction in one round trip.

Each event write is a short transaction of a handful of statements (the writers' advisory
lock, the next event id, the event rows, the derived rows, COMMIT). Sent one at a time,
each statement waits for the server: with the pool's liveness ping on checkout, about eight
round trips per write — most of what made PostgreSQL 5-15× slower than SQLite for a run of
small steps, far more than the disk sync of the commit itself.

So a store keeps one write connection for its process (no checkout, no ping: a lost
connection fails the write, is dropped, and the retry opens a new one), and sends each
write as one psycopg pipeline: ``BEGIN``, the writers' lock, the id base, the rows, the
derived rows, ``COMMIT``, then one Sync — one trip. The connection is in autocommit mode
and the transaction is spelled out, because psycopg's own transaction handling waits for
the server after its implicit ``BEGIN`` and again at ``commit()`` (three trips).

No id is read back: the next event id is the highest stored id plus one, taken *by the
server* under the lock (``SELECT set_config('headwater.id_base', max ...)``, a statement of
its own so that its snapshot is taken after the lock is granted), and every event-id value
the writer sends is an offset from that base (``writer.append(server_ids=True)``). So a
write costs one trip whoever else writes — several Dask workers and their coordinator
writing in turn included. (The previous scheme guessed the next id and lost a trip, and a
failed transaction, whenever another process had written in between.) A write that must
read derived rows first (a run's start or end, a step's success without its start in the
batch) waits for those reads: one more trip.

Each write also notifies ``headwater_events`` (``pg_notify``, delivered at commit), so a
reader in another process can wait for a change instead of polling (``change_feed.py``).

What remains is the disk sync of each COMMIT (0.3 ms on a quiet disk, 3-5 ms on a busy
one). SQLite, as we run it (WAL, ``synchronous=NORMAL``), syncs at checkpoints only: a
power cut may lose its last commits. PostgreSQL gets the same contract for the events
*inside* a running run — step starts and ends, materializations, logs — which commit with
``synchronous_commit = off`` (group-committed by the WAL writer within 0.2 s). The run's
boundaries commit synchronously: ``RunQueued``, ``RunStarted``, ``RunFinished``, and every
write outside a run (observations, checks, ticks, alerts). The WAL is one ordered log, so a
synchronous commit makes everything committed before it durable too: when a run is
reported finished, all its events are on disk. A PostgreSQL crash mid-run loses at most the
last fraction of a second of that run's events — never a prefix, never consistency — and
the run, whose end was never written, is failed by whoever notices.
``HEADWATER_PG_SYNCHRONOUS_COMMIT=always`` makes every write synchronous.

Writers in one process take turns on the connection (a lock); they would anyway, on the
store's advisory lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from headwater.core.events import Event, RunFinished, RunQueued, RunStarted
from headwater.storage.sql.change_feed import EVENTS, QUEUE
from headwater.storage.sql.writer import PG_WRITE_LOCK, append

_BOUNDARIES = (RunQueued, RunStarted, RunFinished)


def commit_may_wait(events: Sequence[Event]) -> bool:
    """True when every event is inside a running run (not one of its boundaries)."""
    if os.environ.get("HEADWATER_PG_SYNCHRONOUS_COMMIT", "").lower() == "always":
        return False
    return all(isinstance(e, Event) and e.run_id and not isinstance(e, _BOUNDARIES) for e in events)

T = TypeVar("T")


CHANNEL = EVENTS
_PRELUDE = "SELECT pg_advisory_xact_lock(%s), set_config('synchronous_commit', %s, true), pg_notify(%s, '')"
_RELAXED = "SELECT set_config('synchronous_commit', 'off', true)"
_PRELUDE_QUEUED = _PRELUDE + f", pg_notify('{QUEUE}', '')"  # a run was queued: wake the daemons


class PgWriteSession:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: Connection | None = None

    def append(self, events: Sequence[Event], relaxed: bool, drop_late: bool = False) -> None:
        """Append ``events`` (``writer.append``) in one pipelined transaction, ids numbered by
        the server."""
        queued = any(isinstance(e, RunQueued) for e in events)
        self.run(lambda conn: append(conn, events, locked=True, server_ids=True, drop_late=drop_late),
                 relaxed=relaxed, notify=True, queued=queued)

    def run(self, action: Callable[[Connection], T], *, relaxed: bool = False, notify: bool = False,
            queued: bool = False) -> T:
        """Run ``action`` in one transaction on the reused connection, pipelined, committed;
        ``relaxed``: without waiting for the disk (see the module's docstring for when)."""
        with self._lock:
            conn = self._conn
            if conn is None or conn.closed or conn.invalidated:
                conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self._conn = conn
            try:
                return self._pipelined(conn.connection.dbapi_connection, conn, action, relaxed, notify, queued)
            except BaseException:
                raw_conn = getattr(conn.connection, "dbapi_connection", None) if not conn.invalidated else None
                status = None if raw_conn is None or raw_conn.closed else raw_conn.info.transaction_status
                if status not in (0, 2, 3):  # neither idle, nor in a transaction (failed or not)
                    self._drop()  # lost or in an unknown state: the next write starts afresh
                elif status:  # a transaction left open by the error (the server's, or the driver's): end it
                    try:
                        raw_conn.execute("ROLLBACK")
                    except Exception:  # noqa: BLE001 - then start afresh next time
                        self._drop()
                raise

    def statement(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One statement in its own transaction, committed without waiting for the disk, in
        one trip (leases: see ``leases.py``)."""

        def action(conn: Connection) -> Any:
            raw = conn.connection.dbapi_connection
            raw.execute(_RELAXED, prepare=True)  # type: ignore[union-attr]
            return raw.execute(sql, params, prepare=True)  # type: ignore[union-attr]

        cursor = self.run(action)
        return list(cursor.fetchall()) if cursor.description is not None else []

    @staticmethod
    def _pipelined(raw: Any, conn: Connection, action: Callable[[Connection], T], relaxed: bool,
                   notify: bool, queued: bool) -> T:
        """BEGIN, the transaction's statements and COMMIT in one pipeline, sent with one Sync.
        The first error is the one raised: leaving an aborted pipeline reports a second one,
        which says nothing more."""
        first: BaseException | None = None
        try:
            with raw.pipeline():
                try:
                    raw.execute("BEGIN", prepare=True)
                    if notify:  # the writers' lock, the commit mode and the notice: one statement
                        raw.execute(_PRELUDE_QUEUED if queued else _PRELUDE,
                                    (PG_WRITE_LOCK, "off" if relaxed else "on", CHANNEL), prepare=True)
                    result = action(conn)
                    raw.execute("COMMIT", prepare=True)  # queued with the rows: one trip
                except Exception as exc:  # noqa: BLE001 - re-raised below, once the pipeline is closed
                    first = exc
        except Exception:
            if first is None:
                raise
        if first is not None:
            raise first
        return result

    def _drop(self) -> None:
        """Forget the connection after a failure: the next write starts on a fresh one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001 - already broken; nothing to save
                pass

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
