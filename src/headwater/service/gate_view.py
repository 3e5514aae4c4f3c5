"""What ``why``, ``automation explain`` and ``materialize`` say and do about check gates
(``core/check_gates.py``): which failed blocking check holds an asset, and refusing a
manual run of held assets unless it overrides the gates (recorded on the run)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from headwater.core.check_gates import OVERRIDE_TAG, Gate, explain_hold, gates, held
from headwater.core.keys import AssetKey
from headwater.definitions.definitions import Definitions
from headwater.errors import HeadwaterError


def holds(store: Any, defs: Definitions, rebuilt: Iterable[AssetKey] = ()) -> dict[AssetKey, Gate]:
    if not any(spec.blocking for spec in defs.check_specs):
        return {}
    return held(defs.graph, gates(defs.check_specs, store.latest_check_results()), rebuilt)


def hold_lines(store: Any, defs: Definitions, key: AssetKey) -> list[str]:
    gate = holds(store, defs).get(key)
    return [explain_hold(key, gate)] if gate is not None else []


def gate_run(store: Any, defs: Definitions, keys: Iterable[AssetKey], override: bool,
             tags: dict[str, str]) -> dict[str, str]:
    """The run's tags; raises if it would build held assets without ``override``."""
    planned = list(keys)
    stopped = {k: g for k, g in holds(store, defs, rebuilt=planned).items() if k in set(planned)}
    if not stopped:
        return tags
    what = "; ".join(sorted({g.describe() for g in stopped.values()}))
    names = ", ".join(sorted(str(k) for k in stopped))
    if not override:
        raise HeadwaterError(f"held by a failed blocking check: {names} ({what}). Rebuild the checked asset "
                             "until its check passes, or pass --override-gates to run anyway")
    return {**tags, OVERRIDE_TAG: f"{names} ({what})"[:500]}
