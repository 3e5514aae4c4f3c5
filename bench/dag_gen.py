"""Workload shapes shared by the Headwater and the Dagster side of the benchmarks.

Pure standard library, no Headwater import: ``dagster_bench.py`` runs in another
interpreter (the Dagster virtualenv) and imports this module too, so both orchestrators
see exactly the same graph and the same history for a given seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

DEFAULT_SEED = 20240601


@dataclass(frozen=True)
class Node:
    """One asset of a generated graph; ``parents`` point only to earlier layers."""

    name: str
    layer: int
    parents: tuple[str, ...]


def layered_dag(n: int, layers: int = 20, seed: int = DEFAULT_SEED, max_parents: int = 3) -> list[Node]:
    """``n`` assets in ``layers`` layers, listed in topological order (layer by layer).

    Every asset outside layer 0 has 1..``max_parents`` parents: the first in the layer just
    before it (so the graph really is ``layers`` deep), the others anywhere earlier.
    Names are valid keys for both orchestrators: ``l03_a00042``.
    """
    rng = random.Random(seed)
    layers = max(1, min(layers, n))
    sizes = [n // layers + (1 if i < n % layers else 0) for i in range(layers)]
    nodes: list[Node] = []
    by_layer: list[list[str]] = []
    earlier: list[str] = []
    index = 0
    for layer, size in enumerate(sizes):
        names = []
        for _ in range(size):
            name = f"l{layer:02d}_a{index:05d}"
            index += 1
            if layer == 0:
                parents: tuple[str, ...] = ()
            else:
                want = rng.randint(1, max_parents)
                chosen = [rng.choice(by_layer[layer - 1])]
                tries = 0
                while len(chosen) < want and tries < 10:
                    tries += 1
                    candidate = rng.choice(earlier)
                    if candidate not in chosen:
                        chosen.append(candidate)
                parents = tuple(chosen)
            nodes.append(Node(name, layer, parents))
            names.append(name)
        by_layer.append(names)
        earlier.extend(names)
    return nodes


@dataclass(frozen=True)
class SeedStep:
    """One step of a seeded past run: ``index`` into the node list; ``ok`` False = it failed."""

    index: int
    ok: bool = True


@dataclass(frozen=True)
class HistoryPlan:
    runs: list[list[SeedStep]]
    changed_code: frozenset[str]  # assets whose code version differs between history ("v1") and definitions ("v2")
    start_time: float

    @property
    def materializations(self) -> int:
        return sum(1 for run in self.runs for s in run if s.ok)

    @property
    def failures(self) -> int:
        return sum(1 for run in self.runs for s in run if not s.ok)

    def headwater_event_count(self) -> int:
        """RunStarted + RunFinished per run; StepStarted + StepSucceeded + AssetMaterialized per
        successful step; StepStarted + StepFailed per failed step."""
        return 2 * len(self.runs) + 3 * self.materializations + 2 * self.failures


def history_plan(nodes: list[Node], events: int, runs: int, seed: int = DEFAULT_SEED,
                 fail_rate: float = 0.02, code_change_rate: float = 0.01,
                 start_time: float = 1_700_000_000.0) -> HistoryPlan:
    """A past of ``runs`` runs with about ``events`` Headwater events in all.

    The first runs build every asset once, in topological order, a chunk per run; the rest
    re-materialize random subsets (sorted topologically, as a real run would). Later runs
    update assets whose children are not re-run, so those children become stale
    (``upstream_updated``) and their descendants ``upstream_stale``; ``code_change_rate``
    of the assets in the upper half of the graph get a new code version in the definitions
    (``code_changed``), which propagates too. A few steps fail.
    """
    rng = random.Random(seed + 1)
    # a failed step writes 2 events instead of 3; round up so the store holds at least ``events``
    per_run = max(1, math.ceil((events - 2 * runs) / (runs * (3 - fail_rate))))
    order = list(range(len(nodes)))
    plan: list[list[SeedStep]] = []
    for start in range(0, len(order), per_run):
        plan.append([SeedStep(i) for i in order[start:start + per_run]])
    while len(plan) < runs:
        chosen = sorted(rng.sample(order, min(per_run, len(order))))
        plan.append([SeedStep(i, ok=rng.random() >= fail_rate) for i in chosen])
    max_layer = max(n.layer for n in nodes)
    upper = [n.name for n in nodes if n.layer <= max_layer // 2]
    changed = frozenset(rng.sample(upper, max(1, int(len(nodes) * code_change_rate))))
    return HistoryPlan(plan, changed, start_time)


def data_version(run_index: int, name: str) -> str:
    return f"r{run_index:04d}-{name}"
