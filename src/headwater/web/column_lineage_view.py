"""Column lineage on the asset page: where each column of a dbt model comes from.

The same answer as ``headwater lineage MODEL --columns`` (``integrations/dbt/lineage.py``),
for the asset page and the ``column_lineage`` field of ``/api/assets/{key}``. A page never
waits for ``dbt compile``: without compiled SQL the section says to run it. Results are
kept per (model, manifest file time), so reloading the page traces nothing again.
"""

from __future__ import annotations

import threading
from typing import Any

from headwater.core.keys import AssetKey
from headwater.errors import DefinitionError, HeadwaterError

_CACHE: dict[tuple[int, AssetKey, float], dict[str, Any] | None] = {}
_LOCK = threading.Lock()
_MAX = 256


def column_lineage(defs: Any, key: AssetKey) -> dict[str, Any] | None:
    """``{"columns": [...], "error": None}`` for a dbt model, seed or snapshot; None otherwise."""
    from headwater.integrations.dbt.lineage import dbt_projects

    for project in dbt_projects(defs):
        try:
            uid = project.unique_id_for(key)
        except DefinitionError:
            continue
        if uid not in project.manifest.nodes:
            return None  # a source or an exposure: no SQL of its own
        try:
            stamp = project.manifest.path.stat().st_mtime
        except OSError:
            stamp = 0.0
        cache_key = (id(project), key, stamp)
        with _LOCK:
            if cache_key in _CACHE:
                return _CACHE[cache_key]
        found = _trace(project, uid)
        with _LOCK:
            if len(_CACHE) >= _MAX:
                _CACHE.clear()
            _CACHE[cache_key] = found
        return found
    return None


def _trace(project: Any, uid: str) -> dict[str, Any]:
    from headwater.integrations.dbt.lineage import model_lineage

    node = project.manifest.nodes[uid]
    if node.resource_type == "seed":
        return {"columns": [], "error": None, "note": "a seed: its columns come from its CSV file"}
    try:
        found = model_lineage(project, uid, compile=False)
    except HeadwaterError as exc:
        return {"columns": [], "error": str(exc).split("\n")[0], "note": None}
    return {"columns": [{"column": c.column, "direct": [str(r) for r in c.direct],
                         "upstream": [str(r) for r in c.upstream], "unresolved": list(c.unresolved)}
                        for c in found], "error": None, "note": None}


__all__ = ["column_lineage"]
