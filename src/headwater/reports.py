"""Plain-data shapes of status and runs, shared by ``status --json`` and the web API.

One function per shape so the CLI and the API can never drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from headwater.core.asset_graph import AssetGraph
from headwater.core.checks import CheckStatus
from headwater.core.freshness import FreshnessStatus
from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord, StepRecord
from headwater.core.status import SUMMARY_ROOTS, AssetStatus, StaleCause, StaleCauseKind

_ISO: dict[float, str] = {}


def iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC. Remembered: a graph's rows repeat the same times (a run's timestamp in
    each of its assets, a data time passed down to every descendant), and formatting one is
    most of what a status row costs after the dicts themselves."""
    if ts is None:
        return None
    text = _ISO.get(ts)
    if text is None:
        if len(_ISO) >= 200_000:
            _ISO.clear()
        text = _ISO[ts] = datetime.fromtimestamp(ts, UTC).isoformat()
    return text


def cause_to_dict(cause: StaleCause) -> dict[str, Any]:
    """One cause with its detail, without its upstream's causes inlined: those are in the
    upstream's own entry. Inlining them would repeat shared subtrees once per path through
    the graph, which grows exponentially with depth. (A partition's page lists its causes so.)"""
    return {
        "kind": cause.kind.value,
        "key": str(cause.key),
        "dep": str(cause.dep) if cause.dep else None,
        "detail": cause.detail,
    }


def cause_ref(cause: StaleCause) -> dict[str, Any]:
    """A cause in a ``status --json`` row: what and where, not its detail in words. A detail
    names versions and run ids (~130 characters): five root causes' and the direct causes' made
    a stale row 2.5 KB where a fresh one is 0.6 KB, and a stale asset's row is read for what
    and where; ``headwater why KEY`` (and ``GET /api/assets/KEY``) gives every detail."""
    key, dep = cause.key, cause.dep
    return {"kind": cause.kind._value_, "key": key._str if type(key) is AssetKey else str(key),
            "dep": (dep._str if type(dep) is AssetKey else str(dep)) if dep else None}


ROOTS_LISTED = SUMMARY_ROOTS
"""How many root causes a status row lists; ``stale_root_cause_count`` says how many there are."""

CAUSES_LISTED = 4
"""How many direct causes a status row lists (``stale_cause_count`` says how many there are):
an asset with many parents that were all updated has two causes per parent. Four, so that
``listed_causes`` can always keep one of each kind (there are four) and the table's ``stale``
column (the kinds) stays exact."""


def listed_causes(causes: Sequence[StaleCause]) -> Sequence[StaleCause]:
    """The direct causes a row lists, in their order: the first of each kind, then the first
    others, ``CAUSES_LISTED`` in all."""
    if len(causes) <= CAUSES_LISTED:
        return causes
    kinds: set[StaleCauseKind] = set()
    picked: set[int] = set()
    for i, c in enumerate(causes):
        if c.kind not in kinds:
            kinds.add(c.kind)
            picked.add(i)
    for i in range(len(causes)):
        if len(picked) >= CAUSES_LISTED:
            break
        picked.add(i)
    return [causes[i] for i in sorted(picked)]


def status_to_dict(status: AssetStatus, graph: AssetGraph, root_count: int | None = None) -> dict[str, Any]:
    """One asset's status as plain data. Its causes are bounded: the first ``CAUSES_LISTED``
    direct ones and the first ``ROOTS_LISTED`` root causes, with their counts (``root_count``
    when the caller counted them for the whole graph at once, see ``core.root_counts``), so a
    row's size does not grow with the number of parents or of paths through the graph;
    ``headwater why`` lists them all, in words.

    Written for speed (a computed ``status --json`` builds one per asset, 100,000 of them):
    keys' texts read off the interned key, empty labels and causes made without a call, the
    time formatting cache read inline; every field is what the plain spelling gives."""
    key = status.key
    spec = graph.spec(key)
    mat = status.last_materialization
    stale = status.stale
    causes = status.causes
    if not stale:
        roots: Sequence[StaleCause] = ()
        root_count = 0
    else:
        roots = status.roots[:ROOTS_LISTED]
        if root_count is None:
            root_count = len(status.roots)
    kinds, tags, pset = spec.kinds, spec.tags, status.partitions
    cached = _ISO.get
    at = mat.timestamp if mat else None
    data_time = status.data_time
    failure = status.failure
    return {
        "key": key._str if type(key) is AssetKey else str(key),
        "group": spec.group,
        "kinds": sorted(kinds) if kinds else [],
        "owners": list(spec.owners),
        "tags": dict(tags) if tags else {},
        "is_source": status.is_source,
        "status": status.status._value_,  # an enum's value, read without its descriptor
        "stale": stale,
        "stale_causes": [cause_ref(c) for c in listed_causes(causes)] if causes else [],
        "stale_cause_count": len(causes),
        "stale_root_causes": [cause_ref(c) for c in roots] if roots else [],
        "stale_root_cause_count": root_count,
        "last_materialized_at": None if at is None else (cached(at) or iso(at)),
        "last_observed_at": iso(status.last_updated_at) if status.is_source else None,
        "run_id": status.last_run_id,
        "last_attempt_run_id": status.last_attempt_run_id,
        "data_version": status.data_version,
        "data_time": None if data_time is None else (cached(data_time) or iso(data_time)),
        "code_version": spec.code_version,
        "ran_on_stale_inputs": bool(mat and mat.ran_on_stale_inputs),
        "error": failure.message if failure else None,
        "partitions": None if pset is None else {**pset.counts(), "summary": pset.summary()},
    }


