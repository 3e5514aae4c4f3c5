"""Which queued runs may start now: FIFO under global and per-selection concurrency limits.

Pure. A limit like ``{"kind:dbt": 2}`` counts every running run that touches at least one
asset matched by the selection; a queued run blocked by a limit does not hold back later
runs that the limit does not concern (no head-of-line blocking).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord


@dataclass(frozen=True, slots=True)
class Limit:
    selection: str
    keys: frozenset[AssetKey]
    max_runs: int


@dataclass(frozen=True, slots=True)
class QueueDecision:
    launch: tuple[RunRecord, ...]
    waiting: dict[str, str]  # run id -> why it waits


def runs_to_launch(queued: Sequence[RunRecord], running: Sequence[RunRecord], max_runs: int | None,
                   limits: Sequence[Limit]) -> QueueDecision:
    in_use = {lim.selection: sum(1 for r in running if _touches(r, lim)) for lim in limits}
    total = len(running)
    launch: list[RunRecord] = []
    waiting: dict[str, str] = {}
    for run in queued:  # oldest first
        if max_runs is not None and total >= max_runs:
            waiting[run.run_id] = f"{total} run(s) in progress, the limit is {max_runs}"
            continue
        blocked = [lim for lim in limits if _touches(run, lim) and in_use[lim.selection] >= lim.max_runs]
        if blocked:
            lim = blocked[0]
            waiting[run.run_id] = (f"{in_use[lim.selection]} run(s) touching {lim.selection} in progress, "
                                   f"the limit is {lim.max_runs}")
            continue
        launch.append(run)
        total += 1
        for lim in limits:
            if _touches(run, lim):
                in_use[lim.selection] += 1
    return QueueDecision(tuple(launch), waiting)


def _touches(run: RunRecord, limit: Limit) -> bool:
    return any(k in limit.keys for k in run.asset_keys)


def build_limits(concurrency_limits: Mapping[str, int], resolve) -> list[Limit]:  # type: ignore[no-untyped-def]
    """``resolve`` turns a selection into keys (``lambda s: select(graph, s)``)."""
    return [Limit(sel, frozenset(resolve(sel)), n) for sel, n in concurrency_limits.items()]
