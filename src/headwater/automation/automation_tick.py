"""One declarative-automation tick: every asset's condition, in one topological pass.

``evaluate_automation`` is pure: (graph, conditions, statuses, memory, now, in-flight
assets) -> what to request, why, and the memory for the next tick. The daemon stores the
explanations and the memory in the tick record and queues the run requests; nothing here
reads the clock or the store.

Why one pass, upstream first: when an asset is requested, every asset below it sees that
in the same tick and can join the same run instead of waiting for the next tick (an eager
chain ``a -> b -> c`` becomes one run ``{b, c}``, not one run per tick). All requests of a
tick go into a single run: the planner orders and parallelises inside a run, and a run
key built from the tick time and the requested keys makes a re-evaluated tick idempotent.

The per-asset conditions themselves (``conditions.py``) read the facts through a
``TickContext``; this module owns the context, the memory between ticks and the result.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.automation.run_requests import RunRequest
from headwater.core.asset_graph import AssetGraph
from headwater.core.cron import Cron
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus
from headwater.errors import DefinitionError

if TYPE_CHECKING:
    from headwater.automation.conditions import AutomationCondition

MEMORY_VERSION = 1
AUTOMATION_TAG = "headwater/automation"
TICK_TAG = "headwater/tick"


@dataclass(frozen=True, slots=True)
class AutomationMemory:
    """What a tick must remember for the next one; plain JSON-safe data.

    ``requested_at``: asset key -> tick time at which automation last requested it, kept
    only while that request is outstanding (the asset has not been materialized since), so
    that ``eager``/``on_missing``/``on_freshness`` do not ask twice for the same thing while
    the run is queued, running, or after it failed. ``cron_ticks``: asset key -> cron id
    (``"expr|tz"``) -> the latest cron tick for which ``on_cron`` already requested it.
    ``last_tick``: when the previous tick was evaluated (None before the first).
    """

    requested_at: Mapping[str, float] = field(default_factory=dict)
    cron_ticks: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    last_tick: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (the daemon stores it inside the tick record)."""
        return {
            "version": MEMORY_VERSION,
            "last_tick": self.last_tick,
            "requested_at": dict(sorted(self.requested_at.items())),
            "cron_ticks": {k: dict(sorted(v.items())) for k, v in sorted(self.cron_ticks.items())},
        }

    @staticmethod
    def from_json(raw: Mapping[str, Any] | str | None) -> AutomationMemory:
        """Read what ``to_json`` produced (as a dict or as JSON text); None gives empty memory.

        Unknown fields are ignored and bad entries dropped: losing memory only means one
        request may be repeated, which the run key and the in-flight guard absorb.
        """
        if raw is None or raw == "":
            return AutomationMemory()
        data = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(data, Mapping):
            return AutomationMemory()
        requested = {str(k): float(v) for k, v in (data.get("requested_at") or {}).items()
                     if isinstance(v, (int, float))}
        crons: dict[str, dict[str, float]] = {}
        for k, v in (data.get("cron_ticks") or {}).items():
            if isinstance(v, Mapping):
                crons[str(k)] = {str(c): float(t) for c, t in v.items() if isinstance(t, (int, float))}
        last = data.get("last_tick")
        return AutomationMemory(requested, crons, float(last) if isinstance(last, (int, float)) else None)


@dataclass(frozen=True, slots=True)
class AutomationTickResult:
    """What one tick decided.

    ``requested``: every asset to materialize; ``run_requests``: the same assets batched
    (one run per tick, or none); ``explanations``: asset key -> ``{"requested": bool,
    "tree": {label, value, detail, children}}`` for every asset with a condition (JSON-safe,
    rendered by ``explain``); ``memory``: to hand to the next tick.
    """

    requested: frozenset[AssetKey]
    run_requests: list[RunRequest]
    explanations: dict[str, dict[str, Any]]
    memory: AutomationMemory


