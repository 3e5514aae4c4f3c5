"""Leases: which process may act as the one daemon of a store, until when.

A lease is infrastructure, not a fact, so it is the one thing in the store that changes
with no event explaining it (docs/design.md §3 otherwise forbids that):

* it says who may act *now*, not what happened: once expired it means nothing, and no
  status, history or explanation is ever derived from it;
* it is renewed every few seconds for as long as a daemon lives, which as events would
  bury the operational log under renewals that nobody will ever read;
* losing it is harmless — a crashed holder's lease simply runs out and another takes it.

What a daemon *did* while holding it is recorded as events (ticks, queued runs).

Atomic across processes: the read ("who holds it, until when?") and the write happen in one
transaction under the store's write lock (``BEGIN IMMEDIATE`` on SQLite, the writers'
advisory lock on PostgreSQL), so two processes racing for a free lease cannot both win.
Times are the caller's (``now``), like everywhere else: the store never reads the clock.
"""

from __future__ import annotations

import math

from sqlalchemy import Connection, select

from headwater.errors import StorageError
from headwater.storage.sql.tables import leases
from headwater.storage.sql.writer import take_write_lock


def check_lease_args(name: str, owner: str, ttl: float | None = None, now: float | None = None) -> None:
    """Refuse a bad request before touching the database, naming the lease."""
    if not isinstance(name, str) or not name:
        raise StorageError(f"a lease needs a name, got {name!r}")
    if not isinstance(owner, str) or not owner:
        raise StorageError(f"lease {name!r}: the owner must be a non-empty string, got {owner!r}")
    if ttl is not None and not (isinstance(ttl, (int, float)) and math.isfinite(ttl) and ttl > 0):
        raise StorageError(f"lease {name!r}: the ttl must be a positive number of seconds, got {ttl!r}")
    if now is not None and not (isinstance(now, (int, float)) and math.isfinite(now)):
        raise StorageError(f"lease {name!r}: now must be a time in POSIX seconds, got {now!r}")


def acquire(conn: Connection, name: str, owner: str, ttl: float, now: float) -> bool:
    """Take ``name`` if it is free or expired (``expires_at <= now``), renew it if ``owner``
    holds it; either way it then runs until ``now + ttl``. False while another owner holds it."""
    take_write_lock(conn)
    c = leases.c
    held = conn.execute(select(c.owner, c.expires_at).where(c.name == name)).first()
    until = float(now) + float(ttl)
    if held is None:
        conn.execute(leases.insert().values(name=name, owner=owner, expires_at=until))
        return True
    if held.owner != owner and held.expires_at > now:
        return False
    conn.execute(leases.update().where(c.name == name).values(owner=owner, expires_at=until))
    return True


# PostgreSQL: the same decision as ``acquire`` in one statement, atomic without the writers'
# lock (``ON CONFLICT DO UPDATE`` locks the row; a racing insert waits for it, then sees the
# winner's row and its WHERE). A row comes back when ``owner`` holds the lease afterwards.
# A Dask step takes and gives up a lease per step: two statements, one trip each.
PG_ACQUIRE = ('INSERT INTO leases (name, owner, expires_at) VALUES (%s, %s, %s) '
              'ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at '
              'WHERE leases.owner = excluded.owner OR leases.expires_at <= %s RETURNING 1')
PG_RELEASE = "DELETE FROM leases WHERE name = %s AND owner = %s"


def release(conn: Connection, name: str, owner: str) -> None:
    """Give ``name`` up if ``owner`` holds it; someone else's lease is left alone."""
    take_write_lock(conn)
    conn.execute(leases.delete().where(leases.c.name == name, leases.c.owner == owner))


def holder(conn: Connection, name: str) -> tuple[str, float] | None:
    """Who holds ``name`` and until when (expired or not), or None if nobody ever took it
    or it was released: what a coordinator reads to tell a step's worker is gone."""
    c = leases.c
    row = conn.execute(select(c.owner, c.expires_at).where(c.name == name)).first()
    return None if row is None else (row.owner, float(row.expires_at))


def held(conn: Connection, prefix: str) -> dict[str, tuple[str, float]]:
    """Every lease whose name starts with ``prefix``: name -> (owner, expires_at), expired or not."""
    c = leases.c
    rows = conn.execute(select(c.name, c.owner, c.expires_at).where(c.name.startswith(prefix, autoescape=True)))
    return {row.name: (row.owner, float(row.expires_at)) for row in rows}
