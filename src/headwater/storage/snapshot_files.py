"""Derived state kept on disk between processes: written whole or not at all, read without
the store.

A snapshot is a cache of something derived from the store (``service/status_snapshot.py``):
the reader decides whether it still holds, from the key in its first line. Its layout: a
header line (JSON), an index line (JSON), then a body of bytes the reader may never need to
look at, or may copy to its output as it is (``copy_body``: the kernel copies, no Python
object is made of it). Writing goes to a temporary file renamed over the old one, so a
reader sees the previous snapshot or the next, never half of one (an open one stays whole
while it is replaced), and concurrent writers cost each other nothing but the work. Any
damage (a foreign file, a truncated one, a disk error) reads as "no snapshot": the caller
computes afresh, which is always right.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson


def write_snapshot(path: Path, header: dict[str, Any], index: Any, body: Sequence[bytes]) -> bool:
    """``body`` in pieces, written one after the other (never joined: a graph's rows are tens
    of MB). False when it could not be written (a read-only home, a full disk): a snapshot is
    never worth failing a read for."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            size = sum(len(piece) for piece in body)
            f.write(orjson.dumps({**header, "body_size": size}) + b"\n" + orjson.dumps(index) + b"\n")
            f.writelines(body)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


class SnapshotDraft:
    """A snapshot whose body is written piece by piece before its index is known (rows derived
    and written one at a time: the index says where each begins). The body goes to an
    unnamed temporary file; ``finish`` writes header and index to the real temporary file,
    the body after them (copied by the kernel, never through Python), and renames it into
    place. So a body of hundreds of MB is never in memory, and the layout is ``write_snapshot``'s
    byte for byte. Raises ``OSError`` when the disk refuses: the caller decides what then."""

    def __init__(self, folder: Path | None) -> None:
        """``folder``: where the snapshot will be kept; None for one that is only read back
        by this process (the system's temporary folder)."""
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        self._body = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed by finish/discard)
        self.size = 0

    def write(self, piece: bytes) -> None:
        self._body.write(piece)
        self.size += len(piece)

    def finish(self, path: Path | None, header: dict[str, Any], index: Any) -> OpenSnapshot:
        """The snapshot, open for reading; kept at ``path`` when given, else unnamed (gone
        when closed)."""
        body = self._body
        try:
            body.flush()
            fd, tmp = tempfile.mkstemp(prefix=(path.name if path else "snapshot") + ".", suffix=".tmp",
                                       dir=path.parent if path else self._folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(orjson.dumps({**header, "body_size": self.size}) + b"\n")
                    _write_json(f, index)
                    f.write(b"\n")
                    f.flush()
                    _copy(body.fileno(), f.fileno(), self.size)
                    at = f.tell()
                found = open_snapshot(Path(tmp))
                if found is None:
                    raise OSError(f"{tmp}: the snapshot just written does not read back")
                found.known(index, at - self.size)  # not parsed back: a big graph's index is 100 MB as objects
                if path is not None:
                    os.replace(tmp, path)
                else:
                    os.unlink(tmp)
                return found
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        finally:
            body.close()

    def copy_from(self, snapshot: OpenSnapshot, start: int, end: int) -> None:
        """Bytes ``start`` to ``end`` of ``snapshot``'s body appended, copied by the kernel:
        rows kept from a previous snapshot never pass through Python."""
        self._body.flush()
        snapshot.copy_range(start, end, self._body.fileno())
        self._body.seek(0, os.SEEK_END)
        self.size += end - start

    def discard(self) -> None:
        self._body.close()


def _write_json(f: IO[bytes], value: Any, chunk: int = 5000) -> None:
    """``orjson.dumps(value)`` to ``f``, a list's long lists (a big graph's summaries) a few
    thousand items at a time: the same bytes (compact JSON joins items with a bare comma)
    without the whole text in memory."""
    if not isinstance(value, list):
        f.write(orjson.dumps(value))
        return
    f.write(b"[")
    for n, item in enumerate(value):
        if n:
            f.write(b",")
        if isinstance(item, list) and len(item) > chunk:
            f.write(b"[")
            for at in range(0, len(item), chunk):
                f.write((b"," if at else b"") + orjson.dumps(item[at:at + chunk])[1:-1])
            f.write(b"]")
        else:
            f.write(orjson.dumps(item))
    f.write(b"]")


def _copy(source: int, target: int, size: int, start: int = 0) -> None:
    """``size`` bytes of ``source`` from ``start`` to the end of ``target``, in the kernel
    where it can (``copy_file_range``), else through a small buffer."""
    offset, size = start, start + size
    try:
        while offset < size:
            sent = os.copy_file_range(source, target, size - offset, offset)
            if sent == 0:
                break
            offset += sent
    except OSError:
        if offset != start:
            raise
    while offset < size:
        chunk = os.pread(source, min(1 << 20, size - offset), offset)
        if not chunk:
            raise OSError("the snapshot's body is shorter than written")
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view):]
        offset += len(chunk)


