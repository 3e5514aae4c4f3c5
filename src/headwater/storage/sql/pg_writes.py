"""Event writes on PostgreSQL: one reused connection, and a whole transaction in ~3 round trips.

Each event write is a short transaction of a handful of statements (the writers' advisory
lock, the next event id, the event rows, the derived rows, COMMIT). Sent one at a time,
each statement waits for the server: with the pool's liveness ping on checkout, about eight
round trips per write, two writes per step — most of what made PostgreSQL 5-15× slower than
SQLite for a run of small steps, far more than the disk sync of the commit itself.

So a store keeps one write connection for its process (no checkout, no ping: a lost
connection fails the write, is invalidated, and the retry opens a new one), and runs each
write in psycopg's pipeline mode: statements are queued and the server's answers collected
only when a result is needed — the next id after the lock, and the end. COMMIT goes in the
same pipeline, so the write costs: BEGIN + lock + next id (one trip), derived-row loads if
any (usually none), the rows + COMMIT (one trip).

One trip, most of the time: the next event id is the highest stored id plus one, read under
the lock. A process that was the last to write knows that id already; it sends its guess
instead of asking, and the server checks it under the lock (``writer.append``'s
``expect_last_id``). A wrong guess (another process wrote meanwhile) fails that transaction
before anything is stored, and the write is sent again the long way; guessing resumes once
a write sees that nobody wrote since this process's last one (so a store shared by many busy
writers does not pay for misses on every write).

Each write also notifies ``headwater_events`` (``pg_notify``, delivered at commit), so a
reader in another process can wait for a change instead of polling (``change_feed.py``).

What remains is the disk sync of each COMMIT (0.3 ms on a quiet disk, 3-5 ms on a busy
one), twice per step. SQLite, as we run it (WAL, ``synchronous=NORMAL``), syncs at
checkpoints only: a power cut may lose its last commits. PostgreSQL gets the same contract
for the events *inside* a running run — step starts and ends, materializations, logs — which
commit with ``synchronous_commit = off`` (group-committed by the WAL writer within 0.2 s).
The run's boundaries commit synchronously: ``RunQueued``, ``RunStarted``, ``RunFinished``,
and every write outside a run (observations, checks, ticks, alerts, leases). The WAL is
one ordered log, so a synchronous commit makes everything committed before it durable too:
when a run is reported finished, all its events are on disk. A PostgreSQL crash mid-run
loses at most the last fraction of a second of that run's events — never a prefix, never
consistency — and the run, whose end was never written, is failed by whoever notices.
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
_PRELUDE_QUEUED = _PRELUDE + f", pg_notify('{QUEUE}', '')"  # a run was queued: wake the daemons


class PgWriteSession:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._last_id: int | None = None  # the highest event id, as of this process's last write
        self._guess = False  # send _last_id instead of reading it

    def append(self, events: Sequence[Event], relaxed: bool) -> list[int | None]:
        """Append ``events`` (``writer.append``) in one pipelined transaction, guessing the
        next id when this process wrote last."""

        guess = self._last_id if self._guess else None
        queued = any(isinstance(e, RunQueued) for e in events)
        try:
            ids = self.run(lambda conn: append(conn, events, guess, locked=True), relaxed=relaxed, notify=True,
                           queued=queued)
        except Exception as exc:
            if guess is None or not _wrong_guess(exc):
                raise
            self._guess = False
            ids = self.run(lambda conn: append(conn, events, locked=True), relaxed=relaxed, notify=True,
                           queued=queued)
            guess = None
        stored = [i for i in ids if i is not None]
        if stored:
            # Read the long way, the first id tells whether anyone wrote since our last write.
            self._guess = guess is not None or min(stored) - 1 == self._last_id
            self._last_id = max(stored)
        return ids

    def run(self, action: Callable[[Connection], T], *, relaxed: bool = False, notify: bool = False,
            queued: bool = False, pipelined: bool = True) -> T:
        """Run ``action`` in one transaction on the reused connection, pipelined, committed;
        ``relaxed``: without waiting for the disk (see the module's docstring for when)."""
        with self._lock:
            conn = self._conn
            if conn is None or conn.closed or conn.invalidated:
                conn = self._conn = self._engine.connect()
            try:
                raw = conn.connection.dbapi_connection
                with conn.begin():
                    if pipelined:
                        return self._pipelined(raw, conn, action, relaxed, notify, queued)
                    if relaxed:
                        raw.execute("SET LOCAL synchronous_commit = off")  # type: ignore[union-attr]
                    return action(conn)  # statements through SQLAlchemy, which reads their results
                # SQLAlchemy's own commit then finds nothing open, and sends nothing.
            except BaseException:
                raw_conn = getattr(conn.connection, "dbapi_connection", None) if not conn.invalidated else None
                if raw_conn is None or raw_conn.closed or raw_conn.info.transaction_status != 0:
                    self._drop()  # lost or in an unknown state: the next write starts afresh
                raise

    @staticmethod
    def _pipelined(raw: Any, conn: Connection, action: Callable[[Connection], T], relaxed: bool,
                   notify: bool, queued: bool) -> T:
        """The transaction's statements and COMMIT in one pipeline. The first error is the one
        raised: leaving an aborted pipeline reports a second one, which says nothing more."""
        first: BaseException | None = None
        try:
            with raw.pipeline():
                try:
                    if notify:  # the writers' lock, the commit mode and the notice: one statement
                        raw.execute(_PRELUDE_QUEUED if queued else _PRELUDE,
                                    (PG_WRITE_LOCK, "off" if relaxed else "on", CHANNEL), prepare=True)
                    result = action(conn)
                    raw.commit()  # queued with the rows: one trip
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


def _wrong_guess(exc: BaseException) -> bool:
    import psycopg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.errors.DivisionByZero):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False
