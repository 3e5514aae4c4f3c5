"""The partition strip: every partition of an asset as one cell, coloured and patterned by its
state, laid out on the server and written as one compact SVG.

One dimension (days, regions, customers) flows left to right and wraps like text; several
dimensions make a heat-map whose columns are the time dimension (else the first) and whose
rows are the keys of the others (``eu``, ``us``, ``apac``). Up to ``MAX_CELLS`` cells are
one per partition, each a link to the partition's page with its state and reason as its
title. Past that, columns are aggregated into natural buckets (a time dimension by day, week,
month or year, whichever is the finest that fits; any other into runs of consecutive keys):
an aggregate cell shows the worst state inside it, its counts in its title, and links to
the same strip zoomed to its range. So 10,000 daily partitions are ~330 month cells, and a
month is one click away.

State is never told by colour alone: every state has its own pattern (solid, diagonal
stripes, cross-hatch, horizontal lines, hollow) and its name in the title, and the colours
keep WCAG AA contrast (``tests/web/test_partition_strip.py`` measures them).

Pure: (keys and their statuses, the definition, a context) -> ``Strip``; ``strip_svg`` writes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from headwater.core.partitions import (
    DIMENSION_SEPARATOR,
    MultiPartitions,
    PartitionContext,
    PartitionError,
    PartitionsDefinition,
    TimeWindowPartitions,
    format_partitioned_key,
)
from headwater.core.status import AssetStatus

MAX_CELLS = 2000      # one element per partition up to this many; aggregated beyond
MAX_ROWS = 40         # more combinations of the other dimensions than this: one flowing strip
WIDTH = 980           # the strip's width in px (the asset page's card)
CELL = 12
BIG_CELL = 18         # while there are few cells (up to BIG_UP_TO), bigger ones
BIG_UP_TO = 160
GAP = 2
MIN_PITCH = 6
REASON_CHARS = 160

# Worst first: an aggregate cell takes the worst state inside it.
STATES = ("failed", "running", "missing", "stale", "materialized")
LETTERS = {"failed": "F", "running": "R", "missing": "M", "stale": "S", "materialized": "OK"}

# Fill, and the colour of the pattern drawn over it. Each fill keeps >= 3:1 against the white
# card (WCAG 1.4.11, graphical objects) and each pattern >= 3:1 against its fill.
PALETTE: dict[str, tuple[str, str]] = {
    "materialized": ("#1e7b45", "#1e7b45"),
    "stale": ("#9a5b00", "#ffffff"),
    "failed": ("#c62828", "#ffffff"),
    "running": ("#1f5fbf", "#ffffff"),
    "missing": ("#ffffff", "#5f6b76"),
}
BACKGROUND = "#ffffff"


def cell_state(st: AssetStatus) -> str:
    """A partition's state for the strip: its materialization status, or ``stale``."""
    value = st.status._value_
    if value == "materialized" and st.stale:
        return "stale"
    return str(value)


def reason(st: AssetStatus, now: float | None = None) -> str:
    """One line: why the partition is in its state (the title of its cell)."""
    state = cell_state(st)
    if state == "failed":
        text = "failed: " + (st.failure.message if st.failure else "the latest attempt failed")
    elif state == "running":
        text = "running" + (f" in run {st.last_attempt_run_id[:8]}" if st.last_attempt_run_id else "")
    elif state == "missing":
        text = "missing: never materialized"
    elif state == "stale":
        first = st.causes[0] if st.causes else None
        text = "stale: " + (f"{first.kind._value_}: {first.detail}" if first is not None else "an input changed")
        if len(st.causes) > 1:
            text += f" (+{len(st.causes) - 1} more)"
    else:
        text = "materialized, up to date"
    if len(text) > REASON_CHARS:
        text = text[:REASON_CHARS - 1] + "…"
    return text


@dataclass(frozen=True, slots=True)
class Cell:
    x: int
    y: int
    w: int
    h: int
    state: str
    title: str
    href: str
    first: str            # the first and last partition (or column key) it covers
    last: str
    count: int            # partitions it covers