def prune(folder: Path, pattern: str, keep: int) -> None:
    """Remove all but the ``keep`` newest files matching ``pattern`` (and temporary files of
    writers that died, once an hour old): a snapshot per definitions version would
    otherwise pile up, tens of MB each for a big graph. A reader holding one open keeps
    reading it (the file goes when it closes)."""
    import time

    try:
        found = [(f.stat().st_mtime, f) for f in folder.glob(pattern)]
        stale_tmp = [f for f in folder.glob("*.tmp") if f.stat().st_mtime < time.time() - 3600]
    except OSError:
        return
    found.sort(reverse=True)
    for _, f in found[keep:]:
        f.unlink(missing_ok=True)
    for f in stale_tmp:
        f.unlink(missing_ok=True)


class OpenSnapshot:
    """A snapshot file opened for reading: its header, its index on demand, its body."""

    def __init__(self, file: IO[bytes], header: dict[str, Any]) -> None:
        self._file = file
        self.header = header
        self._index: Any = None
        self._body_at: int | None = None

    def known(self, index: Any, body_at: int) -> None:
        """The index its writer holds, and where the body begins: ``index`` is never read back."""
        self._index = index
        self._body_at = body_at

    def index(self) -> Any:
        """The index line, parsed; raises ``ValueError`` when it does not parse."""
        if self._body_at is None:
            self._index = orjson.loads(self._file.readline())
            self._body_at = self._file.tell()
            size = os.fstat(self._file.fileno()).st_size - self._body_at
            if size != self.header.get("body_size"):
                raise ValueError("truncated snapshot")
        return self._index

    def body(self) -> bytes:
        self.index()
        self._file.seek(self._body_at)  # type: ignore[arg-type]
        return self._file.read()

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` of the body."""
        self.index()
        if not 0 <= start <= end <= self.header["body_size"]:
            raise ValueError("a range outside the snapshot's body")
        return os.pread(self._file.fileno(), end - start, self._body_at + start)  # type: ignore[operator]

    def copy_range(self, start: int, end: int, target: int) -> None:
        """Bytes ``start`` to ``end`` of the body to the end of file ``target``."""
        self.index()
        if not 0 <= start <= end <= self.header["body_size"]:
            raise ValueError("a range outside the snapshot's body")
        _copy(self._file.fileno(), target, end - start, self._body_at + start)  # type: ignore[operator]

    def copy_body(self, out: IO[bytes]) -> None:
        """The body to ``out`` (flushed first); by the kernel when ``out`` is a real file or pipe."""
        self.index()
        out.flush()
        try:
            fd = out.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):  # a test's captured stream
            out.write(self.body())
            return
        offset, left = self._body_at, self.header["body_size"]
        try:
            while left > 0:
                sent = os.sendfile(fd, self._file.fileno(), offset, left)
                if sent == 0:
                    break
                offset += sent  # type: ignore[operator]
                left -= sent
        except BrokenPipeError:  # the reader left: as any write to it would say
            raise
        except OSError:  # no sendfile between these two: copy through memory
            if offset != self._body_at:
                raise
            out.write(self.body())

    def close(self) -> None:
        self._file.close()


def open_snapshot(path: Path) -> OpenSnapshot | None:
    """The snapshot at ``path`` with its header read, or None when there is none or it is
    not one."""
    try:
        file = open(path, "rb")  # noqa: SIM115 (handed over to OpenSnapshot)
    except OSError:
        return None
    try:
        header = orjson.loads(file.readline())
    except (OSError, orjson.JSONDecodeError):
        file.close()
        return None
    if not isinstance(header, dict) or not isinstance(header.get("body_size"), int):
        file.close()
        return None
    return OpenSnapshot(file, header)
