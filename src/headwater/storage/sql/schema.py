"""Bringing a database to the current schema when a store opens.

Opening is frequent (every CLI command, every worker process), migrating is rare. So the
common path is one plain read of ``alembic_version`` and no Alembic at all; Alembic (and
its import) is only paid for when the revision differs from ``HEAD``.

Migrations run under a lock so that processes opening a brand-new database at the same
moment do not race to create it: a ``fcntl`` lock on a file next to the SQLite database
(we never lock the database file itself: closing any descriptor on it would drop
SQLite's own POSIX locks), ``pg_advisory_xact_lock`` on PostgreSQL. Whoever gets the lock
second finds the schema current and does nothing. The upgrade runs in one transaction
on both backends, so a crash mid-migration leaves the old schema, not half a new one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from headwater.errors import StorageError
from headwater.storage.sql.engines import Engines
from headwater.storage.sql.revision import HEAD

if TYPE_CHECKING:  # Alembic is imported only when a migration is needed
    from alembic.config import Config

try:  # POSIX only; on Windows concurrent first opens are not guarded
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_MIGRATION_LOCK = 0x4857_4D49_4752  # "HWMIGR": any constant all Headwater processes share


def ensure_schema(engines: Engines) -> None:
    """Bring the database to ``HEAD``, or refuse it (newer, foreign, not a database)."""
    revision, wal = _probe(engines)
    if revision == HEAD and wal:
        return
    _refuse_newer(revision, engines)
    with _file_lock(engines):
        if engines.is_sqlite:
            _check_sqlite_file(engines)  # refuse before changing anything, even the journal mode
            _enable_wal(engines)
        with engines.write.begin() as conn:
            if not engines.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            revision = _read_revision(conn)
            if revision == HEAD:
                return
            _refuse_newer(revision, engines)
            if revision is None and engines.is_sqlite:
                _refuse_foreign(conn, engines)
            try:
                _upgrade(conn)
            except (SQLAlchemyError, StorageError):
                raise
            except Exception as exc:  # a migration refusing the data it found: nothing is changed
                raise StorageError(
                    f"cannot upgrade the database {engines.target} from schema revision {revision!r} to "
                    f"{HEAD!r}, it was left as it was: {exc}") from exc


def _probe(engines: Engines) -> tuple[str | None, bool]:
    """The current revision, and whether the journal mode is already right."""
    with engines.read.connect() as conn:
        revision = _read_revision(conn)
        wal = True
        if engines.is_sqlite:
            wal = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() == "wal"
        conn.rollback()
    return revision, wal


def _check_sqlite_file(engines: Engines) -> None:
    with engines.read.connect() as conn:
        revision = _read_revision(conn)
        if revision is None:
            _refuse_foreign(conn, engines)
        conn.rollback()
    _refuse_newer(revision, engines)


def _read_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise StorageError(f"unexpected schema revisions {rows} (branched migrations are not supported)")
    return rows[0] if rows else None


def _alembic_config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _refuse_newer(revision: str | None, engines: Engines) -> None:
    if revision is None or revision == HEAD or revision in known_revisions():
        return
    raise StorageError(
        f"the database {engines.target} has schema revision {revision!r}, created by a newer "
        f"Headwater (this one knows revisions up to {HEAD!r}): upgrade Headwater to open it")


def _refuse_foreign(conn: Connection, engines: Engines) -> None:
    """A SQLite file with tables but no revision belongs to someone else: leave it alone."""
    names = [n for n in inspect(conn).get_table_names() if not n.startswith("sqlite_")]
    if names:
        raise StorageError(
            f"{engines.target} is not a Headwater database (it has tables {', '.join(sorted(names)[:5])} "
            "but no Headwater schema revision)")


def _upgrade(conn: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), HEAD)


def _enable_wal(engines: Engines) -> None:
    """Switch a SQLite file to WAL (persistent). Outside any transaction, as SQLite requires."""
    raw = engines.write.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            if cursor.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                # A new file: let retention give space back page by page (storage/sql/retention.py).
                cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()
    finally:
        raw.close()


@contextlib.contextmanager
def _file_lock(engines: Engines) -> Iterator[None]:
    if not engines.is_sqlite or fcntl is None or engines.path is None:
        yield
        return
    lock_path = engines.path.with_name(engines.path.name + ".lock")
    try:
        handle = open(lock_path, "a+b")  # closed below, after the lock is released
    except OSError as exc:
        raise StorageError(f"cannot create the lock file {lock_path} for the SQLite database: {exc}") from exc
    with handle:
        deadline = time.monotonic() + max(engines.busy_timeout, 1.0)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"another process has been migrating the SQLite database {engines.target} for "
                        f"over {engines.busy_timeout:g}s (lock file {lock_path})") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