class TickContext:
    """The facts of one tick, shared by every condition node while it is evaluated.

    Mutable only by ``evaluate_automation`` as it walks down the graph: ``requested`` grows
    as assets are requested, so conditions of downstream assets can see "requested in this
    tick" for their parents. Condition nodes read it and never change it, except
    ``cron_hits`` (the cron ticks an ``on_cron`` found due for the asset being evaluated).
    """

    __slots__ = ("graph", "statuses", "now", "in_flight", "requested", "requested_at", "cron_ticks",
                 "cron_hits", "projected", "_cron_cache", "_when_cache")

    def __init__(self, graph: AssetGraph, statuses: Mapping[AssetKey, AssetStatus], now: float,
                 in_flight: frozenset[AssetKey], memory: AutomationMemory) -> None:
        self.graph = graph
        self.statuses = statuses
        self.now = now
        self.in_flight = in_flight
        self.requested: dict[AssetKey, None] = {}  # insertion-ordered set: topological order
        self.requested_at = memory.requested_at
        self.cron_ticks = memory.cron_ticks
        self.cron_hits: list[tuple[str, float]] = []
        # data time an asset requested in this tick will have once materialized
        self.projected: dict[AssetKey, float] = {}
        self._cron_cache: dict[str, tuple[float, str]] = {}
        self._when_cache: dict[float, str] = {}

    def cron_tick(self, cron: Cron, cron_id: str) -> tuple[float, str]:
        """The latest tick of ``cron`` (whose id is ``cron_id``) at or before now, and its
        text; computed once per tick."""
        hit = self._cron_cache.get(cron_id)
        if hit is None:
            tick = cron.previous(self.now)
            hit = self._cron_cache[cron_id] = (tick, self.when(tick))
        return hit

    def when(self, ts: float) -> str:
        """``when(ts)``, remembered for the tick: many assets share the same times."""
        text = self._when_cache.get(ts)
        if text is None:
            text = self._when_cache[ts] = when(ts)
        return text

    def data_time_after_run(self, parents: tuple[AssetKey, ...]) -> float:
        """The data time an asset with ``parents`` would get if materialized now.

        Mirrors execution: the oldest known data time among its inputs (for an input
        requested in this same tick, the data time it will have), or now without any.
        """
        out: float | None = None
        projected = self.projected
        statuses = self.statuses
        for p in parents:
            t = projected.get(p)
            if t is None:
                ps = statuses.get(p)
                t = ps.data_time if ps is not None else None
            if t is not None and (out is None or t < out):
                out = t
        return self.now if out is None else out


def when(ts: float) -> str:
    """A POSIX time as readable UTC text for explanations."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


def _iso_ms(ts: float) -> str:
    ms = int(round((ts - int(ts)) * 1000))
    base = int(ts)
    if ms == 1000:
        base, ms = base + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base)) + f".{ms:03d}Z"


def automation_run_key(now: float, keys: list[str]) -> str:
    """Deterministic from (tick time, sorted keys): re-evaluating a tick cannot queue twice."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
    return f"automation:{_iso_ms(now)}:{digest}"


def evaluate_automation(graph: AssetGraph, conditions: Mapping[AssetKey, AutomationCondition],
                        statuses: Mapping[AssetKey, AssetStatus], memory: AutomationMemory, now: float,
                        in_flight: frozenset[AssetKey] = frozenset()) -> AutomationTickResult:
    """Evaluate every asset's condition once, upstream first, and batch the requests.

    ``in_flight``: assets in queued or started runs (their conditions see ``in_progress``).
    ``memory`` is not modified; the new memory is in the result.
    """
    for key in conditions:
        if key not in graph:
            raise DefinitionError(f"automation condition given for unknown asset {str(key)!r}")
    # The explanations are ~10 small dicts per asset, all kept: with the cyclic collector on,
    # its full passes over the growing heap cost more than the evaluation itself. Nothing
    # built here forms a cycle, so pausing it loses nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _evaluate(graph, conditions, statuses, memory, now, in_flight)
    finally:
        if collecting:
            gc.enable()


def _evaluate(graph: AssetGraph, conditions: Mapping[AssetKey, AutomationCondition],
              statuses: Mapping[AssetKey, AssetStatus], memory: AutomationMemory, now: float,
              in_flight: frozenset[AssetKey]) -> AutomationTickResult:
    t = TickContext(graph, statuses, now, in_flight, memory)
    requested = t.requested
    new_requested_at = dict(memory.requested_at)
    new_cron: dict[str, Mapping[str, float]] = {}
    explanations: dict[str, dict[str, Any]] = {}
    parents_of = graph.dag.parents
    hits = t.cron_hits
    for key in graph.keys:
        cond = conditions.get(key)
        if cond is None:
            continue
        parents = parents_of(key)
        skey = str(key)
        tree = cond._eval(t, key, statuses.get(key), parents)
        value = tree["value"]
        explanations[skey] = {"requested": value, "tree": tree}
        if value:
            requested[key] = None
            new_requested_at[skey] = now
            t.projected[key] = t.data_time_after_run(parents)
            if hits:
                merged = dict(memory.cron_ticks.get(skey, {}))
                merged.update(hits)
                new_cron[skey] = merged
        if hits:
            hits.clear()
    # Keep memory small: a request answered by a later materialization is done with, and
    # assets that lost their condition are forgotten.
    outstanding: dict[str, float] = {}
    for key in conditions:
        skey = str(key)
        req = new_requested_at.get(skey)
        if req is None:
            continue
        st = statuses.get(key)
        if st is None or st.last_updated_at is None or st.last_updated_at <= req:
            outstanding[skey] = req
    cron_ticks = {k: v for k, v in memory.cron_ticks.items() if k in explanations}
    cron_ticks.update(new_cron)
    keys = list(requested)
    runs: list[RunRequest] = []
    if keys:
        names = [str(k) for k in keys]
        runs.append(RunRequest(selection="automation", run_key=automation_run_key(now, names),
                               tags={AUTOMATION_TAG: "conditions", TICK_TAG: _iso_ms(now)},
                               asset_keys=tuple(keys), mode="all"))
    return AutomationTickResult(
        requested=frozenset(keys), run_requests=runs, explanations=explanations,
        memory=AutomationMemory(outstanding, cron_ticks, now))
