"""Built-in observers: ready-made ``observe`` functions for the common source assets.

A factory here returns a plain function with no parameters that returns an
``Observation``, to pass as ``observe=`` to ``source_asset``::

    import headwater as hw
    from headwater.definitions import observers

    orders = hw.source_asset("raw/orders", observe=observers.files("landing/orders/*.csv"))
    events = hw.source_asset("raw/events", observe=observers.sql(
        "postgresql://etl@db/warehouse",
        "SELECT max(loaded_at) AS loaded_at, count(*) AS row_count FROM raw.events"))

``files`` reports the matching files' sizes and modification times; ``sql`` reports one
row of a query (typically ``max(loaded_at)``). Either way the data version changes exactly
when what was observed changes, so re-observing an unchanged source makes nothing stale.

**Relative paths** — a ``files`` pattern, its ``base_dir``, the file of a ``sqlite:///``
or ``duckdb:///`` URL — are resolved against the directory of the Python file that called
the factory (usually the project's ``pipeline.py``), not against the working directory,
so a project observes the same data wherever Headwater is started from. Code without a
file (a REPL, ``exec``) falls back to the working directory at the time of the call.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from headwater.definitions.outputs import Observation
from headwater.errors import DefinitionError, HeadwaterError

__all__ = ["files", "sql"]

Observer = Callable[[], Observation]

EMPTY_VERSION = "empty"
"""The data version ``sql`` reports for an empty table (its data time is ``None``)."""

_GLOB_MAGIC = re.compile(r"[*?[]")
_MAX_EPOCH_SECONDS = 1e11  # the year 5138: a larger number is almost surely milliseconds


def _caller_dir(depth: int = 2) -> Path:
    """The directory of the file whose code called the public factory (the working
    directory for code that has no file)."""
    filename = sys._getframe(depth).f_code.co_filename
    if filename.startswith("<") or not os.path.isfile(filename):
        return Path.cwd()
    return Path(os.path.abspath(filename)).parent


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- files ------------------------------------------------------------------------------


def files(pattern: str, base_dir: str | os.PathLike[str] | None = None) -> Observer:
    """Observe the files matching a glob ``pattern`` (``**`` matches any depth).

    The data version is a hash of every matching file's path, size and modification
    time, so touching or rewriting a file changes it and an unchanged folder keeps it.
    The data time is the newest modification time. Metadata: ``files`` (count),
    ``bytes`` (total size) and ``newest`` (the newest file's path relative to the base).

    A relative ``pattern`` is taken relative to ``base_dir``; ``base_dir`` defaults to —
    and, when relative, is itself taken relative to — the directory of the file calling
    ``files(...)``. So ``files("data/orders.csv")`` in ``project/pipeline.py`` observes
    ``project/data/orders.csv`` wherever Headwater runs from. An absolute pattern ignores
    ``base_dir``. When nothing matches, observing raises ``HeadwaterError`` (a missing
    source is an error, not an empty observation). Directories are never counted.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise DefinitionError(f"files(): the pattern must be a non-empty string, got {pattern!r}")
    root, relative = _split_pattern(pattern, base_dir, _caller_dir())

    def observe_files() -> Observation:
        return _observe_files(pattern, root, relative)

    observe_files.__name__ = observe_files.__qualname__ = f"files({pattern!r})"
    return observe_files


def _split_pattern(pattern: str, base_dir: str | os.PathLike[str] | None, caller: Path) -> tuple[Path, str]:
    """(directory to search from, pattern relative to it)."""
    expanded = os.path.expanduser(pattern)
    if os.path.isabs(expanded):
        # Search from the longest wildcard-free directory, so paths in metadata are short.
        parts = Path(expanded).parts
        fixed = 0
        while fixed < len(parts) - 1 and not _GLOB_MAGIC.search(parts[fixed]):
            fixed += 1
        return Path(*parts[:fixed]), "/".join(parts[fixed:])
    base = caller if base_dir is None else Path(os.path.expanduser(os.fspath(base_dir)))
    return (base if base.is_absolute() else caller / base), expanded


def _observe_files(pattern: str, root: Path, relative: str) -> Observation:
    entries: list[tuple[str, int, int]] = []
    for name in set(glob.glob(relative, root_dir=root, recursive=True)):
        try:
            st = os.stat(root / name)
        except FileNotFoundError:  # removed between listing and stat: it is not there
            continue
        if stat.S_ISREG(st.st_mode):
            entries.append((Path(name).as_posix(), st.st_size, st.st_mtime_ns))
    if not entries:
        missing = "" if root.is_dir() else " (that directory does not exist)"
        raise HeadwaterError(f"files observer: no file matches {pattern!r} in {root}{missing}")
    entries.sort()
    newest = max(entries, key=lambda e: (e[2], e[0]))
    version = _hash("files\n" + "\n".join(f"{p}\0{size}\0{ns}" for p, size, ns in entries))
    return Observation(
        data_version=version,
        data_time=newest[2] / 1e9,
        metadata={"files": len(entries), "bytes": sum(e[1] for e in entries), "newest": newest[0]},
    )


# --- sql --------------------------------------------------------------------------------


class _Problem(Exception):
    """A failure of one observation, to be reported with the (masked) source URL."""


def sql(url: str, query: str, *, data_time_column: str | None = None,
        version_query: str | None = None) -> Observer:
    """Observe a source by running ``query`` against a database; it must return one row.

    ``url`` is a SQLAlchemy URL (``sqlite:///warehouse.db``, ``postgresql://user@host/db``;
    ``postgresql://`` uses the psycopg 3 driver, with a 10 s connect timeout unless the URL
    sets one) or ``duckdb:///path/to/file.duckdb``, which is opened read-only with the
    ``duckdb`` package (query parameters become DuckDB config). A SQLite or DuckDB file
    must already exist; a relative one is resolved like a ``files`` pattern. Every
    observation opens its own connection and closes it before returning.

    The data time is the first column, or ``data_time_column``: a datetime (a naive one is
    taken as UTC), a date (midnight UTC), a number of POSIX seconds, or an ISO 8601 string
    (naive: UTC). The other columns become metadata, converted to JSON-safe values.
    The data version is a hash of the whole row; with ``version_query``, the single value
    that query returns is the version instead (e.g. ``SELECT max(batch_id) FROM t``).

    A NULL data time means an empty table — data version ``"empty"``, data time ``None``
    — when the rest of the row agrees (every other column NULL or 0, as ``count(*)`` and
    other aggregates are over no rows). If another column says there are rows, a NULL data
    time is an error; so include ``count(*)`` in the query to have NULL ``loaded_at`` values
    caught rather than read as an empty table. Any failure (bad URL, unreachable server,
    SQL error, no row, unreadable data time) raises ``HeadwaterError`` naming the URL with
    its password masked.
    """
    for name, value in (("url", url), ("query", query)):
        if not isinstance(value, str) or not value.strip():
            raise DefinitionError(f"sql(): {name} must be a non-empty string, got {value!r}")
    if data_time_column is not None and not isinstance(data_time_column, str):
        raise DefinitionError(f"sql() on {_masked(url)}: data_time_column must be a column name, "
                              f"got {data_time_column!r}")
    if version_query is not None and (not isinstance(version_query, str) or not version_query.strip()):
        raise DefinitionError(f"sql() on {_masked(url)}: version_query must be a non-empty string")
    source = _Source.parse(url, _caller_dir())

    def observe_sql() -> Observation:
        try:
            return _observe_sql(source, query, data_time_column, version_query)
        except _Problem as exc:
            raise HeadwaterError(f"sql observer on {source.shown}: {source.scrub(str(exc))}") from None

    observe_sql.__name__ = observe_sql.__qualname__ = f"sql({source.shown!r})"
    return observe_sql


Run = Callable[[str], tuple[list[str], list[Sequence[Any]]]]
"""Runs one query; returns its column names and at most two of its rows."""


def _observe_sql(source: _Source, query: str, time_column: str | None, version_query: str | None) -> Observation:
    with source.connect() as run:
        columns, rows = run(query)
        if not rows:
            raise _Problem("the query returned no row (aggregate it, e.g. SELECT max(loaded_at) FROM ...)")
        if len(rows) > 1:
            raise _Problem("the query returned more than one row; it must return exactly one")
        row = rows[0]
        at = _time_index(columns, time_column)
        metadata = {name: _jsonable(v) for i, (name, v) in enumerate(zip(columns, row)) if i != at}
        if row[at] is None:
            evidence = {name: v for i, (name, v) in enumerate(zip(columns, row))
                        if i != at and v is not None and not (_is_number(v) and v == 0)}
            if evidence:
                shown = ", ".join(f"{k}={_jsonable(v)!r}" for k, v in evidence.items())
                raise _Problem(f"data time column {columns[at]!r} is NULL but the table has rows ({shown})")
            return Observation(data_version=EMPTY_VERSION, data_time=None, metadata=metadata)
        data_time = _seconds(row[at], columns[at])
        if version_query is None:
            version = _hash(json.dumps([columns, [_jsonable(v, exact=True) for v in row]]))
        else:
            version = _single_value(run(version_query))
    return Observation(data_version=version, data_time=data_time, metadata=metadata)


def _time_index(columns: list[str], wanted: str | None) -> int:
    if not columns:
        raise _Problem("the query returned no column")
    if wanted is None:
        return 0
    if wanted not in columns:
        raise _Problem(f"data_time_column {wanted!r} is not among the query's columns {columns}")
    return columns.index(wanted)


def _single_value(result: tuple[list[str], list[Sequence[Any]]]) -> str:
    columns, rows = result
    if len(columns) != 1 or len(rows) != 1:
        raise _Problem(f"version_query must return a single value; it returned {len(rows)} row(s) "
                       f"of {len(columns)} column(s)")
    value = rows[0][0]
    if value is None:
        raise _Problem("version_query returned NULL")
    if isinstance(value, str):
        return value
    return json.dumps(_jsonable(value, exact=True))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _seconds(value: Any, column: str) -> float:
    """A data time as POSIX seconds; naive date/times are UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if _is_number(value):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise _Problem(f"data time {value!r} in column {column!r} is not a finite number")
        if abs(seconds) >= _MAX_EPOCH_SECONDS:
            raise _Problem(f"data time {value!r} in column {column!r} is too large for POSIX seconds "
                           "(milliseconds? divide by 1000 in the query)")
        return seconds
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Problem(f"data time {value!r} in column {column!r} is not an ISO 8601 date or time") from None
        return _seconds(parsed, column)
    raise _Problem(f"data time in column {column!r} is a {type(value).__name__} ({value!r}); "
                   "expected a datetime, a date, POSIX seconds or an ISO 8601 string")


def _jsonable(value: Any, exact: bool = False) -> Any:
    """A JSON-safe form of a database value (``exact`` keeps decimals as strings, for hashing)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if exact or not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v, exact) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, exact) for v in value]
    return str(value)


