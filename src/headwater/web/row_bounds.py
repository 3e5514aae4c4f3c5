"""``headwater status --json`` rows made ``/api/assets`` rows, on their JSON text.

A UI started right after a run (or over an unchanged store) answers its first whole-graph
``/api/assets`` from the rows ``headwater status`` keeps on disk, which the run's process
brought up to date (``service/status_snapshot.py``), instead of decoding the whole store
and deriving every asset's state again (~0.7 s of CPU for 10,000 assets). An API row is a
status row bounded as ``shapes.py`` describes; the two differ only in

* ``stale_root_cause_count``: both list the first ``MAX_ROOTS`` root causes (and the same
  direct causes, with their count); a status row counts the root causes, an API row has no
  count and says ``"cut":["stale_root_causes"]`` when there were more;
* ``health_reasons``: the API cuts each to ``REASON_CHARS`` (saying so in ``cut``);
* the text, not the values: status rows are orjson's (UTF-8 as it is), ``rows.py`` writes
  ``json.dumps``'s ASCII escapes.

The rows are not parsed, nor copied before the answer is joined (20 MB for 10,000 assets):
a field is found by its name in the stored document. JSON text holds ``,"name":`` with a
bare quote only where it is a member's name (a quote inside a string is escaped), and the
fields are in ``reports.status_to_dict``'s order. Before the count only the tags' names can
repeat one, and a tag's value is a string (``@asset`` checks it), while the count follows
a list (the root causes) and is a number; between the count and the reasons, every
member's name is Headwater's own.
"""

from __future__ import annotations

from typing import Any

import orjson

from headwater.gc_pause import paused_gc
from headwater.reports import health_fields
from headwater.web.rows import MAX_ROOTS, REASON_CHARS, reasons_json

_COUNT = b'],"stale_root_cause_count":'
_REASONS = b',"health_reasons":['
_REASONS_END = b'],"freshness":'
_CUT = b',"cut":['
_CUT_ROOTS = b',"cut":["stale_root_causes"'


def _pieces(doc: bytes, view: memoryview, start: int, end: int, out: list[Any]) -> None:
    """Append to ``out`` the pieces of the API row of the status row ``doc[start:end]``;
    ``ValueError`` when it is not one."""
    at = doc.index(_COUNT, start, end) + 1  # the comma: the count follows the root causes' list
    digits = at + len(_COUNT) - 1
    while not 48 <= doc[digits] <= 57:  # a tag of that name (whose value is a string, not a list)
        at = doc.index(_COUNT, digits, end) + 1
        digits = at + len(_COUNT) - 1
    after = doc.index(b",", digits, end)
    many = int(doc[digits:after]) > MAX_ROOTS
    first = doc.index(_REASONS, after, end) + len(_REASONS)
    last = doc.index(_REASONS_END, first, end)
    reasons: Any = view[first:last]
    cut = _CUT_ROOTS if many else _CUT
    if last - first > REASON_CHARS:  # else no reason can be longer: each takes at least a byte a character
        bounded = _bounded_reasons(doc[first:last])
        if bounded is not None:
            reasons = bounded
            cut += b',"health_reasons"' if many else b'"health_reasons"'
    out += (view[start:at], view[after:first], reasons, view[last:end - 1], cut, b"]}")


def _clock_bound_pieces(stored: bytes, timed: Any, out: list[Any]) -> None:
    """Append to ``out`` the pieces of the API row of a row stored without its clock-bound
    fields (``status_rows._split``: a NUL in their place, after the count), given those fields
    as evaluated now (``timed``): as ``_pieces`` of the completed row, without completing it
    first nor searching and cutting the reasons again in its text (they are at hand)."""
    head, gap, tail = stored.partition(b"\x00")
    if not gap:
        raise ValueError("a row stored with its clock-bound fields")
    end = len(head)
    at = head.index(_COUNT) + 1
    digits = at + len(_COUNT) - 1
    while not 48 <= head[digits] <= 57:  # a tag of that name (whose value is a string, not a list)
        at = head.index(_COUNT, digits, end) + 1
        digits = at + len(_COUNT) - 1
    after = head.find(b",", digits)
    if after < 0:  # the count ends the stored fields
        after = end
    many = int(head[digits:after]) > MAX_ROOTS
    fields = orjson.dumps(health_fields(*timed))  # {"health":..,"health_reasons":[..],"freshness":..,..}
    first = fields.index(_REASONS[1:]) + len(_REASONS) - 1
    last = fields.index(_REASONS_END, first)
    reasons: Any = memoryview(fields)[first:last]
    cut = _CUT_ROOTS if many else _CUT
    if any(len(r) > REASON_CHARS for r in timed[1]):
        reasons = reasons_json(tuple(timed[1]))[0].encode()
        cut += b',"health_reasons"' if many else b'"health_reasons"'
    out += (head[:at], head[after:], b",", memoryview(fields)[1:first], reasons, memoryview(fields)[last:-1],
            tail[:-1], cut, b"]}")


def _bounded_reasons(text: bytes) -> bytes | None:
    """The reasons (JSON strings, comma-separated) with each cut to ``REASON_CHARS`` as
    ``rows.reasons_json`` cuts them; None when none is longer. Plain ASCII without an escape
    (the usual: keys, versions, run ids) is cut as bytes, where a byte is a character and
    ``","`` only ever separates two reasons; anything else is decoded."""
    if text.isascii() and b"\\" not in text:
        parts = text[1:-1].split(b'","')
        if all(len(p) <= REASON_CHARS for p in parts):
            return None
        return b'"' + b'","'.join([p if len(p) <= REASON_CHARS else
                                   p[:REASON_CHARS] + b"\\u2026 (%d characters)" % len(p) for p in parts]) + b'"'
    written, was_cut = reasons_json(tuple(orjson.loads(b"[" + text + b"]")))
    return written.encode() if was_cut else None


def api_row(row: bytes) -> bytes:
    """The ``/api/assets`` row of a ``status --json`` row; ``ValueError`` when it is not one."""
    out: list[Any] = []
    _pieces(row, memoryview(row), 0, len(row), out)
    return b"".join(out)


def api_body(found: Any) -> bytes:
    """``GET /api/assets`` (``[row,row,...]``) of every row of ``found`` (a
    ``status_snapshot.StatusRows``, in order)."""
    stored = found.stored_document()
    if stored is None:
        rows = [api_row(r) for r in found.rows()]
        return b"[" + b",".join(rows) + b"]"
    doc, starts, timed = stored
    if len(starts) < 2:
        return b"[]"
    view = memoryview(doc)
    out: list[Any] = [b"["]
    with paused_gc():  # ~70,000 pieces kept until joined: collections would only rescan them
        for i in range(len(starts) - 1):
            start, end = starts[i], starts[i + 1] - 2
            if i in timed:
                _clock_bound_pieces(doc[start:end], found.clock_bound(i), out)
            else:
                _pieces(doc, view, start, end, out)
            out.append(b",")
    out[-1] = b"]"
    return b"".join(out)