def partitions_to_dict(status: AssetStatus) -> dict[str, Any] | None:
    """A partitioned asset's roll-up: counts by state and ``331/338 materialized · 2 failed``."""
    pset = status.partitions
    if pset is None:
        return None
    return {**pset.counts(), "summary": pset.summary()}


def freshness_to_dict(f: FreshnessStatus | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {
        "state": f.state.value,
        "policy": f.policy.describe(),
        "overdue_since": iso(f.overdue_since),
        "late_by_seconds": f.late_by,
        "next_deadline": iso(f.next_deadline),
        "reason": f.reason,
    }


def check_to_dict(c: CheckStatus) -> dict[str, Any]:
    return {
        "name": c.name,
        "state": c.state.value,
        "severity": c.severity,
        "blocking": c.blocking,
        "evaluated_at": iso(c.evaluated_at),
        "run_id": c.run_id,
        "detail": c.detail,
        "metadata": dict(c.metadata),
    }


def health_to_dict(h: AssetHealth, graph: AssetGraph, root_count: int | None = None) -> dict[str, Any]:
    """``status --json`` and the web API: the status fields plus health, freshness and checks."""
    out = status_to_dict(h.status, graph, root_count)
    fresh = h.freshness
    if fresh is None:  # ``health_fields``, spelled out for the usual case
        out["health"] = h.health._value_
        out["health_reasons"] = list(h.reasons)
        out["freshness"] = out["overdue_since"] = None
    else:
        out.update(health_fields(h.health.value, h.reasons, fresh))
    checks = h.checks
    out["checks"] = [check_to_dict(c) for c in checks] if checks else []
    return out


HEALTH_FIELDS = ("health", "health_reasons", "freshness", "overdue_since")
"""The fields of a ``health_to_dict`` row that move with the clock (freshness, and the badge
and reasons it is part of), in their place: after the status fields, before ``checks``."""


def health_fields(health: str, reasons: tuple[str, ...], freshness: FreshnessStatus | None) -> dict[str, Any]:
    """``HEALTH_FIELDS`` of a row: a stored snapshot recomputes just these when read."""
    fresh = freshness_to_dict(freshness)
    return {"health": health, "health_reasons": list(reasons), "freshness": fresh,
            "overdue_since": fresh["overdue_since"] if fresh else None}


def row_summary(row: dict[str, Any]) -> list[Any]:
    """What the status table and the status filters read of a ``health_to_dict`` row, as a
    short list: a stored snapshot of the rows keeps it beside each row, so that printing the
    table or filtering never parses the rows themselves. Positions: ``SUMMARY_FIELDS``."""
    fresh = row["freshness"]
    parts = row.get("partitions")
    return [row["key"], row["group"], row["health"], row["status"], parts["summary"] if parts else None,
            sorted({c["kind"] for c in row["stale_causes"]}) if row["stale"] else None,
            fresh["state"] if fresh else None, row["data_time"],
            row["last_observed_at"] if row["is_source"] else row["last_materialized_at"], row["run_id"],
            [[c["name"], c["state"]] for c in row["checks"]]]


SUMMARY_FIELDS = ("key", "group", "health", "status", "partitions_summary", "stale_kinds", "freshness_state",
                  "data_time", "last_at", "run_id", "checks")


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status.value,
        "selection": run.selection,
        "asset_keys": [str(k) for k in run.asset_keys],
        "tags": dict(run.tags),
        "parent_run_id": run.parent_run_id,
        "executor": run.executor,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "duration": run.duration,
        "reason": run.reason,
        "cancel_requested_at": iso(run.cancel_requested_at),
    }


def step_to_dict(step: StepRecord) -> dict[str, Any]:
    return {
        "step_key": step.step_key,
        "status": step.status.value,
        "asset_keys": [str(k) for k in step.asset_keys],
        "attempt": step.attempt,
        "started_at": iso(step.started_at),
        "ended_at": iso(step.ended_at),
        "error": step.error.message if step.error else None,
        "detail": step.detail,
    }
