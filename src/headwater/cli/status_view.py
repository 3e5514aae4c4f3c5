"""What ``headwater status`` prints, as text: the table and the JSON lines.

Both are written from the same plain-data rows (``reports.health_to_dict``), so the table
can never say something the JSON does not (``tests/cli/test_status_view.py`` holds them to
each other field by field, check states included). The table is plain padded text with
ANSI colours on a terminal: a Rich table measures every cell of every row several times,
which took 8.7 s for 10,000 assets; this takes milliseconds.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

COLUMNS = ("asset", "group", "health", "status", "stale", "freshness", "data time", "checks",
           "last materialized", "run")

_COLOURS = {"green": "32", "yellow": "33", "red": "31", "cyan": "36", "dim": "2", "magenta": "35"}
HEALTH_COLOUR = {"healthy": "green", "warning": "yellow", "degraded": "red", "unknown": "dim"}
STATUS_COLOUR = {"materialized": "green", "observed": "green", "missing": "yellow", "unobserved": "yellow",
                 "running": "cyan", "failed": "red"}
CHECK_ORDER = ("failed", "warn", "not_run", "passed")


_PARSED: dict[str, float] = {}


def ago(iso_time: str | None, now: float) -> str:
    """``3h ago`` for an ISO time (as the JSON has it); ``-`` when there is none."""
    if iso_time is None:
        return "-"
    ts = _PARSED.get(iso_time)
    if ts is None:  # a graph's rows repeat the same times (a run's, a data time passed down)
        ts = _PARSED[iso_time] = datetime.fromisoformat(iso_time).timestamp()
    delta = max(0.0, now - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{int(delta // size)}{unit} ago"
    return f"{int(delta)}s ago"


def checks_cell(checks: Sequence[Sequence[str]]) -> str:
    """The checks of one asset by state, worst first: ``1 failed (not_null), 1 passed``;
    ``2 not run`` for checks that never ran against the current materialization. ``checks``:
    (name, state) pairs, as ``reports.row_summary`` gives them."""
    if not checks:
        return "-"
    by_state: dict[str, list[str]] = {}
    for name, state in checks:
        by_state.setdefault(state, []).append(name)
    parts = []
    for state in CHECK_ORDER:
        names = by_state.pop(state, None)
        if names:
            label = state.replace("_", " ")
            parts.append(f"{len(names)} {label}" + (f" ({', '.join(names)})" if state in ("failed", "warn") else ""))
    parts.extend(f"{len(names)} {state}" for state, names in by_state.items())  # a state added later
    return ", ".join(parts)


def cells(row: Mapping[str, Any], now: float) -> tuple[str, ...]:
    """One table row from one JSON row, in ``COLUMNS`` order."""
    from headwater.reports import row_summary

    shown = summary_cells(row_summary(dict(row)), now)
    if row.get("location_status") == "unavailable":  # its code location is broken (docs/workspaces.md)
        return shown[:3] + ("location unavailable",) + shown[4:]
    return shown


def summary_cells(summary: Sequence[Any], now: float) -> tuple[str, ...]:
    """One table row from a row's summary (``reports.row_summary``: what a stored snapshot
    keeps of each row), in ``COLUMNS`` order."""
    key, group, health, status, parts, stale_kinds, fresh, data_time, last_at, run_id, checks = summary
    state = f"{status} ({parts})" if parts is not None else status  # 331/338 materialized · 2 failed
    return (key, group, health, state, ", ".join(stale_kinds) if stale_kinds is not None else "-",
            fresh or "-", ago(data_time, now), checks_cell(checks), ago(last_at, now), (run_id or "-")[:8])


def _paint(text: str, colour: str | None) -> str:
    code = _COLOURS.get(colour or "")
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def table_lines(rows: Iterable[Mapping[str, Any]], now: float, colour: bool = False) -> list[str]:
    """The table as lines: a header, a rule, one line per asset, the summary. Column widths
    fit the widest cell, so the output is as wide as it needs to be (``less -S`` scrolls it)."""
    return body_lines([cells(r, now) for r in rows], colour)


def body_lines(body: list[tuple[str, ...]], colour: bool = False) -> list[str]:
    """The table of ``body`` (one tuple of cells per asset, ``COLUMNS`` order) as lines."""
    widths = [len(c) for c in COLUMNS]
    for cs in body:
        for i, c in enumerate(cs):
            if len(c) > widths[i]:
                widths[i] = len(c)
    last = len(COLUMNS) - 1

    def line(cs: Sequence[str], paint: Sequence[str | None] | None = None) -> str:
        parts = []
        for i, c in enumerate(cs):
            padded = c if i == last else c.ljust(widths[i])
            parts.append(_paint(padded, paint[i]) if paint and paint[i] else padded)
        return "  ".join(parts).rstrip()

    out = [line(COLUMNS, ["bold"] * len(COLUMNS) if colour else None),
           "  ".join("-" * w for w in widths)]
    if colour:
        for cs in body:
            stale = "yellow" if cs[4] != "-" else None
            bad_check = "red" if "failed" in cs[7] else "yellow" if "warn" in cs[7] else None
            out.append(line(cs, (None, None, HEALTH_COLOUR.get(cs[2]), STATUS_COLOUR.get(cs[3]), stale, None,
                                 None, bad_check, None, None)))
    else:
        out.extend(line(cs) for cs in body)
    out.append(summary(body))
    return out


_COLOURS["bold"] = "1"


def summary(body: Iterable[Sequence[str]]) -> str:
    """The line under the table, counted from the table's own cells (``COLUMNS`` order): it
    cannot disagree with what is shown."""
    counts = {"healthy": 0, "warning": 0, "degraded": 0, "unknown": 0}
    stale = 0
    for cs in body:
        counts[cs[2]] = counts.get(cs[2], 0) + 1
        stale += cs[4] != "-"
    return ", ".join(f"{n} {name}" for name, n in counts.items()) + f"; {stale} stale"


def json_chunks(rows: Iterable[Mapping[str, Any]], size: int = 2000) -> Iterator[bytes]:
    """A JSON array with one asset per line: ``jq`` reads it, ``grep`` finds an asset's line.
    Written ``size`` rows at a time, so a graph's rows are never all in memory as dicts.
    orjson, since the standard encoder with ``indent`` is pure Python (seconds for 10,000);
    each chunk in one call, then a line break before each row (every row starts with its
    ``key``; a quote inside a string is escaped, so the pattern only meets row breaks)."""
    import orjson

    yield b"["
    first = True
    for chunk in _batched(rows, size):
        body = orjson.dumps(chunk)[1:-1].replace(b'},{"key":', b'},\n{"key":')
        yield (b"\n" if first else b",\n") + body
        first = False
    yield b"]\n" if first else b"\n]\n"


def _batched(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    batch: list[Mapping[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def page(lines: list[str], stream: IO[str] | None = None) -> None:
    """Print ``lines``; on a terminal that they overflow, through ``$PAGER`` (``less -FRSX``
    by default: quits if one screen is enough, keeps colours, long lines chopped). The pager
    is waited for, so no process outlives the command."""
    stream = stream or sys.stdout
    text = "\n".join(lines) + "\n"
    height = shutil.get_terminal_size((80, 24)).lines
    if not stream.isatty() or len(lines) < height - 1:
        stream.write(text)
        return
    command = os.environ.get("PAGER") or "less -FRSX"
    try:
        pager = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, text=True)
    except OSError:  # no pager on this machine: print it all
        stream.write(text)
        return
    try:
        assert pager.stdin is not None
        pager.stdin.write(text)
        pager.stdin.close()
    except (BrokenPipeError, KeyboardInterrupt):  # the user quit the pager early
        pass
    finally:
        pager.wait()


def now() -> float:
    return time.time()