# --- where the query runs ---------------------------------------------------------------


_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")
_QUERY_PASSWORD = re.compile(r"((?:password|pwd)=)[^&\s]*", re.IGNORECASE)


def _masked(url: str) -> str:
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", url))


@dataclass(frozen=True)
class _Source:
    """A parsed ``sql`` URL: what to show in messages and how to connect."""

    shown: str
    password: str | None
    url: Any  # sqlalchemy URL, with the driver and file path settled
    duckdb_file: Path | None = None
    sqlite_file: Path | None = None

    @staticmethod
    def parse(raw: str, caller: Path) -> _Source:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(raw)
        except (ArgumentError, ValueError):
            raise DefinitionError(f"sql(): invalid database URL {_masked(raw)!r}; expected e.g. "
                                  "sqlite:///file.db, postgresql://user@host/db or duckdb:///file.duckdb") from None
        shown = _masked(url.render_as_string(hide_password=True))
        password = url.password or url.query.get("password")
        password = password if isinstance(password, str) and password else None
        if url.drivername == "duckdb":
            if not url.database or url.database == ":memory:":
                raise DefinitionError(f"sql(): {shown} names no DuckDB file (duckdb:///path/to/file.duckdb)")
            return _Source(shown, password, url, duckdb_file=_absolute(url.database, caller))
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
                and not url.database.startswith("file:"):
            path = _absolute(url.database, caller)
            return _Source(shown, password, url.set(database=str(path)), sqlite_file=path)
        if url.drivername in ("postgres", "postgresql"):
            url = url.set(drivername="postgresql+psycopg")
        return _Source(shown, password, url)

    def scrub(self, text: str) -> str:
        """``text`` (a driver's error message) with the password masked out."""
        if self.password:  # whole words only, so a password "pg" leaves "pg_hba.conf" readable
            text = re.sub(rf"(?<![\w.-]){re.escape(self.password)}(?![\w.-])", "***", text)
        return _masked(text)

    @contextmanager
    def connect(self) -> Iterator[Run]:
        if self.duckdb_file is not None:
            with _duckdb_session(self.duckdb_file, dict(self.url.query)) as run:
                yield run
        else:
            if self.sqlite_file is not None and not self.sqlite_file.is_file():
                raise _Problem(f"no SQLite database file at {self.sqlite_file}")
            with _sqlalchemy_session(self.url) as run:
                yield run


