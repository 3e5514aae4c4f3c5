"""``headwater locations`` and ``headwater reload``: the code locations of a workspace."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from headwater.cli.typer_app import HomeOpt, JsonOpt, _fail, app, out
from headwater.errors import HeadwaterError


def _workspace(home: Any) -> Any:
    from headwater.service import Instance
    from headwater.service.workspace import Workspace

    ws = Workspace.find(Instance(home=home).home)
    if ws is None:
        raise HeadwaterError("no workspace here: declare [[tool.headwater.locations]] in pyproject.toml or "
                             "[[locations]] in headwater.toml (docs/workspaces.md)")
    return ws


def _print(states: list[Any], show_errors: bool) -> None:
    width = max((len(s.name) for s in states), default=4)
    for s in states:
        when = f", read {s.seconds:.2f} s" if s.origin == "process" and s.ok else ""
        colour = "green" if s.ok else "red"
        out.print(f"{s.name:<{width}}  {s.status:<7} {s.asset_count:>6} assets  {s.config.source}"
                  f"  ({s.config.python or 'this python'}{when})", style=colour, markup=False, highlight=False)
        if not s.ok:
            out.print(f"  {s.warning}: {s.error}", style="yellow", markup=False, highlight=False)
            if show_errors and s.traceback:
                out.print("  " + s.traceback.rstrip().replace("\n", "\n  "), markup=False, highlight=False)


@app.command()
def locations(
    show_errors: Annotated[bool, typer.Option("--show-errors", help="Print the traceback of each broken location.")] = False,
    as_json: JsonOpt = False, home: HomeOpt = None,
) -> None:
    """The code locations of the workspace: loaded or broken, how many assets, which interpreter."""
    try:
        ws = _workspace(home)
        ws.load()
        ws.definitions()  # duplicate keys across locations are an error here too
    except HeadwaterError as exc:
        _fail(exc)
    states = list(ws.states.values())
    ws.close()
    if as_json:
        out.print(json.dumps([s.to_dict() for s in states]), markup=False, highlight=False, soft_wrap=True)
    else:
        _print(states, show_errors)
    raise typer.Exit(0 if all(s.ok for s in states) else 1)


@app.command()
def reload(
    location: Annotated[Optional[str], typer.Argument(help="The location to reload (default: every one).")] = None,
    as_json: JsonOpt = False, home: HomeOpt = None,
) -> None:
    """Read a code location's definitions again in a new process of its interpreter."""
    try:
        ws = _workspace(home)
        ws.load()
        states = ws.reload(location)
        ws.definitions()
    except HeadwaterError as exc:
        _fail(exc)
    ws.close()
    if as_json:
        out.print(json.dumps([s.to_dict() for s in states]), markup=False, highlight=False, soft_wrap=True)
    else:
        _print(states, show_errors=True)
    raise typer.Exit(0 if all(s.ok for s in states) else 1)
