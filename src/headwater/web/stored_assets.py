"""``GET /api/assets`` of the whole graph kept on disk, so a restarted UI answers it at once.

A UI just started over a 10,000-asset store used to compute the whole graph's health
(opening the store, decoding every latest fact: ~0.5 s of CPU) and write 20 MB of rows
before its first ``/api/assets`` could answer. Between two starts nothing usually changed.
So the UI keeps the body of its last whole-graph answer under ``<home>/ui-cache/``, and a
new process serves it while its own first snapshot is computed in the background.

It is kept and served under the same conditions as ``headwater status``'s stored rows
(``service/status_snapshot.py``, whose public functions decide them): the definitions are
snapshot material (``eligible``: no partitioned asset, one location) with no freshness policy,
the body was written with no run in progress, and it is served only while the store's last
event id and the definitions' fingerprint are the ones it was computed at. The fingerprint
covers Headwater's code that derives the state; ``_CODE`` adds the web's own row writer.
Anything else (a missing, damaged or older file) is simply not served: the request waits
for the computed snapshot, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from headwater.service import status_snapshot

FORMAT = 1
STALE_TMP = 60.0  # seconds: an older half-written file was left by a UI stopped while writing it
KEEP = 3  # bodies of the newest definitions versions kept (each tens of MB at 10,000 assets)
_WEB = Path(__file__).resolve().parent
_CODE = ("rows.py", "shapes.py", "state.py", "stored_assets.py")


def _code_stamp() -> str:
    stamps = []
    for name in _CODE:
        try:
            st = (_WEB / name).stat()
        except OSError:
            continue
        stamps.append(f"{name}:{st.st_mtime_ns}:{st.st_size}")
    return ";".join(stamps)


class StoredAssets:
    """The stored body of one UI's definitions: read when asked (once), written after a
    snapshot that qualifies."""

    def __init__(self, instance: Any, defs: Any, folder: Path) -> None:
        self._instance = instance
        self._defs = defs
        self._folder = folder
        self._key: str | None = None
        self._eligible: bool | None = None
        self._loaded: tuple[int, float, bytes] | None = None  # mark, taken_at, body
        self._tried = False
        self._written_mark: int | None = None
        self._lock = threading.Lock()

    def _ready(self) -> bool:
        if self._eligible is None:
            graph = self._defs.graph
            # a body written earlier holds freshness as it was then: projects with policies
            # (whose status snapshot re-evaluates them at read time) are not served from it
            self._eligible = status_snapshot.eligible(self._defs) and all(
                graph.spec(k).freshness is None for k in graph.keys)
            if self._eligible:
                digest = hashlib.blake2b(digest_size=12)
                digest.update(f"ui-assets-{FORMAT}\n{_code_stamp()}\n{status_snapshot.fingerprint(self._defs)}".encode())
                self._key = digest.hexdigest()
        return self._eligible

    def _path(self) -> Path:
        return self._folder / f"assets-{self._key}.json"

    def body(self) -> tuple[bytes, float] | None:
        """The stored body and when its state was taken, while the store has not moved since."""
        with self._lock:
            if not self._tried:
                self._tried = True
                self._loaded = self._read() if self._ready() else None
            loaded = self._loaded
        if loaded is None:
            return None
        mark, taken_at, body = loaded
        try:
            if not status_snapshot.holds_since(self._instance, mark):
                self._loaded = None  # written to since: never again in this process
                return None
        except Exception:  # noqa: BLE001 - the store cannot say: not served (the computed path reports it)
            return None
        return body, taken_at

    def _read(self) -> tuple[int, float, bytes] | None:
        try:
            data = self._path().read_bytes()
            end = data.index(b"\n")
            header = json.loads(data[:end])
            if header.get("format") == FORMAT and header.get("key") == self._key:
                return int(header["mark"]), float(header["taken_at"]), data[end + 1:]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def keep(self, snapshot: Any, body: bytes) -> None:
        """Store ``body`` (the whole graph's ``/api/assets`` of ``snapshot``) when it qualifies;
        once per store mark. Called after a response was sent or from the background refresh."""
        if snapshot.mark is None or snapshot.mark == self._written_mark or not self._ready():
            return
        from headwater.core.events import RunStatus

        try:
            if self._instance.store.list_runs(limit=1, statuses=[RunStatus.STARTED]):
                return  # a run in progress: its state moves without an event if its process died
            self._folder.mkdir(parents=True, exist_ok=True)
            for left in self._folder.glob("assets-*.tmp"):  # a UI stopped while writing
                if time.time() - left.stat().st_mtime > STALE_TMP:
                    left.unlink(missing_ok=True)
            header = json.dumps({"format": FORMAT, "key": self._key, "mark": snapshot.mark,
                                 "taken_at": snapshot.taken_at, "pid": os.getpid()}).encode()
            tmp = self._path().with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as f:
                f.write(header + b"\n")
                f.write(body)
            tmp.replace(self._path())
            self._written_mark = snapshot.mark
            kept = sorted(self._folder.glob("assets-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[KEEP:]:
                old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or full home: the next start computes, as before
