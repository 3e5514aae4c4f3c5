"""``headwater locations`` and ``headwater reload``: the code locations of a workspace."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from headwater.cli.typer_app import ExitFast, HomeOpt, JsonOpt, _fail, app, out
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
    states = _read(home, reload=None)
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
    states = _read(home, reload=[location] if location is not None else [])
    if as_json:
        out.print(json.dumps([s.to_dict() for s in states]), markup=False, highlight=False, soft_wrap=True)
    else:
        _print(states, show_errors=True)
    raise typer.Exit(0 if all(s.ok for s in states) else 1)


def _read(home: Any, reload: list[str] | None) -> list[Any]:
    """Load the workspace (``reload``: these locations from a new process, every one when
    empty; None: from the cache where it is fresh) and join it, as one command that only
    reads: the processes it starts are told to stop as soon as they reported, and end
    while it joins the definitions (duplicate keys across locations are an error here too).
    The states of the reloaded locations, or of all."""
    ws = None
    try:
        with ExitFast.gc_off():
            ws = _workspace(home)
            names = (reload or [c.name for c in ws.config.locations]) if reload is not None else []
            ws.load(fresh=names)
            ws.ask_to_stop()
            ws.definitions()
            ws.close()
            ExitFast.requested = True  # its processes have ended: nothing left to clean up but memory
    except HeadwaterError as exc:
        _fail(exc)
    finally:
        if ws is not None:
            ws.close()
    assert ws is not None
    return [ws.states[n] for n in names] if names else list(ws.states.values())
