"""The rows of ``headwater status --json``, one JSON text each, and the document they make.

Kept apart from ``status_snapshot`` (which decides when stored rows hold and keeps them
current) because the UI and the CLI read rows without caring where they came from. A row
of an asset with a freshness policy is stored with a NUL byte where its clock-bound fields
go; ``StatusRows`` puts them back, evaluated at the reader's ``now``.
"""

from __future__ import annotations

from typing import IO, Any

from headwater.storage.snapshot_files import OpenSnapshot


class StatusRows:
    """Every asset's ``status`` row, upstream first: ``summaries[i]`` (``reports.row_summary``)
    beside ``rows()[i]``, the row as JSON; ``write_document`` writes ``status --json``'s whole
    answer. Read back from a snapshot, the rows stay on disk until asked for."""

    def __init__(self, summaries: list[list[Any]], rows: list[bytes] | None = None,
                 stored: OpenSnapshot | None = None, starts: list[int] | None = None,
                 timed: dict[int, _Timed] | None = None, from_snapshot: bool | None = None) -> None:
        self.summaries = summaries
        self._rows = rows
        self._stored = stored
        self._starts = starts  # where each row begins in a stored document, and where it ends
        self._timed = timed or {}  # stored rows whose clock-bound fields are evaluated now, by position
        self.as_of: float | None = None  # read back: the time its freshness was evaluated at (the state holds then)
        # read back from a snapshot another read stored (computed rows are read back from their file too)
        self.from_snapshot = stored is not None if from_snapshot is None else from_snapshot

    def rows(self) -> list[bytes]:
        if self._rows is None:
            assert self._stored is not None
            rows = document_rows(self._stored.body())
            if self._timed:
                import orjson

                from headwater.reports import health_fields

                for i, timed in self._timed.items():
                    rows[i] = _completed(rows[i], timed, orjson.dumps, health_fields)
            self._rows = rows
            self._stored.close()  # every row is in memory now: the file has nothing left to give
        return self._rows

    def picked(self, positions: list[int]) -> list[bytes]:
        """The rows at ``positions`` (ascending); read back from a snapshot, only the stretch
        of it that holds them (the first 50 rows of 10,000 are a few hundred KB, not 25 MB)."""
        if self._rows is not None or self._starts is None or not positions:
            rows = self.rows() if positions else []
            return [rows[i] for i in positions]
        assert self._stored is not None
        starts = self._starts
        base = starts[positions[0]]
        stretch = self._stored.read_range(base, starts[positions[-1] + 1] - 2)
        timed = self._timed
        return [_completed(stretch[starts[i] - base:starts[i + 1] - 2 - base], timed[i]) if i in timed
                else stretch[starts[i] - base:starts[i + 1] - 2 - base] for i in positions]

    def stored_document(self) -> tuple[bytes, list[int], set[int]] | None:
        """Read back from a snapshot (and no row asked for yet): the stored document, where
        each row begins in it (``starts_of``), and the positions of the rows stored without
        their clock-bound fields (``completed`` puts them back); None when computed. For a
        reader that rewrites every row anyway (the web's bounded rows): no row is copied first."""
        if self._stored is None or self._rows is not None or self._starts is None:
            return None
        return self._stored.body(), self._starts, set(self._timed)

    def completed(self, position: int, stored: bytes) -> bytes:
        """The row at ``position`` as stored, with its clock-bound fields (evaluated when
        read back) in their place."""
        return _completed(stored, self._timed[position])

    def clock_bound(self, position: int) -> _Timed:
        """The clock-bound fields of the row at ``position`` as evaluated when read back (health,
        reasons, freshness: ``reports.health_fields``), for a reader that rewrites the row anyway."""
        return self._timed[position]

    def write_document(self, out: IO[bytes]) -> None:
        """The JSON array of every row, one a line (``document_pieces``), to ``out``: a few MB
        at a time, never the whole document (nor, read back from a file, every row) at once."""
        if self._stored is not None and self._rows is None and not self._timed:
            self._stored.copy_body(out)
        elif self._rows is None and self._starts is not None:
            count = len(self._starts) - 1
            if not count:
                out.write(b"[]\n")
                return
            for at in range(0, count, _STRETCH):
                rows = self.picked(list(range(at, min(at + _STRETCH, count))))
                out.write((b"[\n" if at == 0 else b",\n") + b",\n".join(rows))
            out.write(b"\n]\n")
        else:
            pieces = document_pieces(self.rows())
            for at in range(0, len(pieces), 4000):
                out.write(b"".join(pieces[at:at + 4000]))

    def close(self) -> None:
        if self._stored is not None:
            self._stored.close()


