"""An asset's history in one list: materializations, failed and skipped attempts,
observations and check results, newest first (``headwater history``).

Materializations, observations and check results are facts of the asset; failed and skipped
attempts live with their runs, so they are found through the recent runs that planned the
asset and whose step for it did not succeed (one steps read per such run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.core.events import AssetMaterialized, AssetObserved, CheckEvaluated, RunStatus
from headwater.core.keys import AssetKey
from headwater.core.records import StepStatus
from headwater.storage.interfaces import EventStore

KINDS = ("materialization", "failure", "skipped", "observation", "check")
# Runs looked through for failed and skipped attempts: enough for a CLI page, bounded.
RUNS_SCANNED = 500


@dataclass(frozen=True)
class HistoryEntry:
    kind: str                      # one of KINDS
    timestamp: float
    run_id: str | None = None
    data_version: str | None = None
    data_time: float | None = None
    duration: float | None = None
    check: str | None = None       # check entries: the check's name
    passed: bool | None = None     # check entries
    detail: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def asset_history(store: EventStore, key: AssetKey, limit: int = 20,
                  kinds: frozenset[str] = frozenset(KINDS)) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    materialized_runs: set[str | None] = set()
    if "materialization" in kinds or "failure" in kinds or "skipped" in kinds:
        for stored in store.materializations(key, limit=limit):
            m = stored.event
            assert isinstance(m, AssetMaterialized)
            materialized_runs.add(m.run_id)
            if "materialization" in kinds:
                entries.append(HistoryEntry("materialization", m.timestamp, m.run_id, m.data_version, m.data_time,
                                            m.duration, metadata=dict(m.metadata)))
    if "observation" in kinds:
        for stored in store.observations(key, limit=limit):
            o = stored.event
            assert isinstance(o, AssetObserved)
            entries.append(HistoryEntry("observation", o.timestamp, o.run_id, o.data_version, o.data_time,
                                        metadata=dict(o.metadata)))
    if "check" in kinds:
        for stored in store.check_history(key, limit=limit):
            c = stored.event
            assert isinstance(c, CheckEvaluated)
            state = "passed" if c.passed else c.severity.value if c.severity.value == "warn" else "failed"
            entries.append(HistoryEntry("check", c.timestamp, c.run_id, check=c.check_name, passed=c.passed,
                                        detail=state + (f": {c.description}" if c.description else ""),
                                        metadata=dict(c.metadata)))
    if "failure" in kinds or "skipped" in kinds:
        entries.extend(_attempts(store, key, limit, materialized_runs, kinds))
    entries.sort(key=lambda e: e.timestamp, reverse=True)
    return entries[:limit]


def _attempts(store: EventStore, key: AssetKey, limit: int, materialized_runs: set[str | None],
              kinds: frozenset[str]) -> list[HistoryEntry]:
    out: list[HistoryEntry] = []
    unhappy = [RunStatus.FAILED, RunStatus.CANCELED]
    for run in store.list_runs(limit=RUNS_SCANNED, statuses=unhappy):
        if key not in run.asset_keys or run.run_id in materialized_runs:
            continue
        for step in store.run_steps(run.run_id):
            if key not in step.asset_keys:
                continue
            when = step.ended_at or step.started_at or run.ended_at or run.created_at or 0.0
            if step.status is StepStatus.FAILED and "failure" in kinds:
                out.append(HistoryEntry("failure", when, run.run_id,
                                        detail=step.error.message if step.error else step.detail))
            elif step.status is StepStatus.SKIPPED and step.detail != "already up to date" and "skipped" in kinds:
                out.append(HistoryEntry("skipped", when, run.run_id, detail=step.detail))
        if len(out) >= limit:
            break
    return out
