"""Each code location's definitions-as-data, kept on disk and keyed by its source files.

Answering ``headwater status`` for a workspace must not start an interpreter per location
(a few hundred milliseconds each, plus the import of the user's code): the definitions of
a location change only when the files they were read from change. So the data a location's
process reported is written here with the (path, size, mtime) of each of those files and
the location's configuration; a reader that finds every file as it was uses the data as it
is. Anything else (a file edited, added to the imports, removed; another interpreter) makes
the entry stale, and the reader asks the location's process again.

An entry that is stale is still the location's *last good* definitions: the workspace shows
them, with a warning, while the location fails to load.

The API is small on purpose so other readers can share it: ``file_stats``,
``DefinitionsCache.read`` / ``fresh`` / ``write`` / ``forget``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


def file_stats(paths: Iterable[str]) -> list[list[Any]]:
    """``[path, size, mtime_ns]`` per path; a missing file is ``[path, -1, -1]`` (so that its
    appearing later changes the key too)."""
    out: list[list[Any]] = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([p, -1, -1])
    return out


def files_unchanged(stats: Sequence[Sequence[Any]]) -> bool:
    for path, size, mtime in stats:
        try:
            st = os.stat(path)
        except OSError:
            if size != -1:
                return False
            continue
        if st.st_size != size or st.st_mtime_ns != mtime:
            return False
    return True


@dataclass(frozen=True)
class CachedDefinitions:
    """One location's definitions as data, the files they came from and when they were read."""

    identity: str
    files: list[list[Any]]
    data: dict[str, Any]
    written_at: float

    def unchanged(self, identity: str) -> bool:
        return self.identity == identity and files_unchanged(self.files)


class DefinitionsCache:
    """A folder with one JSON file per location (``<name>.json``), written atomically."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def read(self, name: str) -> CachedDefinitions | None:
        """The last definitions stored for ``name``, fresh or not; None when there are none
        (or the entry cannot be read: it is only a cache)."""
        try:
            raw = orjson.loads(self._path(name).read_bytes())
            return CachedDefinitions(raw["identity"], raw["files"], raw["data"], raw["written_at"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            return None

    def fresh(self, name: str, identity: str) -> CachedDefinitions | None:
        """The stored definitions of ``name`` if its configuration and every file are as they were."""
        entry = self.read(name)
        return entry if entry is not None and entry.unchanged(identity) else None

    def write(self, name: str, identity: str, files: list[list[Any]], data: dict[str, Any], now: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        body = orjson.dumps({"identity": identity, "files": files, "data": data, "written_at": now})
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(tmp, self._path(name))

    def forget(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