_STRETCH = 2000  # rows read back, completed and written at a time (a few MB)
_Timed = tuple[str, tuple[str, ...], Any]  # health, reasons, FreshnessStatus: evaluated now
_GAP = b"\x00"  # where a stored row's clock-bound fields go (JSON text never holds a raw NUL)


def _completed(stored: bytes, timed: _Timed, _dumps: Any = None, _fields: Any = None) -> bytes:
    """A stored row with its clock-bound fields put back, as ``orjson.dumps`` of the whole
    row would write them: the fields are compact JSON members, in their place."""
    if _dumps is None:
        import orjson

        from headwater.reports import health_fields

        _dumps, _fields = orjson.dumps, health_fields
    head, _, tail = stored.partition(_GAP)
    return head + b"," + _dumps(_fields(*timed))[1:-1] + tail


def _split(row: dict[str, Any]) -> bytes:
    """``row`` as stored when its clock-bound fields are evaluated by the reader: without
    them, a NUL in their place (before ``checks``, the last field)."""
    import orjson

    from headwater.reports import HEALTH_FIELDS

    fixed = {k: v for k, v in row.items() if k not in HEALTH_FIELDS and k != "checks"}
    return (orjson.dumps(fixed)[:-1] + _GAP + b',"checks":' + orjson.dumps(row["checks"]) + b"}")


def document_pieces(rows: list[bytes]) -> list[bytes]:
    """A JSON array of ``rows`` with one row a line (what ``status --json`` prints), in pieces
    for writing without joining them first."""
    if not rows:
        return [b"[]\n"]
    pieces = [b"[\n"]
    for row in rows:
        pieces.append(row)
        pieces.append(b",\n")
    pieces[-1] = b"\n]\n"
    return pieces


def starts_of(rows: list[bytes]) -> list[int]:
    """Where each row begins in the joined ``document_pieces(rows)``, and where a next one would: row ``i``
    is ``joined[starts[i]:starts[i + 1] - 2]``."""
    starts = [2]
    at = 2
    for row in rows:
        at += len(row) + 2
        starts.append(at)
    return starts


class DocumentWriter:
    """``document_pieces`` of rows handed in one at a time, to ``write`` about a MB at a
    time, and ``starts`` (``starts_of``) kept meanwhile: a document of any size, never held
    whole."""

    __slots__ = ("_write", "starts", "_at", "_pending", "_flush_at")

    def __init__(self, write: Any) -> None:
        self._write = write
        self.starts = [2]
        self._at = 2
        self._pending = [b"["]  # each row goes with the break before it: "\n" first, then ",\n"
        self._flush_at = _FLUSH

    def add(self, row: bytes) -> None:
        self._pending.append(b",\n" if len(self.starts) > 1 else b"\n")
        self._pending.append(row)
        self._at += len(row) + 2
        self.starts.append(self._at)
        if self._at >= self._flush_at:
            self._write(b"".join(self._pending))
            self._pending.clear()
            self._flush_at = self._at + _FLUSH

    def add_copied(self, sizes: list[int], copy: Any) -> None:
        """Rows of ``sizes`` bytes, joined by the document's ``,\\n``, that ``copy()`` appends to
        the document itself (``SnapshotDraft.copy_from``: a previous snapshot's stretch of rows)."""
        self._pending.append(b",\n" if len(self.starts) > 1 else b"\n")
        self._write(b"".join(self._pending))
        self._pending.clear()
        copy()
        at, starts = self._at, self.starts
        for size in sizes:
            at += size + 2
            starts.append(at)
        self._at = at
        self._flush_at = at + _FLUSH

    def close(self) -> None:
        self._pending.append(b"]\n" if len(self.starts) == 1 else b"\n]\n")
        self._write(b"".join(self._pending))
        self._pending.clear()


_FLUSH = 1 << 20


def document_rows(body: bytes) -> list[bytes]:
    """The rows of a stored document again: a row never holds a raw line break (JSON escapes it)."""
    inner = body[2:-3]
    return inner.split(b",\n") if inner else []


__all__ = ["DocumentWriter", "StatusRows", "document_pieces", "starts_of"]
