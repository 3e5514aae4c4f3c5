"""Check gates: a blocking check that failed holds back its asset's downstream across runs.

Inside one run a failed blocking check skips the readers of its asset (the coordinator).
Between runs, nothing used to remember it: the next schedule tick or automation pass
rebuilt the readers from the bad data. A gate is that memory, derived from stored facts
alone: the latest evaluation of a blocking check of asset A failed with severity error
(the in-run rule: a warning never blocks) → A's gate holds, and
every asset downstream of A is held until A is rebuilt and the check passes (its latest
evaluation passes). Schedules, sensors and automation prune held assets from what they
launch; ``why`` and ``automation explain`` say which check holds an asset; a manual run
may override it, and the override is recorded on the run (tag ``OVERRIDE_TAG``).

A run that rebuilds A itself is not held at A: A is re-checked in that run, and the
in-run rule decides for its readers. Pure: (graph, check specs, latest results) in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import CheckEvaluated, CheckSeverity
from headwater.core.keys import AssetKey
from headwater.core.specs import CheckSpec

OVERRIDE_TAG = "headwater/override_gates"
HELD_TAG = "headwater/held_by_gates"


@dataclass(frozen=True, slots=True)
class Gate:
    asset: AssetKey
    check: str
    evaluated_at: float
    detail: str = ""

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.evaluated_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        why = f": {self.detail}" if self.detail else ""
        return f"blocking check {self.check!r} on {self.asset} failed at {when}{why}"


def gates(specs: Iterable[CheckSpec], results: Mapping[AssetKey, Mapping[str, CheckEvaluated]]) -> dict[AssetKey, Gate]:
    """The assets whose gate holds: a blocking check's latest evaluation failed."""
    out: dict[AssetKey, Gate] = {}
    for spec in specs:
        if not spec.blocking:
            continue
        result = results.get(spec.asset, {}).get(spec.name)
        # As inside a run: only an error blocks (a producer such as dbt's warn_if may
        # report a blocking check's failure as a warning).
        if result is None or result.passed or result.severity is not CheckSeverity.ERROR or spec.asset in out:
            continue
        detail = result.description or (result.error.message if result.error else "")
        out[spec.asset] = Gate(spec.asset, spec.name, result.timestamp, detail)
    return out


def held(graph: AssetGraph, gate_by_asset: Mapping[AssetKey, Gate],
         rebuilt: Iterable[AssetKey] = ()) -> dict[AssetKey, Gate]:
    """Every asset downstream of a holding gate, with the nearest gate that holds it; gates
    on assets in ``rebuilt`` (the run being planned rebuilds and re-checks them) do not hold."""
    if not gate_by_asset:
        return {}
    open_gates = {k: g for k, g in gate_by_asset.items() if k not in set(rebuilt)}
    out: dict[AssetKey, Gate] = {}
    for key in graph.keys:  # upstream first: a parent's verdict is known before its children's
        for parent in graph.parents(key):
            gate = open_gates.get(parent) or out.get(parent)
            if gate is not None:
                out[key] = gate
                break
    return out


def explain_hold(key: AssetKey, gate: Gate) -> str:
    return (f"{key} is held: {gate.describe()}. Schedules, sensors and automation will not launch it until "
            f"{gate.asset} is rebuilt and the check passes (a manual run may override: "
            f"headwater materialize --override-gates)")
