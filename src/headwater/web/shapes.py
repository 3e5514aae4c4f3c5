"""Plain-data shapes the JSON API returns, built on ``headwater.reports``.

An asset row IS a ``status --json`` row (``reports.health_to_dict``). By default the API
bounds the three fields that can grow without limit on deep, much-rebuilt graphs — the
nested ``stale_causes`` tree (it repeats shared subtrees, so its size is exponential in the
depth of the graph), ```stale_root_causes`` (the first five are kept) and the ``health_reasons``
sentences — and says in ``cut`` what it shortened. ``?full=true`` gives exactly ``status --json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import Event, event_to_dict
from headwater.core.health import AssetHealth
from headwater.core.records import StoredEvent
from headwater.core.status import StaleCause
from headwater.reports import health_to_dict, iso

CAUSE_DEPTH = 1
MAX_ROOTS = 5
REASON_CHARS = 300


def asset_row(h: AssetHealth, graph: AssetGraph, full: bool = False) -> dict[str, Any]:
    """``status --json`` for one asset; bounded unless ``full`` (see the module docstring)."""
    if full:
        return health_to_dict(h, graph)
    cut: list[str] = []
    status = h.status
    changes: dict[str, Any] = {}
    if any(c.children for c in status.causes):
        pruned = tuple(_prune(c, CAUSE_DEPTH) for c in status.causes)
        if pruned != status.causes:
            changes["causes"] = pruned
            cut.append("stale_causes")
    head = tuple(status.roots[:MAX_ROOTS + 1])  # never len(): the roots are derived lazily
    if len(head) > MAX_ROOTS:
        changes["roots"] = head[:MAX_ROOTS]
        cut.append("stale_root_causes")
    elif head:
        changes["roots"] = head
    reasons = h.reasons
    if any(len(r) > REASON_CHARS for r in reasons):
        reasons = tuple(r if len(r) <= REASON_CHARS else r[:REASON_CHARS] + f"… ({len(r)} characters)"
                        for r in reasons)
        cut.append("health_reasons")
    if changes or reasons is not h.reasons:
        h = dataclasses.replace(h, status=dataclasses.replace(status, **changes), reasons=reasons)
    row = health_to_dict(h, graph)
    row["cut"] = cut
    return row


def _prune(cause: StaleCause, depth: int) -> StaleCause:
    if not cause.children:
        return cause
    if depth <= 1:
        return dataclasses.replace(cause, children=())
    return dataclasses.replace(cause, children=tuple(_prune(c, depth - 1) for c in cause.children))


def event_row(stored: StoredEvent) -> dict[str, Any]:
    """One stored event: its id (to poll for what follows), type, time, and its own fields."""
    return {"id": stored.id, "type": stored.event.type_name, "time": iso(stored.event.timestamp),
            "timestamp": stored.event.timestamp, "data": _plain(event_to_dict(stored.event))}


def plain_event(event: Event) -> dict[str, Any]:
    return {"type": event.type_name, "time": iso(event.timestamp), "data": _plain(event_to_dict(event))}


def _plain(value: Any) -> Any:
    """JSON-safe: mappings and sequences recursively; anything else odd becomes its text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        if isinstance(value, float) and value != value:  # NaN is not JSON
            return None
        return value
    return str(value)


def instigator_row(row: Any, kind: str) -> dict[str, Any]:
    return {"kind": kind, "name": row.name, "enabled": row.enabled, "detail": row.detail, "target": row.target,
            "last_tick": iso(row.last_tick), "last_status": row.last_status, "next_time": iso(row.next_time),
            "cursor": row.cursor}


def tick_row(tick: Any) -> dict[str, Any]:
    return {"instigator": tick.instigator, "status": tick.status.value, "time": iso(tick.timestamp),
            "tick_time": iso(tick.tick_time), "run_ids": list(tick.run_ids), "run_keys": list(tick.run_keys),
            "skip_reason": tick.skip_reason, "error": tick.error.message if tick.error else None}
