"""Rich rendering of statuses, runs and lineage; nothing here computes state."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetFailed, AssetSkipped, LogMessage, StepFailed
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord, StepRecord, StoredEvent
from headwater.core.status import AssetStatus, MaterializationStatus
from headwater.reports import iso

STATUS_STYLE = {
    MaterializationStatus.MATERIALIZED: "green",
    MaterializationStatus.OBSERVED: "green",
    MaterializationStatus.MISSING: "yellow",
    MaterializationStatus.UNOBSERVED: "yellow",
    MaterializationStatus.RUNNING: "cyan",
    MaterializationStatus.FAILED: "red",
    MaterializationStatus.SKIPPED: "magenta",
}


def lineage_tree(root: AssetKey, graph: AssetGraph, up: set[AssetKey], down: set[AssetKey],
                 statuses: dict[AssetKey, AssetStatus]) -> Tree:
    def label(key: AssetKey) -> str:
        st = statuses.get(key)
        if st is None:
            return str(key)
        style = STATUS_STYLE.get(st.status, "")
        stale = " [yellow](stale)[/]" if st.stale else ""
        return f"{key} [{style}]{st.status.value}[/]{stale}"

    tree = Tree(f"[bold]{label(root)}[/]")
    if up:
        branch = tree.add("upstream")
        _grow(branch, root, up, graph.parents, label, set())
    if down:
        branch = tree.add("downstream")
        _grow(branch, root, down, graph.children, label, set())
    return tree


def _grow(node: Tree, key: AssetKey, allowed: set[AssetKey], edges, label, seen: set[AssetKey]) -> None:
    for other in sorted(edges(key), key=str):
        if other not in allowed:
            continue
        if other in seen:
            node.add(label(other) + " [dim](shown above)[/]")
            continue
        seen.add(other)
        _grow(node.add(label(other)), other, allowed, edges, label, seen)


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    delta = max(0.0, (now or time.time()) - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{int(delta // size)}{unit} ago"
    return f"{int(delta)}s ago"



def when(ts: float | None, now: float | None = None) -> str:
    """A time as people read it in a table: "2m ago" today, the date and minute before."""
    if ts is None:
        return "-"
    now = now or time.time()
    if now - ts < 86400:
        return ago(ts, now)
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def runs_table(runs: Iterable[RunRecord], waits: Mapping[str, str] | None = None) -> Table:
    table = Table(title="Runs", title_justify="left")
    for col in ("run", "status", "selection", "assets", "started", "duration"):
        table.add_column(col)
    colors = {"succeeded": "green", "failed": "red", "canceled": "yellow", "started": "cyan", "queued": "dim"}
    waits = waits or {}
    now = time.time()
    for r in runs:
        dur = f"{r.duration:.1f}s" if r.duration is not None else "-"
        started = when(r.started_at, now)
        if r.run_id in waits:
            started = f"queued {when(r.created_at, now)}: {waits[r.run_id]}"
        table.add_row(r.run_id[:8], f"[{colors.get(r.status.value, '')}]{r.status.value}[/]", escape(r.selection),
                      str(len(r.asset_keys)), escape(started), dur)
    return table


def run_detail(console: Console, run: RunRecord, steps: list[StepRecord], events: list[StoredEvent],
               waiting: str | None = None) -> None:
    console.print(f"[bold]run {run.run_id}[/]  {run.status.value}  selection {escape(repr(run.selection))}  "
                  f"executor {run.executor}" + (f"  parent {run.parent_run_id}" if run.parent_run_id else ""))
    if waiting:
        console.print(f"waiting: {waiting}", markup=False, highlight=False)
    if run.reason:
        console.print(f"reason: {run.reason}", markup=False, highlight=False)
    if run.cancel_requested_at is not None and not run.status.is_terminal:
        console.print(f"cancel requested {iso(run.cancel_requested_at)}: {run.cancel_reason}; its coordinator is "
                      "stopping it", markup=False, highlight=False)
    table = Table(title="Steps", title_justify="left")
    for col in ("step", "status", "attempt", "duration", "detail"):
        table.add_column(col)
    for s in steps:
        dur = f"{s.ended_at - s.started_at:.2f}s" if s.started_at and s.ended_at else "-"
        detail = s.error.message if s.error else s.detail
        table.add_row(s.step_key, s.status.value, str(s.attempt), dur, detail or "")
    console.print(table)
    logs = [e for e in events if isinstance(e.event, (LogMessage, StepFailed, AssetFailed, AssetSkipped))]
    if logs:
        console.print("[bold]Logs[/]")
    for stored in logs:
        e = stored.event
        stamp = iso(e.timestamp)
        if isinstance(e, LogMessage):
            console.print(f"{stamp} {e.level:7} {e.step_key or '':20} {e.message}", markup=False, highlight=False)
        elif isinstance(e, AssetFailed):
            console.print(f"{stamp} error   {e.step_key:20} {e.key} failed: {e.error.message}",
                          markup=False, highlight=False)
        elif isinstance(e, AssetSkipped):
            console.print(f"{stamp} skipped {e.step_key:20} {e.key} skipped: {e.detail}", markup=False,
                          highlight=False)
        else:
            console.print(f"{stamp} error   {e.step_key:20} attempt {e.attempt}: {e.error.message}",
                          markup=False, highlight=False)
            if e.error.traceback:
                console.print(e.error.traceback.rstrip(), markup=False, highlight=False)


def ticks_table(ticks: Iterable[Any]) -> Table:
    now = time.time()
    table = Table(title="Ticks", title_justify="left")
    for col in ("time", "instigator", "status", "runs", "detail"):
        table.add_column(col)
    colors = {"success": "green", "skipped": "dim", "failed": "red"}
    for t in ticks:
        detail = t.error.message if t.error else t.skip_reason
        runs = ", ".join(r[:8] for r in t.run_ids) or "-"
        table.add_row(when(t.timestamp, now), t.instigator, f"[{colors.get(t.status.value, '')}]{t.status.value}[/]",
                      runs, detail or "")
    return table


def instigators_table(rows: Iterable[Any], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("name", "state", "when", "target", "last tick", "last status", "next"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, "[green]on[/]" if r.enabled else "[dim]off[/]", r.detail, r.target,
                      when(r.last_tick), r.last_status or "-", _next(r.next_time))
    return table


def _next(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
