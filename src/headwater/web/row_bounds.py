"""``headwater status --json`` rows made ``/api/assets`` rows, on their JSON text.

A UI started right after a run (or over an unchanged store) answers its first whole-graph
``/api/assets`` from the rows ``headwater status`` keeps on disk, which the run's process
brought up to date (``service/status_snapshot.py``), instead of decoding the whole store
and deriving every asset's state again (~0.7 s of CPU for 10,000 assets). An API row is a
status row bounded as ``shapes.py`` describes; the two differ only in

* ``stale_root_cause_count``: both list the first ``MAX_ROOTS`` root causes; a status row
  counts them all, an API row has no count and says ``"cut":["stale_root_causes"]`` when
  there were more;
* ``health_reasons``: the API cuts each to ``REASON_CHARS`` (saying so in ``cut``);
* the text, not the values: status rows are orjson's (UTF-8 as it is), ``rows.py`` writes
  ``json.dumps``'s ASCII escapes.

The rows are not parsed. A field is found by its name: JSON text holds ``,"name":`` with a
bare quote only where it is a member's name (a quote inside a string is escaped), and the
fields are in ``reports.status_to_dict``'s order. Before the count only the tags' names can
repeat one, and a tag's value is a string, never a number; between the count and the
reasons, every member's name is Headwater's own.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from headwater.web.rows import MAX_ROOTS, REASON_CHARS, reasons_json

_COUNT = b',"stale_root_cause_count":'
_REASONS = b',"health_reasons":['
_REASONS_END = b'],"freshness":'
_CUT_ROOTS = b',"cut":["stale_root_causes"'


def api_row(row: bytes) -> bytes:
    """The ``/api/assets`` row of a ``status --json`` row; ``ValueError`` when ``row`` is not one."""
    at = row.index(_COUNT)
    start = at + len(_COUNT)
    while not 48 <= row[start] <= 57:  # a tag of that name: the count is a number
        at = row.index(_COUNT, start)
        start = at + len(_COUNT)
    end = row.index(b",", start)
    count = int(row[start:end])
    first = row.index(_REASONS, end) + len(_REASONS)
    last = row.index(_REASONS_END, first)
    reasons = row[first:last]
    cut = _CUT_ROOTS if count > MAX_ROOTS else b',"cut":['
    if len(reasons) > REASON_CHARS:  # else no reason can be longer: each takes at least a byte a character
        text, was_cut = reasons_json(tuple(orjson.loads(b"[" + reasons + b"]")))
        if was_cut:
            reasons = text.encode()
            cut += b',"health_reasons"' if count > MAX_ROOTS else b'"health_reasons"'
    return b"".join((row[:at], row[end:first], reasons, row[last:-1], cut, b"]}"))


def api_body(rows: Iterable[bytes]) -> bytes:
    """``GET /api/assets`` of ``rows`` (``status --json``'s, in order): ``[row,row,...]``."""
    return b"[" + b",".join([api_row(r) for r in rows]) + b"]"
