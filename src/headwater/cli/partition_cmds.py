"""``headwater partitions``: which partitions of an asset are missing, failed or stale, and why;
and the keys of dynamic partitions (``--add`` / ``--remove``)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer
from rich.table import Table

from headwater.cli.typer_app import AttrOpt, FileOpt, HomeOpt, ModuleOpt, _fail, _Project, app, out
from headwater.core.explain import format_time
from headwater.core.status import AssetStatus
from headwater.errors import HeadwaterError
from headwater.reports import iso

STATES = ("materialized", "missing", "failed", "running", "stale")


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def partition_to_dict(st: AssetStatus) -> dict[str, object]:
    mat = st.last_materialization
    return {
        "partition": st.partition,
        "status": st.status.value,
        "stale": st.stale,
        "why": why_line(st),
        "last_materialized_at": iso(mat.timestamp) if mat else None,
        "run_id": mat.run_id if mat else None,
        "last_attempt_run_id": st.last_attempt_run_id,
        "data_version": st.data_version,
        "data_time": iso(st.data_time),
        "causes": [c.detail for c in st.causes[:5]],
        "error": st.failure.message if st.failure else None,
    }


def why_line(st: AssetStatus) -> str:
    """One line per partition: what is wrong with it, in words."""
    if st.status.value == "failed":
        return f"failed in run {st.last_attempt_run_id}: {st.failure.message if st.failure else 'unknown error'}"
    if st.status.value == "running":
        return f"being built by run {st.last_attempt_run_id}"
    if st.last_materialization is None:
        return "never materialized"
    if st.stale:
        return "; ".join(c.detail for c in st.causes[:2]) + (" …" if len(st.causes) > 2 else "")
    return "up to date"


@app.command()
def partitions(
    name: Annotated[str, typer.Argument(help="A partitioned asset; with --add/--remove, a dynamic partitions name.")],
    state: Annotated[Optional[str], typer.Option("--status", help="Only partitions in these states, e.g. failed,missing "
                                                                   "(materialized, missing, failed, running, stale).")] = None,
    add: Annotated[Optional[str], typer.Option("--add", help="Add these keys (comma-separated) to dynamic partitions NAME.")] = None,
    remove: Annotated[Optional[str], typer.Option("--remove", help="Remove these keys from dynamic partitions NAME.")] = None,
    force: Annotated[bool, typer.Option("--force", help="With --remove: remove keys that have materializations.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many partitions (newest last).")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """The partitions of an asset with their state and why; or add/remove dynamic partition keys."""
    try:
        wanted = _split(state)
        bad = [s for s in wanted if s not in STATES]
        if bad:
            raise HeadwaterError(f"unknown partition state {bad[0]!r}; one of {', '.join(STATES)}")
        p = _Project(file, module, attribute, home)
        if add or remove:
            if add:
                added = p.instance.add_dynamic_partitions(name, _split(add))
                _report(as_json, {"name": name, "added": list(added)},
                        f"added {len(added)} key(s) to {name}" + (f": {', '.join(added)}" if added else ""))
            if remove:
                removed = p.instance.remove_dynamic_partitions(p.defs, name, _split(remove), force=force)
                _report(as_json, {"name": name, "removed": list(removed)},
                        f"removed {len(removed)} key(s) from {name}: {', '.join(removed)}")
            return
        status, pset = p.instance.partition_set(p.defs, name)
    except HeadwaterError as exc:
        _fail(exc)
    keys = pset.with_state(*wanted) if wanted else list(pset.keys)
    shown = keys[-limit:] if limit > 0 else keys
    if as_json:
        sys.stdout.write(json.dumps({"asset": str(status.key), "counts": pset.counts(), "summary": pset.summary(),
                                     "shown": len(shown), "matching": len(keys),
                                     "partitions": [partition_to_dict(pset.statuses[k]) for k in shown]},
                                    indent=2) + "\n")
        return
    out.print(f"{status.key}: {pset.summary()}", highlight=False)
    table = Table(show_edge=False, pad_edge=False)
    for col in ("partition", "status", "last materialized", "run", "why"):
        table.add_column(col, overflow="fold")
    for k in shown:
        st = pset.statuses[k]
        mat = st.last_materialization
        label = st.status.value + (" (stale)" if st.stale else "")
        table.add_row(k, label, format_time(mat.timestamp) if mat else "never",
                      (mat.run_id[:8] if mat and mat.run_id else "-"), why_line(st))
    out.print(table)
    if len(keys) > len(shown):
        out.print(f"({len(keys) - len(shown)} more not shown; --limit 0 shows all)", highlight=False)


def _report(as_json: bool, data: dict[str, object], text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        out.print(text, markup=False, highlight=False)