@dataclass
class Strip:
    key: str
    cells: list[Cell]
    labels: list[tuple[int, int, str]]    # x, y, text: row labels (or each wrapped line's first key)
    axis: list[tuple[int, int, str]]      # x, y, text under the columns
    width: int
    height: int
    bucket: str                           # "" (a cell per partition) or "week", "month", "20 keys", ...
    shown: int                            # partitions in the range drawn
    total: int                            # partitions of the asset
    counts: dict[str, int] = field(default_factory=dict)  # per state, in the range drawn
    start: str | None = None              # the range drawn (column keys), None: all of it
    end: str | None = None
    columns: str = ""                     # the dimension along the columns ("" for one dimension)
    in_range: list[str] | None = None     # the partitions in the range drawn (None: every one)

    @property
    def aggregated(self) -> bool:
        return bool(self.bucket)


def _axis(d: PartitionsDefinition) -> tuple[int | None, PartitionsDefinition]:
    """Which dimension runs along the columns: the first time dimension, else the first."""
    if isinstance(d, MultiPartitions):
        for i, (_n, s) in enumerate(d.dims):
            if isinstance(s, TimeWindowPartitions):
                return i, s
        return 0, d.dims[0][1]
    return None, d


def build_strip(key: str, d: PartitionsDefinition, keys: Sequence[str], statuses: Mapping[str, AssetStatus],
                ctx: PartitionContext, start: str | None = None, end: str | None = None, *,
                base: str = "", max_cells: int = MAX_CELLS, width: int = WIDTH) -> Strip:
    """Lay out the partitions ``keys`` (with their ``statuses``) of asset ``key``.

    ``start``/``end`` narrow the columns to a range (keys of the column dimension, inclusive);
    ``base`` is the URL an aggregate cell zooms on (``?from=&to=`` are added to it).
    """
    col_i, col_def = _axis(d)
    columns_name = d.dims[col_i][0] if isinstance(d, MultiPartitions) and col_i is not None else ""
    # Each key's (column, row) once: the row is the key of the other dimensions.
    pairs: list[tuple[str, str]] | None = None
    rows: dict[str, int] = {"": 0}
    col_keys: list[str] = list(keys)
    if col_i is not None:
        sep = DIMENSION_SEPARATOR
        pairs, rows, cols = [], {}, {}
        for k in keys:
            parts = k.split(sep)
            c = parts.pop(col_i)
            r = sep.join(parts)
            pairs.append((c, r))
            if r not in rows:
                rows[r] = len(rows)
            if c not in cols:
                cols[c] = len(cols)
        col_keys = list(cols)
        if len(rows) > MAX_ROWS:  # too many combinations to be rows: one strip of whole keys
            col_i, col_def, columns_name, pairs, rows, col_keys = None, d, "", None, {"": 0}, list(keys)
    lo, hi = _range(col_keys, start, end, key)
    chosen = col_keys[lo:hi + 1]
    whole = (lo, hi) == (0, len(col_keys) - 1)

    # Columns -> buckets (a bucket per column when they fit).
    budget = max(1, max_cells // max(1, len(rows)))
    if len(rows) > 1:
        budget = min(budget, (width - 60) // MIN_PITCH)
    bucket_name, bucket_of = _buckets(chosen, None if isinstance(col_def, MultiPartitions) else col_def, ctx, budget)
    bucket_index: dict[str, int] = {}
    bucket_cols: list[list[str]] = []
    col_bucket: dict[str, int] = {}
    for c in chosen:
        b = bucket_of(c)
        i = bucket_index.get(b)
        if i is None:
            i = bucket_index[b] = len(bucket_cols)
            bucket_cols.append([])
        bucket_cols[i].append(c)
        col_bucket[c] = i
    labels_of = list(bucket_index)

    # Every (row, bucket) -> the partitions inside it, and each partition's state once.
    grid: dict[tuple[int, int], list[str]] = {}
    counts = dict.fromkeys(STATES, 0)
    state_of: dict[str, str] = {}
    in_range: list[str] | None = None if whole else []
    get_bucket = col_bucket.get
    for pos, k in enumerate(keys):
        c, r = (k, "") if pairs is None else pairs[pos]
        b = get_bucket(c)
        if b is None:
            continue
        cell = (rows[r], b)
        parts_of = grid.get(cell)
        if parts_of is None:
            grid[cell] = [k]
        else:
            parts_of.append(k)
        state = state_of[k] = cell_state(statuses[k])
        counts[state] += 1
        if in_range is not None:
            in_range.append(k)
    shown = len(state_of)

    strip = Strip(key, [], [], [], 0, 0, bucket_name, shown, len(keys), counts,
                  None if whole else chosen[0], None if whole else chosen[-1], columns_name, in_range)
    n_buckets = len(bucket_cols)
    if len(rows) == 1:
        _flow(strip, grid, n_buckets, labels_of, bucket_cols, statuses, state_of, base, width)
    else:
        _matrix(strip, grid, list(rows), n_buckets, labels_of, bucket_cols, statuses, state_of, base, width)
    return strip


def _range(col_keys: list[str], start: str | None, end: str | None, key: str) -> tuple[int, int]:
    lo, hi = 0, len(col_keys) - 1
    if not start and not end:
        return lo, hi
    index = {c: i for i, c in enumerate(col_keys)}
    for name, value in (("from", start), ("to", end)):
        if value is None or value == "":
            continue
        if value not in index:
            shown = f"{col_keys[0]!r} … {col_keys[-1]!r}" if col_keys else "none"
            raise PartitionError(f"{name} {value!r} is not a partition of asset {key} (it has {shown})")
        if name == "from":
            lo = index[value]
        else:
            hi = index[value]
    if lo > hi:
        raise PartitionError(f"empty partition range {start!r} .. {end!r} of asset {key}")
    return lo, hi


_LADDER: tuple[tuple[str, float, Callable[[date], str]], ...] = (   # name, span in seconds, label
    ("day", 86400.0, lambda t: t.isoformat()),
    ("week", 7 * 86400.0, lambda t: "week of " + (t - timedelta(days=t.weekday())).isoformat()),
    ("month", 28 * 86400.0, lambda t: f"{t.year:04d}-{t.month:02d}"),
    ("year", 365 * 86400.0, lambda t: f"{t.year:04d}"),
)


def _local_dates(d: TimeWindowPartitions, cols: list[str], ctx: PartitionContext) -> list[date] | None:
    """The local date each window starts on: read from the key when its format starts with the
    date (every built-in period's does; 10,000 parses take a few ms), else from the window."""
    try:
        if d.fmt.startswith("%Y-%m-%d"):
            return [date.fromisoformat(c[:10]) for c in cols]
        if d.fmt.startswith("%Y-%m"):
            return [date(int(c[:4]), int(c[5:7]), 1) for c in cols]
    except ValueError:
        pass
    index = ctx.index(d)
    if not all(c in index for c in cols):
        return None
    bounds, zone = d.windows(ctx), d.zone
    return [datetime.fromtimestamp(bounds[index[c]], zone).date() for c in cols]


def _buckets(cols: list[str], d: PartitionsDefinition | None, ctx: PartitionContext,
             budget: int) -> tuple[str, Callable[[str], str]]:
    """How columns are grouped: (name of the bucket, column key -> bucket label)."""
    if len(cols) <= budget:
        return "", lambda c: c
    if isinstance(d, TimeWindowPartitions):
        starts = _local_dates(d, cols, ctx)
        if starts is not None:
            period = d.period()
            for name, span, label in _LADDER:
                if span <= period:
                    continue  # a bucket no longer than a window groups nothing
                labels = [label(t) for t in starts]
                count = len(set(labels))
                if count <= budget and count < len(cols):
                    return name, dict(zip(cols, labels)).__getitem__
    size = math.ceil(len(cols) / budget)
    position = {c: i for i, c in enumerate(cols)}
    return f"{size} keys", lambda c: cols[position[c] // size * size]


def _state_of(parts: list[str], state_of: Mapping[str, str]) -> tuple[str, dict[str, int]]:
    per = dict.fromkeys(STATES, 0)
    for p in parts:
        per[state_of[p]] += 1
    worst = next(s for s in STATES if per[s])
    return worst, per


def _cell(strip: Strip, x: int, y: int, w: int, h: int, parts: list[str], cols: list[str], label: str,
          statuses: Mapping[str, AssetStatus], state_of: Mapping[str, str], base: str) -> Cell:
    if len(parts) == 1 and not strip.aggregated:
        p = parts[0]
        st = statuses[p]
        state = cell_state(st)
        return Cell(x, y, w, h, state, f"{p} — {reason(st)}", partition_href(strip.key, p), p, p, 1)
    state, per = _state_of(parts, state_of)
    mix = ", ".join(f"{n} {s}" for s in reversed(STATES) if (n := per[s]))
    title = f"{label}: {len(parts)} partitions — {mix}. Click to zoom in."
    href = f"{base}{'&' if '?' in base else '?'}from={quote(cols[0], safe='')}&to={quote(cols[-1], safe='')}"
    return Cell(x, y, w, h, state, title, href, parts[0], parts[-1], len(parts))


def _flow(strip: Strip, grid: Mapping[tuple[int, int], list[str]], n: int, labels: list[str],
          bucket_cols: list[list[str]], statuses: Mapping[str, AssetStatus], state_of: Mapping[str, str], base: str,
          width: int) -> None:
    """One dimension: cells flow left to right and wrap; each line starts with its first key."""
    label_w = min(170, 8 + 7 * max((len(lb) for lb in labels), default=0))
    size = BIG_CELL if n <= BIG_UP_TO else CELL
    pitch = size + GAP
    per_line = max(1, (width - label_w) // pitch)
    for b in range(n):
        parts = grid.get((0, b))
        if not parts:
            continue
        line, pos = divmod(b, per_line)
        x, y = label_w + pos * pitch, line * pitch
        if pos == 0:
            strip.labels.append((label_w - 6, y + size - 3, labels[b]))
        strip.cells.append(_cell(strip, x, y, size, size, parts, bucket_cols[b], labels[b], statuses, state_of,
                                 base))
    lines = max(1, math.ceil(n / per_line))
    strip.width = label_w + min(n, per_line) * pitch
    strip.height = lines * pitch


def _matrix(strip: Strip, grid: Mapping[tuple[int, int], list[str]], row_names: list[str], n: int,
            labels: list[str], bucket_cols: list[list[str]], statuses: Mapping[str, AssetStatus],
            state_of: Mapping[str, str], base: str, width: int) -> None:
    """Several dimensions: a row per combination of the other dimensions, a column per key (or
    bucket) of the column dimension; its first and last keys (and some between) under it."""
    label_w = min(170, 8 + 7 * max((len(r) for r in row_names), default=0))
    pitch = max(MIN_PITCH, min(BIG_CELL + GAP, (width - label_w) // max(1, n)))
    size = pitch - (GAP if pitch > 8 else 1)
    height = min(BIG_CELL, max(CELL, size))
    for r, name in enumerate(row_names):
        y = r * (height + GAP)
        strip.labels.append((label_w - 6, y + height - 3, name))
        for b in range(n):
            parts = grid.get((r, b))
            if parts:
                strip.cells.append(_cell(strip, label_w + b * pitch, y, size, height, parts, bucket_cols[b],
                                         labels[b] + (f" | {name}" if name else ""), statuses, state_of, base))
    y = len(row_names) * (height + GAP) + 12
    every = max(1, math.ceil(n / max(1, (n * pitch) // 110)))
    for b in range(0, n, every):
        strip.axis.append((label_w + b * pitch, y, labels[b]))
    last = (n - 1) * pitch
    if n > 1 and last - (strip.axis[-1][0] - label_w) >= 110:  # the last column too, when it has room
        strip.axis.append((label_w + last, y, labels[-1]))
    strip.width = max(label_w + n * pitch, (strip.axis[-1][0] + 100) if strip.axis else 0)
    strip.height = y + 4


def partition_href(key: str, partition: str) -> str:
    """The partition's page: ``/partitions/events[2026-03-04]`` (the addressing syntax)."""
    return "/partitions/" + quote(format_partitioned_key(key, partition), safe="/")


def patterns_svg(prefix: str) -> str:
    """The ``<defs>`` of the state patterns, with ids under ``prefix``."""
    out = ["<defs>"]
    for state, (fill, ink) in PALETTE.items():
        pid = f"{prefix}-{state}"
        if state == "stale":
            body = f'<rect width="4" height="4" fill="{fill}"/><path d="M-1,1 l2,-2 M0,4 l4,-4 M3,5 l2,-2" stroke="{ink}" stroke-width="0.9"/>'
        elif state == "failed":
            body = (f'<rect width="4" height="4" fill="{fill}"/>'
                    f'<path d="M0,0 l4,4 M4,0 l-4,4" stroke="{ink}" stroke-width="0.8"/>')
        elif state == "running":
            body = f'<rect width="4" height="4" fill="{fill}"/><path d="M0,2 h4" stroke="{ink}" stroke-width="1"/>'
        else:
            body = f'<rect width="4" height="4" fill="{fill}"/>'
        out.append(f'<pattern id="{pid}" width="4" height="4" patternUnits="userSpaceOnUse">{body}</pattern>')
    out.append("</defs>")
    return "".join(out)


def strip_svg(strip: Strip, prefix: str = "ps") -> Markup:
    """The strip as one SVG: a link per cell (to the partition, or zooming into a bucket), the
    state and reason as its title, and the state's name as a data attribute for scripts."""
    w, h = max(strip.width, 10), max(strip.height, 10)
    out = [f'<svg class="pstrip" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" role="group" aria-label="partitions of {escape(strip.key)}">',
           patterns_svg(prefix)]
    for x, y, text in strip.labels:
        out.append(f'<text class="plabel" x="{x}" y="{y}" text-anchor="end">{escape(text)}</text>')
    for x, y, text in strip.axis:
        out.append(f'<text class="plabel" x="{x}" y="{y}">{escape(text)}</text>')
    missing = PALETTE["missing"][1]
    for c in strip.cells:
        stroke = f' stroke="{missing}" stroke-width="1"' if c.state == "missing" else ""
        inset = 0.5 if c.state == "missing" else 0
        out.append(f'<a href="{escape(c.href)}" class="pc s-{c.state}" data-state="{c.state}" '
                   f'data-first="{escape(c.first)}" data-count="{c.count}"><title>{escape(c.title)}</title>'
                   f'<rect x="{c.x + inset}" y="{c.y + inset}" width="{c.w - 2 * inset}" height="{c.h - 2 * inset}" '
                   f'fill="url(#{prefix}-{c.state})"{stroke}/></a>')
    out.append("</svg>")
    return Markup("".join(out))


def legend_svg(prefix: str = "pl") -> Markup:
    """The legend: every state's pattern beside its name (and letter)."""
    items = []
    x = 0
    for state in reversed(STATES):
        text = f"{state} ({LETTERS[state]})"
        items.append((x, state, text))
        x += 24 + int(6.6 * len(text))
    parts = [f'<svg class="plegend" xmlns="http://www.w3.org/2000/svg" width="{x}" height="16" '
             f'role="img" aria-label="legend: states and their patterns">', patterns_svg(prefix)]
    for x, state, text in items:
        stroke = f' stroke="{PALETTE["missing"][1]}"' if state == "missing" else ""
        parts.append(f'<rect x="{x + 0.5}" y="2.5" width="11" height="11" fill="url(#{prefix}-{state})"{stroke}/>'
                     f'<text class="plabel" x="{x + 16}" y="12">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours."""
    def lum(c: str) -> float:
        rgb = [int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def as_data(strip: Strip) -> dict[str, Any]:
    """The strip as plain data (the API's ``strip``)."""
    return {"bucket": strip.bucket or None, "shown": strip.shown, "total": strip.total, "counts": strip.counts,
            "from": strip.start, "to": strip.end, "columns": strip.columns or None,
            "cells": [{"first": c.first, "last": c.last, "count": c.count, "state": c.state, "title": c.title,
                       "href": c.href} for c in strip.cells]}
