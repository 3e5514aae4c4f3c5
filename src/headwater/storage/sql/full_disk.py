"""Reading a SQLite store whose disk is full (issue 17: even ``status`` failed with "disk
I/O error" on a 100% full disk).

In WAL mode every connection needs the ``-shm`` index (and a ``-wal`` file) next to the
database; they are removed when the last connection closes, so on a full disk the next
reader cannot create them and SQLite refuses even a read. SQLite's ``immutable=1`` opens
the file without them (no locks, no shared memory): it reads what the database file holds,
i.e. everything checkpointed — on a full disk nothing can be writing anyway, and the last
connection's close checkpointed the WAL before removing it.

So when opening a store fails that way, the store is opened for reading only; a write
then fails with a message that says the disk is full.
"""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from urllib.parse import quote

from sqlalchemy import create_engine, text

from headwater.storage.sql.engines import Engines

_IO_FAILURES = ("disk i/o error", "unable to open database file", "database or disk is full")


def is_io_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (a StorageError, or what caused it) is SQLite failing on the file system."""
    seen = exc
    while seen is not None:
        if any(m in str(seen).lower() for m in _IO_FAILURES):
            return True
        seen = seen.__cause__ or getattr(seen, "orig", None)
        if seen is exc:
            break
    return False


def disk_full(engines: Engines) -> bool:
    """Whether the file system of the SQLite file has no room left (for the error message)."""
    if engines.path is None:
        return False
    try:
        stats = os.statvfs(engines.path.parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024


def read_only_engines(engines: Engines) -> Engines | None:
    """The same store with an immutable read engine, if the file can be read that way."""
    if not engines.is_sqlite or engines.path is None or not engines.path.exists():
        return None
    url = f"sqlite+pysqlite:///file:{quote(str(engines.path))}?immutable=1&uri=true"
    read = create_engine(url, connect_args={"check_same_thread": False})
    try:
        with read.connect() as conn:
            conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
    except Exception:  # noqa: BLE001 - the file itself cannot be read: the original error stands
        read.dispose()
        return None
    return replace(engines, read=read)


def full_message(engines: Engines) -> str:
    return (f"the disk holding the SQLite database {engines.target} is full "
            f"({os.strerror(errno.ENOSPC)}): free some space; reading still works, writing cannot")


def current_revision(engines: Engines) -> str | None:
    with engines.read.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:  # noqa: BLE001 - no schema table: not ours, or never migrated
            return None
