"""``headwater lineage``: the graph around an asset, or where a dbt model's columns come from.

Its own module because column lineage brings the dbt integration along, which the rest of
the command line never needs to import.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from headwater.cli.typer_app import AttrOpt, FileOpt, HomeOpt, ModuleOpt, _fail, _Project, app, out
from headwater.errors import HeadwaterError


@app.command()
def lineage(
    key: Annotated[str, typer.Argument(help="Asset key (with --column/--columns: a dbt model, by key or dbt name).")],
    up: Annotated[int | None, typer.Option(help="Upstream depth (default: all).")] = None,
    down: Annotated[int | None, typer.Option(help="Downstream depth (default: all).")] = None,
    column: Annotated[list[str] | None, typer.Option(
        "--column", "-c", help="Where this column of the dbt model comes from (repeatable).")] = None,
    columns: Annotated[bool, typer.Option("--columns", help="The same for every column of the dbt model.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output (its schema: docs/cli.md).")] = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """The graph around an asset as a tree; with --column, the upstream columns of a dbt model's column."""
    if column or columns:
        _columns(key, column or None, file, module, attribute, as_json)
        return
    from headwater.cli.render import lineage_tree

    try:
        p = _Project(file, module, attribute, home)
        root, ups, downs = p.instance.lineage(p.defs, key, up, down)
        statuses = p.instance.statuses(p.defs)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(_graph_json(root, p.defs.graph, ups, downs, statuses), indent=2) + "\n")
        return
    out.print(lineage_tree(root, p.defs.graph, ups, downs, statuses))


def _graph_json(root, graph, ups, downs, statuses):  # type: ignore[no-untyped-def]
    """The root, and each asset up- and downstream with its distance and its edges inside the view."""
    shown = {root} | ups | downs

    def row(key, depth):  # type: ignore[no-untyped-def]
        st = statuses.get(key)
        return {"key": str(key), "depth": depth, "status": st.status.value if st else None,
                "stale": st.stale if st else None,
                "parents": sorted(str(k) for k in graph.parents(key) if k in shown)}

    def walk(edges, allowed):  # type: ignore[no-untyped-def]
        depth, frontier, seen, rows = 0, [root], {root}, []
        while frontier:
            depth += 1
            nxt = sorted({o for k in frontier for o in edges(k) if o in allowed and o not in seen}, key=str)
            seen.update(nxt)
            rows += [row(k, depth) for k in nxt]
            frontier = nxt
        return rows

    return {**row(root, 0), "upstream": walk(graph.parents, ups), "downstream": walk(graph.children, downs)}


def _columns(model: str, names: list[str] | None, file: str | None, module: str | None, attribute: str | None,
             as_json: bool = False) -> None:
    from headwater.definitions.loader import find_location, load_definitions
    from headwater.integrations.dbt.lineage import find_model, model_lineage

    try:
        defs = load_definitions(find_location(file, module, attribute))
        project, uid = find_model(defs, model)
        found = model_lineage(project, uid, names)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps([c.to_dict() for c in found], indent=2) + "\n")
        return
    for i, lin in enumerate(found):
        if i:
            out.print("")
        text = lin.render()
        if not lin.upstream:
            text += "  (computed from no upstream column)"
        out.print(text, markup=False, highlight=False)
