"""``headwater status``: every asset's health, status, staleness, freshness and checks.

Its own module because it is the read people run most and on the largest graphs: its
filters, its paging and its two outputs (the table and ``--json``, written from the same
rows by ``status_view``) belong together, away from the commands that launch work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from headwater.cli.typer_app import (
    PARSE_ENV,
    AttrOpt,
    ExitFast,
    FileOpt,
    HomeOpt,
    ModuleOpt,
    _fail,
    _Project,
    app,
    err,
    out,
)
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.service.status_snapshot import StatusRows

STATUSES = ("materialized", "missing", "failed", "running", "observed", "unobserved")
HEALTHS = ("healthy", "warning", "degraded", "unknown")
CHECK_STATES = ("failed", "warn", "not_run", "passed")


@app.command()
def status(
    selection: Annotated[Optional[str], typer.Argument(help="Limit to a selection, e.g. 'group:marts', 'orders+'.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output: a JSON array, one asset a line.")] = False,
    health: Annotated[Optional[str], typer.Option("--health", help=f"Only assets with this health: {', '.join(HEALTHS)}.")] = None,
    state: Annotated[Optional[str], typer.Option("--status", help=f"Only assets in this status: {', '.join(STATUSES)}.")] = None,
    stale: Annotated[bool, typer.Option("--stale", help="Only stale assets.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only assets overdue against their freshness policy.")] = False,
    check: Annotated[Optional[str], typer.Option("--check", help=f"Only assets with a check in this state: {', '.join(CHECK_STATES)}.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Show at most N assets (upstream first).")] = None,
    pager: Annotated[Optional[bool], typer.Option("--pager/--no-pager", help="Page a long table on a terminal (default: yes; $PAGER, else less).")] = None,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Every asset: health, status, stale?, freshness, checks, last materialized, run."""
    from headwater.cli import status_view

    for value, allowed, option in ((health, HEALTHS, "health"), (state, STATUSES, "status"),
                                   (check, CHECK_STATES, "check state")):
        if value is not None and value not in allowed:
            _fail(HeadwaterError(f"unknown {option} {value!r}; one of {', '.join(allowed)}"))
    if limit is not None and limit < 1:
        _fail(HeadwaterError(f"--limit {limit}: give a number of assets, 1 or more"))
    with ExitFast.gc_off():
        given = os.environ.get(PARSE_ENV)
        os.environ[PARSE_ENV] = given or "background"  # never wait for `dbt parse` (docs/dbt.md)
        try:
            p = _Project(file, module, attribute, home)
            fast = _from_rows(p, selection, health, state, stale, overdue, check, limit, as_json)
            if fast is None:
                picked, counts, total = _select(p, selection, health, state, stale, overdue, check, limit)
            p.instance.close()
        except HeadwaterError as exc:
            _fail(exc)
        finally:
            if given is None:
                os.environ.pop(PARSE_ENV, None)
        for d in p.defs.assets_defs:
            project = getattr(d.fn, "dbt_project", None)  # a dbt project read from an older manifest
            if project is not None and project.outdated:
                err.print(f"note: dbt project {project.manifest.project_name}: shown from the last parse ("
                          f"{project.outdated}); dbt parse is bringing it up to date", style="yellow", markup=False,
                          highlight=False)
        ExitFast.requested = True  # nothing left to clean up but memory: see ExitFast
        colour = out.is_terminal and not out.no_color
        if fast is not None:
            chosen_rows, total = fast
            summaries = chosen_rows.summaries
            if as_json:
                chosen_rows.write_document(sys.stdout.buffer)
                sys.stdout.flush()
                chosen_rows.close()
                return
            now = status_view.now()
            lines = status_view.body_lines([status_view.summary_cells(s, now) for s in summaries], colour)
            chosen_rows.close()
            shown = len(summaries)
        else:
            rows = _dicts(picked, counts, p.defs.graph, p.defs)
            if as_json:
                for chunk in status_view.json_chunks(rows):  # a few thousand rows at a time: memory stays flat
                    sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                return
            lines = status_view.table_lines(rows, status_view.now(), colour)
            shown = len(picked)
    if total > shown:
        lines[-1] += f"  (first {shown} of {total}; --limit)"
    if pager is False:
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        status_view.page(lines)


