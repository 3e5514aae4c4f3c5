"""The writer's statements as driver SQL, built once, run on the transaction's own cursor.

Every event write is one short transaction of a handful of statements. Through SQLAlchemy
each ``conn.execute`` of a Core statement costs 50-100 µs of Python (coercing the
statement, its cache key, expanding ``IN`` lists, building an execution context) around
a few microseconds of SQLite: two thirds of the cost of recording a step. So the writer's
statements are plain SQL text, built once per shape from the tables' column names and
cached, and executed on the DBAPI cursor of the SQLAlchemy connection that holds the
transaction — same connection, same transaction, same write lock; SQLAlchemy still opens,
commits, rolls back and pools it.

The text is what SQLAlchemy would send, in the driver's parameter style (``?`` for
``sqlite3``, ``%s`` for psycopg), every identifier double-quoted; the only dialect
feature is ``INSERT ... ON CONFLICT (...) DO UPDATE SET c = excluded.c``, which SQLite
(3.24+) and PostgreSQL spell alike. Driver errors come out wrapped exactly as
``conn.execute`` would wrap them (``sqlalchemy.exc.DBAPIError`` subclasses), so busy
retries and error messages in ``failures.py`` work unchanged, and listeners of SQLAlchemy's
``before_cursor_execute`` event still see every statement (``echo`` logging does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

from headwater.storage.sql.tables import EventId

# The transaction setting that holds the id base of a write whose ids the server numbers
# (``writer.append(server_ids=True)``): event-id values are sent as offsets from it.
ID_BASE_SETTING = "headwater.id_base"

Where = tuple[tuple[str, int], ...]
"""A conjunction of conditions: ``(column, 0)`` is ``column = ?``, ``(column, n)`` with
n > 0 is ``column IN (?, ... n times)``."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(table: Table, names: Sequence[str]) -> str:
    """Quoted column names, each checked against the table: SQLite would read a quoted name
    it does not know as a string literal instead of refusing it."""
    for name in names:
        table.c[name]  # noqa: B018 - KeyError for a column the table does not have
    return ", ".join(map(_q, names))


class Statements:
    """The SQL text of one backend, built on first use and kept (shapes are few and bounded:
    ``IN`` lists never exceed the writer's chunk size)."""

    def __init__(self, backend: str, server_ids: bool = False) -> None:
        self.mark = "?" if backend == "sqlite" else "%s"
        # An event-id column's value, when the server numbers the events: base + offset.
        self._id_mark = f"(current_setting('{ID_BASE_SETTING}')::bigint + {self.mark})" if server_ids else self.mark
        self._cache: dict[tuple[Any, ...], str] = {}

    def _marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def insert(self, table: Table, columns: Sequence[str]) -> str:
        key = ("insert", table.name, tuple(columns))
        sql = self._cache.get(key)
        if sql is None:
            marks = ", ".join(self._id_mark if table.c[c].type is EventId else self.mark for c in columns)
            sql = self._cache[key] = f"INSERT INTO {_q(table.name)} ({_columns(table, columns)}) VALUES ({marks})"
        return sql

    def upsert(self, table: Table, pk: tuple[str, ...], update: tuple[str, ...], insert_only: tuple[str, ...]) -> str:
        """Insert a row, or update ``update`` of the one already there; ``insert_only``
        columns are written only when the row is new."""
        key = ("upsert", table.name, update, insert_only)
        sql = self._cache.get(key)
        if sql is None:
            conflict = f" ON CONFLICT ({', '.join(map(_q, pk))}) "
            if update:
                conflict += "DO UPDATE SET " + ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in update)
            else:
                conflict += "DO NOTHING"
            sql = self._cache[key] = self.insert(table, (*pk, *update, *insert_only)) + conflict
        return sql

    def select(self, table: Table, columns: Sequence[str], where: Where) -> str:
        key = ("select", table.name, tuple(columns), where)
        sql = self._cache.get(key)
        if sql is None:
            _columns(table, [c for c, _ in where])
            conditions = [f"{_q(c)} = {self.mark}" if n == 0 else f"{_q(c)} IN ({self._marks(n)})"
                          for c, n in where]
            sql = self._cache[key] = (f"SELECT {_columns(table, columns)} FROM {_q(table.name)} "
                                      f"WHERE {' AND '.join(conditions)}")
        return sql


_STATEMENTS = {backend: Statements(backend) for backend in ("sqlite", "postgresql")}
_SERVER_IDS = Statements("postgresql", server_ids=True)


class Driver:
    """Runs statements on the cursor of ``conn``'s current transaction. ``close()`` it."""

    def __init__(self, conn: Connection, server_ids: bool = False) -> None:
        self.conn = conn
        self.sql = _SERVER_IDS if server_ids else _STATEMENTS[conn.dialect.name]
        self._dbapi_conn = conn.connection.dbapi_connection
        self._error: type[Exception] = conn.dialect.loaded_dbapi.Error
        self._cursor: Any = self._dbapi_conn.cursor()  # type: ignore[union-attr]
        # SQLAlchemy's own hook, so that whoever listens (statement counters in tests,
        # tracing) still sees every statement; empty, and skipped, unless someone listens.
        listeners = conn.dispatch.before_cursor_execute
        self._listeners = listeners if listeners else ()  # asked once per transaction, not per statement

    def _announce(self, sql: str, params: Any, many: bool) -> None:
        for listener in self._listeners:
            listener(self.conn, self._cursor, sql, params, None, many)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self._listeners:
            self._announce(sql, params, False)
        try:
            self._cursor.execute(sql, params)
            return self._cursor.fetchall()  # type: ignore[no-any-return]
        except self._error as exc:
            raise self._wrap(exc, sql, params) from exc

    def batches(self, sql: str, params: Sequence[Any], size: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
        """``fetch``'s rows, ``size`` at a time: the rows of a whole table are never all
        Python objects at once (a reader that keeps a little of each row)."""
        if self._listeners:
            self._announce(sql, params, False)
        try:
            self._cursor.execute(sql, params)
            while True:
                rows = self._cursor.fetchmany(size)
                if not rows:
                    return
                yield rows
        except self._error as exc:
            raise self._wrap(exc, sql, params) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if self._listeners:
            self._announce(sql, rows, len(rows) > 1)
        try:
            if len(rows) == 1:
                self._cursor.execute(sql, rows[0])
            else:
                self._cursor.executemany(sql, rows)
        except self._error as exc:
            raise self._wrap(exc, sql, rows) from exc

    def close(self) -> None:
        try:
            self._cursor.close()
        except self._error:  # a connection already lost; its error was (or will be) raised
            pass

    def _wrap(self, exc: Exception, sql: str, params: Any) -> BaseException:
        """The error ``conn.execute`` would have raised, with the same invalidation of a lost
        connection (so the pool does not hand it out again)."""
        dialect = self.conn.dialect
        lost = bool(dialect.is_disconnect(exc, self._dbapi_conn, self._cursor))  # type: ignore[arg-type]
        if lost:
            self.conn.invalidate(exc)
        return DBAPIError.instance(sql, params, exc, self._error, connection_invalidated=lost,
                                   dialect=dialect)
