"""Derived state kept on disk between processes: written whole or not at all, read without
the store.

A snapshot is a cache of something derived from the store (``service/status_snapshot.py``):
the reader decides whether it still holds, from the key written in its first line. Writing
goes to a temporary file renamed over the old one, so a reader sees the previous snapshot
or the next, never half of one, and concurrent writers cost each other nothing but the
work. Any damage (a foreign file, a truncated one, a disk error) reads as "no snapshot":
the caller computes afresh, which is always right.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import orjson


def write_snapshot(path: Path, header: dict[str, object], index: object, rows: Sequence[bytes]) -> bool:
    """``header`` and ``index`` as one JSON line each, then ``rows`` one a line (each a JSON
    document without a raw line break, as orjson writes them). False when it could not be
    written (a read-only home, a full disk): a snapshot is never worth failing a read for."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(header) + b"\n" + orjson.dumps(index) + b"\n")
            f.write(b"\n".join(rows))
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def read_header(path: Path) -> tuple[dict[str, object], bytes] | None:
    """The header of the snapshot at ``path`` and the whole file's bytes, or None when there
    is none or it is not one."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    end = data.find(b"\n")
    if end < 0:
        return None
    try:
        header = orjson.loads(data[:end])
    except orjson.JSONDecodeError:
        return None
    return (header, data) if isinstance(header, dict) else None


def read_body(data: bytes, count: int) -> tuple[object, list[bytes]] | None:
    """The index and the ``count`` rows after the header, or None when they do not parse."""
    first = data.find(b"\n")
    second = data.find(b"\n", first + 1)
    if first < 0 or second < 0:
        return None
    try:
        index = orjson.loads(data[first + 1:second])
    except orjson.JSONDecodeError:
        return None
    rows = data[second + 1:].split(b"\n") if count else []
    if len(rows) != count:
        return None
    return index, rows
