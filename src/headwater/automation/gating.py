"""Check gates applied to what the daemon launches: schedules, sensors and automation do
not launch an asset held by a failed blocking check upstream (``core/check_gates.py``).
A request is pruned of its held assets; a request left with nothing is not queued, and
the tick says which gate held it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from headwater.automation.run_requests import RunRequest
from headwater.core.check_gates import HELD_TAG, Gate, gates, held
from headwater.core.keys import AssetKey
from headwater.core.selection import select
from headwater.definitions.definitions import Definitions


def current_holds(store: Any, defs: Definitions) -> tuple[dict[AssetKey, Gate], dict[AssetKey, Gate]]:
    """(gates that hold, by gated asset) and (held assets, by the gate holding each)."""
    if not any(spec.blocking for spec in defs.check_specs):
        return {}, {}
    by_asset = gates(defs.check_specs, store.latest_check_results())
    return by_asset, held(defs.graph, by_asset)


def prune(request: RunRequest, defs: Definitions, by_asset: dict[AssetKey, Gate]) -> tuple[RunRequest | None, str]:
    """The request without its held assets (None if nothing is left), and what held them."""
    if not by_asset:
        return request, ""
    keys = list(request.asset_keys) or defs.graph.toposorted(select(defs.graph, request.selection))
    holds = held(defs.graph, by_asset, rebuilt=keys)  # a run rebuilding the gated asset re-checks it
    stopped = [k for k in keys if k in holds]
    if not stopped:
        return request, ""
    note = "; ".join(sorted({f"{holds[k].describe()} (holds {', '.join(str(s) for s in stopped if holds[s] == holds[k])})"
                             for k in stopped}))
    remaining = tuple(k for k in keys if k not in holds)
    if not remaining:
        return None, note
    return replace(request, asset_keys=remaining, tags={**request.tags, HELD_TAG: note[:500]}), note
