"""``headwater history ASSET``: what happened to one asset, newest first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from headwater.cli.typer_app import AttrOpt, FileOpt, HomeOpt, JsonOpt, ModuleOpt, _fail, _Project, app, out
from headwater.errors import HeadwaterError

_STYLE = {"materialization": "green", "observation": "green", "failure": "red", "skipped": "yellow",
          "check": ""}


@app.command()
def history(
    key: Annotated[str, typer.Argument(help="Asset key.")],
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 20,
    kind: Annotated[list[str] | None, typer.Option(
        help="Only these kinds (repeatable): materialization, failure, skipped, observation, check.")] = None,
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """An asset's materializations, failed and skipped attempts, observations and check results over time."""
    from headwater.cli import json_output as js
    from headwater.cli.render import when
    from headwater.service.asset_history import KINDS

    try:
        unknown = [k for k in kind or () if k not in KINDS]
        if unknown:
            raise HeadwaterError(f"--kind {unknown[0]!r} is not one of {', '.join(KINDS)}")
        p = _Project(file, module, attribute, home)
        entries = p.instance.history(p.defs, key, limit, kind or None)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        js.emit({"key": key, "entries": [js.history_entry(e) for e in entries]})
        return
    if not entries:
        out.print(f"{key}: nothing recorded yet", highlight=False)
        return
    table = Table(title=f"History of {key}", title_justify="left")
    for col in ("when", "what", "run", "data version", "duration", "detail"):
        table.add_column(col)
    for e in entries:
        what = f"check {e.check}" if e.kind == "check" else e.kind
        style = _STYLE[e.kind] if e.kind != "check" else ("green" if e.passed else "red")
        table.add_row(when(e.timestamp), f"[{style}]{what}[/]" if style else what, (e.run_id or "-")[:8],
                      e.data_version or "-", f"{e.duration:.2f}s" if e.duration is not None else "-",
                      _detail(e))
    out.print(table)


def _detail(e) -> str:  # type: ignore[no-untyped-def]
    from rich.markup import escape

    if e.detail:
        return escape(e.detail)
    numbers = [f"{k}={v}" for k, v in e.metadata.items() if isinstance(v, (int, float, str))][:3]
    return escape(", ".join(numbers))