def _absolute(path: str, caller: Path) -> Path:
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else caller / p


@contextmanager
def _sqlalchemy_session(url: Any) -> Iterator[Run]:
    import sqlalchemy
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    connect_args = {}
    if url.drivername == "postgresql+psycopg" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    engine = None
    try:
        engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        with engine.connect() as conn:

            def run(query: str) -> tuple[list[str], list[Sequence[Any]]]:
                result = conn.execute(sqlalchemy.text(query))
                if not result.returns_rows:
                    raise _Problem(f"the query returns no rows: {query!r}")
                return list(result.keys()), [tuple(r) for r in result.fetchmany(2)]

            yield run  # leaving the block rolls back: an observation only reads
    except NoSuchModuleError:
        raise _Problem(f"no SQLAlchemy dialect is installed for {url.drivername!r}") from None
    except DBAPIError as exc:
        raise _Problem(str(exc.orig).strip()) from None
    except ImportError as exc:
        raise _Problem(f"the database driver is not installed ({exc})") from None
    except SQLAlchemyError as exc:
        raise _Problem(str(exc).strip()) from None
    finally:
        if engine is not None:
            engine.dispose()


@contextmanager
def _duckdb_session(path: Path, config: dict[str, Any]) -> Iterator[Run]:
    import duckdb

    if not path.is_file():
        raise _Problem(f"no DuckDB database file at {path}")
    try:
        con = duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.Error as exc:
        raise _Problem(str(exc).strip()) from None
    try:

        def run(query: str) -> tuple[list[str], list[Sequence[Any]]]:
            rel = con.sql(query)
            if rel is None:
                raise _Problem(f"the query returns no rows: {query!r}")
            columns = list(rel.columns)
            # TIMESTAMPTZ values need pytz to reach Python; fetch them as epoch microseconds.
            aware = {i for i, t in enumerate(rel.types) if str(t).upper() == "TIMESTAMP WITH TIME ZONE"}
            if aware:
                rel = rel.project(", ".join(f"epoch_us(#{i + 1})" if i in aware else f"#{i + 1}"
                                            for i in range(len(columns))))
            rows = rel.limit(2).fetchall()
            return columns, [tuple(_from_epoch_us(v) if i in aware else v for i, v in enumerate(r)) for r in rows]

        yield run
    except duckdb.Error as exc:
        raise _Problem(str(exc).strip()) from None
    finally:
        con.close()


def _from_epoch_us(value: int | None) -> datetime | None:
    return None if value is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
