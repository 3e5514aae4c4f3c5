"""Everything the asset page and ``/api/assets/{key}`` show about one asset."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from headwater.core.events import AssetMaterialized, CheckEvaluated
from headwater.core.keys import AssetKey, to_key
from headwater.errors import HeadwaterError
from headwater.reports import iso
from headwater.web.attempts import Attempt, Cause, attempts, latest_cause
from headwater.web.charts import RANGES, Chart, history_charts
from headwater.web.column_lineage_view import column_lineage
from headwater.web.context import WebContext
from headwater.web.graph_view import NodeView, asset_node
from headwater.web.layout import layout
from headwater.web.shapes import asset_row, event_row

HISTORY = 50
LINEAGE_MAX = 120
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\-]*")


class NoSuchAsset(HeadwaterError):
    """The UI was asked about a key that no asset has (shown as 404)."""


def known_key(ctx: WebContext, text: str) -> AssetKey:
    key = to_key(text)
    if key not in ctx.graph:
        near = difflib.get_close_matches(str(key), sorted(ctx.key_names), n=3)
        raise NoSuchAsset(f"no asset has the key {str(key)!r}" + (f"; did you mean {', '.join(near)}?" if near else ""))
    return key


def definition(ctx: WebContext, key: AssetKey) -> dict[str, Any]:
    spec = ctx.graph.spec(key)
    checks = [{"name": c.spec.name, "severity": c.spec.severity, "blocking": c.spec.blocking,
               "description": c.spec.description,
               "where": str(c.spec.location) if c.spec.location else None} for c in ctx.defs.checks_for(key)]
    return {
        "key": str(key), "group": spec.group, "description": spec.description, "code_version": spec.code_version,
        "owners": list(spec.owners), "tags": dict(spec.tags), "kinds": sorted(spec.kinds),
        "deps": [str(d) for d in spec.deps], "is_source": spec.is_source,
        "source_file": spec.location.file if spec.location else None,
        "source_line": spec.location.line if spec.location else None,
        "freshness_policy": spec.freshness.describe() if spec.freshness else None,
        "automation": getattr(spec.automation, "label", None) if spec.automation is not None else None,
        "checks": checks, "metadata": {str(k): _text(v) for k, v in spec.metadata.items()},
    }


def _text(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def lineage_keys(ctx: WebContext, key: AssetKey) -> tuple[set[AssetKey], set[AssetKey]]:
    for depth in (2, 1):
        _, ups, downs = ctx.instance.lineage(ctx.defs, key, depth, depth)
        if len(ups) + len(downs) <= LINEAGE_MAX or depth == 1:
            return ups, downs
    raise AssertionError("unreachable")


def asset_detail(ctx: WebContext, text: str, full: bool = False) -> dict[str, Any]:
    """The ``/api/assets/{key}`` document."""
    key = known_key(ctx, text)
    snap = ctx.cache.get()
    h = snap.healths[key]
    store = ctx.instance.store
    spec = ctx.graph.spec(key)
    mats = store.materializations(key, limit=HISTORY)
    obs = store.observations(key, limit=HISTORY) if spec.is_source else []
    ups, downs = lineage_keys(ctx, key)
    mat = h.status.last_materialization
    return {
        "asset": asset_row(h, ctx.graph, full),
        "definition": definition(ctx, key),
        "why": ctx.instance.why(ctx.defs, key),
        "ran_on_stale_inputs": [{"key": str(i.key), "state": i.state.value, "data_version": i.data_version,
                                 "detail": i.detail} for i in (mat.inputs if mat else ()) if i.state.value != "ok"],
        "materializations": [event_row(e) for e in mats],
        "attempts": [a.to_dict() for a in attempts(ctx, key, {e.event.run_id for e in mats if e.event.run_id})],
        "latest_cause": _cause_dict(latest_cause(ctx, h.status)),
        "observations": [event_row(e) for e in obs],
        "check_history": {name: [event_row(e) for e in events] for name, events in check_history(ctx, key).items()},
        "lineage": {
            "nodes": [{"key": str(k), "direction": "self" if k == key else "upstream" if k in ups else "downstream",
                       "health": snap.healths[k].health.value, "status": snap.healths[k].status.status.value}
                      for k in ctx.graph.toposorted(ups | downs | {key})],
            "edges": [[str(p), str(k)] for k in ups | downs | {key} for p in ctx.graph.parents(k)
                      if p in ups | downs | {key}],
        },
        "as_of": iso(snap.taken_at),
        "column_lineage": column_lineage(ctx.defs, key),
    }


def _cause_dict(cause: Cause | None) -> dict[str, Any] | None:
    return cause.to_dict() if cause is not None else None


def check_history(ctx: WebContext, key: AssetKey) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {c.spec.name: [] for c in ctx.defs.checks_for(key)}
    for stored in ctx.instance.store.check_history(key, limit=200):
        ev = stored.event
        assert isinstance(ev, CheckEvaluated)
        out.setdefault(ev.check_name, []).append(stored)
    return out


@dataclass
class AssetPage:
    """The asset page: the API document's parts, plus what only a page needs."""

    key: AssetKey
    health: Any
    spec: Any
    definition: dict[str, Any]
    why: list[list[tuple[str, str | None]]]
    materializations: list[AssetMaterialized]
    observations: list[Any]
    charts: list[Chart]
    checks: dict[str, list[CheckEvaluated]]
    lineage: Any
    lineage_nodes: list[NodeView]
    stale_inputs: list[Any]
    snapshot: Any  # what it was drawn from (the page follows changes from its cursor)
    attempts: list[Attempt]
    cause: Cause | None
    history: list[tuple[str, Any]]  # ("materialized" | "failed" | "skipped", the event or attempt), newest first
    range: str
    column_lineage: dict[str, Any] | None = None


