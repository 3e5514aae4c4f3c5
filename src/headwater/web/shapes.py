"""Plain-data shapes the JSON API returns, built on ``headwater.reports``.

An asset row IS a ``status --json`` row (``reports.health_to_dict``), which lists the first
few causes and counts them. By default the API does not count the root causes (that derives
them all) but says ``"cut":["stale_root_causes"]`` when there are more than it lists, and
cuts each ``health_reasons`` sentence to 300 characters (a check's or a failure's words can
be long), naming it in ``cut`` too. ``?full=true`` gives exactly ``status --json``.
``rows.py`` writes the bounded rows; this module gives them as data.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import Event, event_to_dict
from headwater.core.health import AssetHealth
from headwater.core.records import StoredEvent
from headwater.reports import health_to_dict, iso
from headwater.web.rows import RowWriter, plain


def asset_row(h: AssetHealth, graph: AssetGraph, full: bool = False) -> dict[str, Any]:
    """``status --json`` for one asset; bounded unless ``full`` (see the module docstring)."""
    if full:
        return health_to_dict(h, graph)
    row: dict[str, Any] = json.loads(RowWriter(graph).row(h))
    return row


def event_row(stored: StoredEvent) -> dict[str, Any]:
    """One stored event: its id (to poll for what follows), type, time, and its own fields."""
    return {"id": stored.id, "type": stored.event.type_name, "time": iso(stored.event.timestamp),
            "timestamp": stored.event.timestamp, "data": plain(event_to_dict(stored.event))}


def plain_event(event: Event) -> dict[str, Any]:
    return {"type": event.type_name, "time": iso(event.timestamp), "data": plain(event_to_dict(event))}


def instigator_row(row: Any, kind: str) -> dict[str, Any]:
    return {"kind": kind, "name": row.name, "enabled": row.enabled, "detail": row.detail, "target": row.target,
            "last_tick": iso(row.last_tick), "last_status": row.last_status, "next_time": iso(row.next_time),
            "cursor": row.cursor}


def tick_row(tick: Any) -> dict[str, Any]:
    return {"instigator": tick.instigator, "status": tick.status.value, "time": iso(tick.timestamp),
            "tick_time": iso(tick.tick_time), "run_ids": list(tick.run_ids), "run_keys": list(tick.run_keys),
            "skip_reason": tick.skip_reason, "error": tick.error.message if tick.error else None}
