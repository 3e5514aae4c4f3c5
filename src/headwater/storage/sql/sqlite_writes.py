"""Appending to SQLite on one connection kept checked out, instead of one per write.

A run appends its steps' events in short transactions (one per step, or per group of steps
the in-process executor ran together: ``execution/held_writes.py``). ``engine.begin()`` checks a
connection out of the pool, and returns and resets it after the commit; on a no-op step
that bookkeeping cost half as much as the commit itself (~15 µs against ~30 µs for a small
transaction, measured). The session keeps the connection between writes; a transaction is
still one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (the engine's ``begin`` hook), so durability and
the write lock are unchanged. Between writes the connection holds no transaction and no
snapshot, so it keeps nothing from other processes.

The transaction itself is driven on the DBAPI connection: ``BEGIN IMMEDIATE`` and
``COMMIT`` sent by us, not through SQLAlchemy's ``Connection.begin()`` (its events, its
transaction object and its commit plumbing cost ~5-10 µs of a step's ~60 µs transaction).
The action only ever runs driver SQL on that connection's cursor (``driver.py``); a driver
error comes out as the same ``DBAPIError`` SQLAlchemy would raise, so busy retries and
messages (``failures.py``) are unchanged.

Threads of one process take turns on it (a step's deferred start is written by another
thread). Any failure drops the connection — closing it rolls back whatever was open — and
the next write checks out a clean one, so a busy retry or a broken connection never finds
a half-ended transaction. A forked child never reuses its parent's connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")


class SqliteWriteSession:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._pid = os.getpid()

    def transaction(self, action: Callable[[Connection], T]) -> T:
        """Run ``action`` in one write transaction on the kept connection. ``action`` runs
        driver SQL only (``driver.Driver``), never ``conn.execute``."""
        with self._lock:
            conn = self._connection()
            try:
                raw = conn.connection.dbapi_connection
                _send(conn, raw, "BEGIN IMMEDIATE")
                result = action(conn)
                _send(conn, raw, "COMMIT")
                return result
            except BaseException:
                self._drop()  # closing it rolls back what was open
                raise

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is not None and self._pid != os.getpid():
            conn = self._conn = None  # the parent's: not ours to use, nor to close
        if conn is None or conn.closed or conn.invalidated:
            self._drop()
            conn = self._conn = self._engine.connect()
            self._pid = os.getpid()
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001, S110 - a connection already broken; its error was raised
                pass

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._drop()
            self._conn = None


def _send(conn: Connection, raw: object, sql: str) -> None:
    """``sql`` on the DBAPI connection; a refusal (busy, disk full) raised as SQLAlchemy
    would raise it."""
    try:
        raw.execute(sql)  # type: ignore[attr-defined]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, (), exc, sqlite3.Error, dialect=conn.dialect) from exc
