"""Turning driver failures into ``StorageError``\\ s that name the database, and riding out
a busy SQLite.

Callers above storage only ever see ``StorageError``: a locked file, a file that is not a
database and an unreachable server are a bad environment, not a bug, and the message
names the file or host so a person can act on it.

Busy SQLite: the busy timeout already makes a connection wait for the lock. A few
situations still return "database is locked" at once (the busy handler is not invoked,
e.g. while another connection recovers the WAL), so those are retried with backoff; once
the busy timeout itself has run out we stop and say who is in the way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError

from headwater.errors import StorageError
from headwater.storage.sql.engines import Engines
from headwater.storage.sql.full_disk import disk_full

T = TypeVar("T")

RETRIES = 4
FIRST_BACKOFF = 0.05
_BUSY = ("database is locked", "database table is locked", "database is busy")


def _driver_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and any(m in _driver_message(exc).lower() for m in _BUSY)


def storage_error(exc: BaseException, engines: Engines) -> StorageError:
    """A message that names the database and says what is wrong with it."""
    message = _driver_message(exc)
    lowered = message.lower()
    if engines.is_sqlite:
        path = engines.target
        if is_busy(exc):
            return StorageError(
                f"the SQLite database {path} is locked: another process holds the write lock and did "
                f"not release it within {engines.busy_timeout:g}s ({message})")
        if "file is not a database" in lowered:
            return StorageError(f"{path} is not a Headwater database ({message})")
        if "malformed" in lowered:
            return StorageError(f"the SQLite database {path} is corrupted ({message})")
        if "database or disk is full" in lowered or ("disk i/o error" in lowered and disk_full(engines)):
            return StorageError(f"the disk holding the SQLite database {path} is full ({message}): free some "
                                "space; reading still works, writing cannot")
        if "unable to open" in lowered:
            return StorageError(f"cannot open the SQLite database {path} ({message})")
        return StorageError(f"SQLite database {path}: {message}")
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or _is_connect_failure(exc):
        return StorageError(f"cannot reach PostgreSQL at {engines.target}: {message}")
    return StorageError(f"PostgreSQL database {engines.target}: {message}")


def _is_connect_failure(exc: BaseException) -> bool:
    text = _driver_message(exc).lower()
    return "connection" in text and ("failed" in text or "refused" in text or "timeout" in text
                                     or "could not" in text or "closed" in text)


def with_retry(engines: Engines, action: Callable[[], T]) -> T:
    """Run ``action`` (one whole transaction), retrying it while SQLite reports busy.

    ``action`` must be safe to run again: it is, because a failed transaction has been
    rolled back before we retry.
    """
    started = time.monotonic()
    delay = FIRST_BACKOFF
    for attempt in range(RETRIES + 1):
        try:
            return action()
        except StatementError as exc:
            out_of_time = time.monotonic() - started >= engines.busy_timeout
            if not is_busy(exc) or attempt == RETRIES or out_of_time:
                raise storage_error(exc, engines) from exc
            time.sleep(delay)
            delay *= 2
        except SQLAlchemyError as exc:
            raise storage_error(exc, engines) from exc
    raise AssertionError("unreachable")  # pragma: no cover
