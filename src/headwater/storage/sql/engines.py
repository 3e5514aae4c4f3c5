"""Engines from a URL: how each backend is tuned for many processes sharing one store.

SQLite (``sqlite:///path/to/headwater.db``, the local default):

* WAL journal, so readers never wait for the writer and the writer never waits for them;
  ``synchronous=NORMAL``, which in WAL mode is durable across process crashes (a power cut
  may lose the last commits, never corrupt the file).
* A busy timeout (30 s unless the URL says ``?busy_timeout=SECONDS``) so a writer queues
  behind another process instead of failing at once.
* Write transactions start with ``BEGIN IMMEDIATE``: the write lock is taken up front,
  where the busy timeout applies, rather than on the first INSERT of a transaction that
  has already read — an upgrade SQLite refuses with an immediate "database is locked".
  We take over BEGIN from the sqlite3 module (the recipe in SQLAlchemy's SQLite docs).
* Reads go through a second engine whose connections are ``query_only`` and begin a plain
  deferred transaction, so a read never takes the write lock.

PostgreSQL (``postgresql://user@host:port/db``): mapped to the psycopg 3 driver. One
engine serves reads and writes; MVCC already keeps readers and writers apart.

A forked child (a multiprocess worker) opens engines of its own and never uses those it
inherited. SQLite's rule for the inherited ones is stricter than "do not use": its per-process
lock bookkeeping is shared by every connection of the process to a file, so a new connection
opened beside inherited ones believes it holds locks that only the parent holds. The child
closes them first (``close_inherited_sqlite``), which SQLite allows when no write transaction
was open at the fork. PostgreSQL connections are left alone: closing one would end the
parent's session on the shared socket, and psycopg only finishes a connection in the process
that made it.
"""

from __future__ import annotations

import os
import sqlite3
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from headwater.errors import StorageError

DEFAULT_BUSY_TIMEOUT = 30.0
PG_CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class Engines:
    """The engines behind one store, and how to name the database in an error message."""

    write: Engine
    read: Engine
    backend: str  # "sqlite" or "postgresql"
    target: str  # what a person recognises: the file path, or host:port/database
    path: Path | None = None  # the SQLite file
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    def dispose(self) -> None:
        self.write.dispose()
        if self.read is not self.write:
            self.read.dispose()


def create_engines(url: str) -> Engines:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"invalid database URL {url!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engines(parsed)
    if backend in ("postgresql", "postgres"):
        return _postgres_engines(parsed)
    raise StorageError(f"unsupported database URL {url!r}: use sqlite:///path/to/file.db or postgresql://...")


# --- SQLite -----------------------------------------------------------------------------


def _sqlite_engines(url: URL) -> Engines:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        raise StorageError(
            f"in-memory SQLite ({url.render_as_string()!r}) cannot be shared between connections "
            "or processes: give a file path, e.g. sqlite:///headwater.db")
    query = dict(url.query)
    raw_timeout = query.pop("busy_timeout", str(DEFAULT_BUSY_TIMEOUT))
    try:
        busy_timeout = float(raw_timeout if isinstance(raw_timeout, str) else raw_timeout[-1])
    except (TypeError, ValueError) as exc:
        raise StorageError(f"busy_timeout in {url.render_as_string()!r} must be a number of seconds") from exc
    path = Path(database).expanduser().absolute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the directory for the SQLite database {path}: {exc}") from exc
    clean = url.set(drivername="sqlite+pysqlite", database=str(path), query=query)
    connect_args = {"timeout": busy_timeout, "factory": _TrackedConnection}
    write = create_engine(clean, connect_args=connect_args)
    read = create_engine(clean, connect_args=connect_args)
    _tune_sqlite(write, busy_timeout, begin="BEGIN IMMEDIATE", query_only=False)
    _tune_sqlite(read, busy_timeout, begin="BEGIN", query_only=True)
    return Engines(write=write, read=read, backend="sqlite", target=str(path), path=path,
                   busy_timeout=busy_timeout)


def _tune_sqlite(engine: Engine, busy_timeout: float, *, begin: str, query_only: bool) -> None:
    """Per-connection settings. The journal mode is persistent and set once, by the
    schema check (see ``schema.py``), under a file lock: switching it needs an exclusive
    lock that a burst of connecting processes would fight over."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        _OPEN.add(dbapi_connection)
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA synchronous = NORMAL")
            if query_only:
                cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: half the cost of ``exec_driver_sql`` on every write, which
        # matters at two writes per step. A refusal (busy) is wrapped as that call would
        # wrap it, so the busy retries in ``failures.py`` see the same error.
        try:
            connection.connection.dbapi_connection.execute(begin)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(begin, (), exc, sqlite3.Error, dialect=connection.dialect) from exc


class _TrackedConnection(sqlite3.Connection):
    """A sqlite3 connection that knows its process and can be weakly referenced (the base
    class cannot), so that a forked child finds the ones it inherited."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pid = os.getpid()


_OPEN: weakref.WeakSet[_TrackedConnection] = weakref.WeakSet()


def close_inherited_sqlite() -> int:
    """In a forked child, close every SQLite connection of our engines that the parent opened;
    returns how many. Only call it where no write transaction can have been open at the fork
    (the parent had one thread): SQLite then allows the close, and it changes nothing on disk
    (the parent's own shared lock keeps the child from checkpointing the WAL away)."""
    closed = 0
    for conn in list(_OPEN):
        if conn.pid != os.getpid():
            _OPEN.discard(conn)
            try:
                conn.close()
            except sqlite3.Error:
                continue
            closed += 1
    return closed


# --- PostgreSQL -------------------------------------------------------------------------


def _postgres_engines(url: URL) -> Engines:
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    target = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    return Engines(write=engine, read=engine, backend="postgresql", target=target)