def asset_page(ctx: WebContext, text: str, now: float, range_: str = "all") -> AssetPage:
    key = known_key(ctx, text)
    snap = ctx.cache.get()
    h = snap.healths[key]
    store = ctx.instance.store
    spec = ctx.graph.spec(key)
    mats = [e.event for e in store.materializations(key, limit=HISTORY)]
    obs = [e.event for e in store.observations(key, limit=HISTORY)] if spec.is_source else []
    ups, downs = lineage_keys(ctx, key)
    keys = ups | downs | {key}
    dag = ctx.graph.dag.subgraph(keys)
    lay = layout(dag.layers(), {k: dag.parents(k) for k in keys}, {k: "" for k in keys})
    by_id = {str(k): k for k in keys}
    nodes = [asset_node(b, snap.healths[by_id[b.id]], now) for b in lay.boxes]
    for n in nodes:
        n.css = "self" if n.box.id == str(key) else ""
    mat = h.status.last_materialization
    if range_ not in RANGES:
        raise HeadwaterError(f"unknown time range {range_!r}; one of {', '.join(RANGES)}")
    tries = [] if spec.is_source else attempts(ctx, key, {m.run_id for m in mats if m.run_id})
    history: list[tuple[str, Any]] = sorted([("materialized", m) for m in mats] + [(a.state, a) for a in tries],
                                            key=lambda pair: -(pair[1].timestamp if pair[0] == "materialized"
                                                               else pair[1].at))
    span = RANGES[range_]
    policy = spec.freshness
    charts = history_charts(list(reversed(mats)), tries, since=now - span if span else None,
                            max_lag=getattr(policy, "max_lag", None), warn_lag=getattr(policy, "warn_lag", None))
    return AssetPage(
        key, h, spec, definition(ctx, key), [linkify(line, ctx.key_names) for line in ctx.instance.why(ctx.defs, key)],
        mats, obs, charts,
        {name: [e.event for e in events] for name, events in check_history(ctx, key).items()},
        lay, nodes, [i for i in (mat.inputs if mat else ()) if i.state.value != "ok"], snap,
        tries, latest_cause(ctx, h.status), history, range_,
        column_lineage(ctx.defs, key))


def linkify(line: str, keys: set[str]) -> list[tuple[str, str | None]]:
    """Split a sentence into (text, asset key or None) so the template can link each key."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    for m in _TOKEN.finditer(line):
        word = m.group(0).rstrip(".:;,")
        if word in keys:
            if m.start() > pos:
                out.append((line[pos:m.start()], None))
            out.append((word, word))
            pos = m.start() + len(word)
    if pos < len(line):
        out.append((line[pos:], None))
    return out