class _NeedsStates(Exception):
    """The selection has ``status:`` terms: it reads the current states, so the full read runs."""


def _needs_states() -> Any:
    raise _NeedsStates


def _from_rows(p: _Project, selection: str | None, health: str | None, state: str | None, stale: bool,
               overdue: bool, check: str | None, limit: int | None, as_json: bool = True,
               ) -> tuple[StatusRows, int] | None:
    """The rows (their summaries and JSON) that pass every filter, from every asset's rows
    (``Instance.status_rows``: a stored snapshot's when it still holds), and how many passed;
    None where a snapshot cannot serve (``status_snapshot.eligible``) or the selection reads
    current states: then ``_select`` computes only what it shows. The rows themselves only
    ``as_json``."""
    from headwater.core.selection import select
    from headwater.service.status_snapshot import StatusRows, eligible

    if not eligible(p.defs):
        return None
    chosen = None
    if selection is not None:
        try:
            chosen = {k._str for k in select(p.defs.graph, selection, _needs_states)}
        except _NeedsStates:
            return None
    every = p.instance.status_rows(p.defs)
    if chosen is None and health is None and state is None and not stale and not overdue and check is None:
        total = len(every.summaries)
        if limit is None or limit >= total:
            return every, total
    summaries: list[Any] = []
    picked: list[int] = []
    total = 0
    for i, s in enumerate(every.summaries):
        # positions: reports.SUMMARY_FIELDS
        if ((chosen is not None and s[0] not in chosen) or (health is not None and s[2] != health)
                or (state is not None and s[3] != state) or (stale and s[5] is None)
                or (overdue and s[6] != "overdue") or (check is not None and not any(st == check for _, st in s[10]))):
            continue
        total += 1
        if limit is None or len(picked) < limit:
            summaries.append(s)
            picked.append(i)
    rows = every.picked(picked) if as_json else []  # the table reads the summaries alone
    every.close()
    return StatusRows(summaries, rows), total


def _select(p: _Project, selection: str | None, health: str | None, state: str | None, stale: bool,
            overdue: bool, check: str | None, limit: int | None) -> tuple[list[Any], dict[Any, int], int]:
    """The healths of the assets that pass every filter, upstream first, at most ``limit``;
    their root causes counted (for the whole graph at once, ``core.root_counts``: each row
    lists only its first few); and how many passed."""
    from headwater.core.root_counts import root_cause_counts
    from headwater.core.selection import select

    healths = p.instance.healths(p.defs)
    chosen = (select(p.defs.graph, selection, lambda: p.instance._states(p.defs, healths))
              if selection is not None else None)
    picked = []
    for key, h in healths.items():
        if chosen is not None and key not in chosen:
            continue
        st = h.status
        if ((health is not None and h.health.value != health) or (state is not None and st.status.value != state)
                or (stale and not st.stale)
                or (overdue and (h.freshness is None or h.freshness.state.value != "overdue"))
                or (check is not None and not any(c.state.value == check for c in h.checks))):
            continue
        picked.append(h)
    total = len(picked)
    if limit is not None:
        picked = picked[:limit]
    counts = root_cause_counts({k: h.status for k, h in healths.items()},
                               [h.key for h in picked if h.status.stale])
    return picked, counts, total


def _dicts(picked: list[Any], counts: dict[Any, int], graph: Any, defs: Any = None) -> Iterator[dict[str, Any]]:
    """The ``status --json`` rows, one at a time (``reports.health_to_dict``); in a workspace,
    each names its code location (``service.workspace.location_fields``)."""
    from headwater.reports import health_to_dict
    from headwater.service.workspace import location_fields

    for h in picked:
        row = health_to_dict(h, graph, counts.get(h.key, 0))
        row.update(location_fields(defs, h.key))
        yield row


def _rows(p: _Project, selection: str | None, health: str | None, state: str | None, stale: bool,
          overdue: bool, check: str | None, limit: int | None) -> tuple[list[dict[str, Any]], int]:
    """The rows as a list, and how many passed the filters (for tests and the Python-minded)."""
    picked, counts, total = _select(p, selection, health, state, stale, overdue, check, limit)
    return list(_dicts(picked, counts, p.defs.graph, p.defs)), total
