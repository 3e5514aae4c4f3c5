"""What the canvas graph page draws: the layout (cached per definitions version) and the state.

The browser draws the graph on a canvas (``static/graph.js``); the server lays it out.
Laying out 10,000 assets takes a few hundred milliseconds and depends only on the
definitions (keys, deps, groups), so it is computed once per *definitions version* (a
hash of exactly those) and kept: in memory for every selection asked, and on disk under
the instance's home for the whole graph, so a restarted UI draws at once. The state
(health, status, when, failing checks) changes with every run and is sent beside it as
parallel arrays, indexed like the layout's nodes: a 10,000-asset answer is a few hundred
kB of numbers and keys, parsed by the browser in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey
from headwater.web.graph_view import HEALTHS, STATUSES
from headwater.web.layout import NODE_H, NODE_W, layout

TIP_CHARS = 240
LAYOUT_FORMAT = 2  # bump when the shape of a cached layout changes


def definitions_version(graph: Any) -> str:
    """Names the graph's shape: equal for two definitions with the same keys, deps and groups."""
    digest = hashlib.sha1(f"layout-{LAYOUT_FORMAT}".encode())
    for key in graph.keys:
        spec = graph.spec(key)
        digest.update(f"{key}\t{spec.group}\t{','.join(str(d) for d in spec.deps)}\n".encode())
    return digest.hexdigest()[:16]


def canvas_layout(graph: Any, keys: Sequence[AssetKey]) -> dict[str, Any]:
    """Every node of ``keys`` placed (no group collapsed: the page draws groups when zoomed
    out), as parallel arrays; edges as pairs of node indexes."""
    dag = graph.dag.subgraph(keys) if len(keys) != len(graph) else graph.dag
    group_of = {k: graph.spec(k).group for k in keys}
    lay = layout(dag.layers(), {k: dag.parents(k) for k in keys}, group_of)
    groups = sorted({lane.group for lane in lay.lanes})
    gindex = {g: i for i, g in enumerate(groups)}
    index = {b.id: i for i, b in enumerate(lay.boxes)}
    edges: list[int] = []
    for e in lay.edges:
        edges += (index[e.source], index[e.target])
    return {
        "ids": [b.id for b in lay.boxes], "x": [round(b.x) for b in lay.boxes], "y": [round(b.y) for b in lay.boxes],
        "group": [gindex[b.group] for b in lay.boxes], "groups": groups,
        "lanes": [[round(ln.x), round(ln.y), round(ln.w), round(ln.h), gindex[ln.group], ln.size] for ln in lay.lanes],
        "edges": edges, "width": round(lay.width), "height": round(lay.height), "node_w": NODE_W, "node_h": NODE_H,
    }


def canvas_state(ids: Sequence[str], healths: dict[AssetKey, AssetHealth], by_id: dict[str, AssetKey]
                 ) -> dict[str, Any]:
    """The state of each laid-out node, in the layout's order."""
    h_index = {h: i for i, h in enumerate(HEALTHS)}
    s_index = {s: i for i, s in enumerate(STATUSES)}
    hs: list[int] = []
    ss: list[int] = []
    stale: list[int] = []
    when: list[float | None] = []
    bad: list[int] = []
    tips: dict[str, str] = {}
    for i, node in enumerate(ids):
        h = healths[by_id[node]]
        st = h.status
        hs.append(h_index[h.health.value])
        ss.append(s_index[st.status.value])
        stale.append(1 if st.stale else 0)
        when.append(round(st.last_updated_at, 1) if st.last_updated_at else None)
        bad.append(sum(1 for c in h.checks if c.state.value in ("failed", "warn")))
        if h.health.value != "healthy":
            text = "; ".join(h.reasons)
            tips[str(i)] = text if len(text) <= TIP_CHARS else text[:TIP_CHARS] + "…"
    return {"healths": list(HEALTHS), "statuses": list(STATUSES), "h": hs, "s": ss, "stale": stale, "t": when,
            "bad": bad, "tips": tips, "summary": dict(Counter(HEALTHS[i] for i in hs))}


class LayoutCache:
    """Layouts by (definitions version, the keys drawn); the whole graph's also on disk."""

    def __init__(self, folder: Path | None, size: int = 16) -> None:
        self.folder = folder
        self.size = size
        self._version: tuple[int, str] | None = None
        self._kept: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def version(self, graph: Any) -> str:
        if self._version is None or self._version[0] != id(graph):
            self._version = (id(graph), definitions_version(graph))
        return self._version[1]

    def get(self, graph: Any, keys: Sequence[AssetKey]) -> dict[str, Any]:
        version = self.version(graph)
        whole = len(keys) == len(graph)
        which = "all" if whole else hashlib.sha1("\n".join(map(str, keys)).encode()).hexdigest()[:16]
        with self._lock:
            found = self._kept.get((version, which))
            if found is not None:
                self._kept.move_to_end((version, which))
                return found
        found = self._read(version) if whole else None
        if found is None:
            found = canvas_layout(graph, keys)
            found["version"] = version
            if whole:
                self._write(version, found)
        with self._lock:
            self._kept[(version, which)] = found
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return found

    def _path(self, version: str) -> Path | None:
        return self.folder / f"layout-{version}.json" if self.folder is not None else None

    def _read(self, version: str) -> dict[str, Any] | None:
        path = self._path(version)
        if path is None or not path.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # unreadable: lay it out again (and write it anew)
        return data if data.get("version") == version else None

    def _write(self, version: str, data: dict[str, Any]) -> None:
        path = self._path(version)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            tmp.replace(path)
        except OSError:
            pass  # a read-only home: the layout is still kept in memory
