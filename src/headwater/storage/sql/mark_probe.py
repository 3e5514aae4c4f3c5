"""The last event id of a SQLite store, read with the standard library alone.

A process that only needs to know whether anything was written since a snapshot (see
``service/status_snapshot.py``) would otherwise import SQLAlchemy and open the store:
~0.25 s of a command that can answer in well under a second. Two index lookups on a
read-only connection; in WAL mode they see every committed write. The same query as
``SqlEventStore.last_event_id``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_QUERY = "SELECT (SELECT max(id) FROM run_events), (SELECT max(id) FROM asset_events)"


def sqlite_last_event_id(database_url: str) -> int | None:
    """The store's last event id, or None when this is not a SQLite file that holds a
    Headwater store (the caller then opens the store the usual way)."""
    if not database_url.startswith("sqlite:///"):
        return None
    path = database_url[len("sqlite:///"):]
    if not path or path == ":memory:" or not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(_QUERY).fetchone()
    except sqlite3.Error:  # no such table: not (yet) a Headwater store
        return None
    finally:
        conn.close()
    return max(v or 0 for v in row)
