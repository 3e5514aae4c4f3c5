"""Code versions of seeds too large for dbt to checksum.

dbt checksums a seed's content only up to 1 MiB; past that, the manifest's checksum is the
file's *path* (``{"name": "path", "checksum": "seeds/big.csv"}``), so an edited 10 MB seed
looks unchanged and nothing downstream of it goes stale. Headwater derives those seeds'
code version from their content instead: a SHA-256 streamed in 1 MiB blocks, cached by
(size, mtime) in ``target/.headwater_seeds.json`` so loading a project hashes a large seed
only after it changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE_FILE = ".headwater_seeds.json"
_BLOCK = 1 << 20


class SeedVersions:
    """Content versions of large seeds, cached between loads."""

    def __init__(self, target_dir: Path) -> None:
        self._path = target_dir / CACHE_FILE
        self._cache: dict[str, list] | None = None
        self._dirty = False

    def version(self, csv: Path) -> str | None:
        """``sha256:<hex>`` of the file's content, or None when it cannot be read."""
        try:
            st = csv.stat()
        except OSError:
            return None
        cache = self._load()
        name = str(csv)
        hit = cache.get(name)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return str(hit[2])
        digest = hashlib.sha256()
        try:
            with csv.open("rb") as f:
                while block := f.read(_BLOCK):
                    digest.update(block)
        except OSError:
            return None
        version = "sha256:" + digest.hexdigest()
        cache[name] = [st.st_size, st.st_mtime_ns, version]
        self._dirty = True
        return version

    def save(self) -> None:
        """Write the cache back (best effort: a read-only target folder only costs a re-hash)."""
        if not self._dirty or self._cache is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._cache))
            os.replace(tmp, self._path)
        except OSError:
            pass

    def _load(self) -> dict[str, list]:
        if self._cache is None:
            try:
                data = json.loads(self._path.read_text())
                self._cache = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._cache = {}
        return self._cache


def has_path_checksum(raw: object) -> bool:
    """True when dbt's checksum of a node is its path (a seed over 1 MiB), not its content."""
    checksum = raw.get("checksum") if isinstance(raw, dict) else None
    return isinstance(checksum, dict) and checksum.get("name") == "path"


__all__ = ["SeedVersions", "has_path_checksum"]
