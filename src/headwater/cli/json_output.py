"""The ``--json`` shapes of the commands that report, one function per shape.

Each shape is documented in docs/cli.md ("JSON output"), and tests/cli/test_json_output.py
holds every command's output to its documented schema, so a script can rely on both.
Times are ISO 8601 in UTC (like ``status --json``); keys are strings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from headwater.core.events import AlertDeliveryAttempt, AlertTransition, AssetObserved, CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.reports import iso


def emit(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (never through Rich, which would wrap it)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def materialize_result(*, run_id: str | None, status: str, queued: bool = False,
                       materialized: Iterable[AssetKey] = (), up_to_date: Iterable[AssetKey] = (),
                       skipped: Iterable[str] = (), errors: Mapping[str, Any] | None = None,
                       sources: Iterable[AssetKey] = ()) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "status": status,
        "queued": queued,
        "materialized": sorted(str(k) for k in materialized),
        "up_to_date": sorted(str(k) for k in up_to_date),
        "skipped": sorted(skipped),
        "errors": [{"step": step, "message": e.message} for step, e in (errors or {}).items()],
        "sources": sorted(str(k) for k in sources),
    }


def check_result(r: CheckEvaluated) -> dict[str, Any]:
    state = "passed" if r.passed else ("warn" if r.severity.value == "warn" else "failed")
    return {"key": str(r.key), "check": r.check_name, "state": state, "passed": r.passed,
            "severity": r.severity.value, "blocking": r.blocking, "description": r.description,
            "metadata": dict(r.metadata), "evaluated_at": iso(r.timestamp)}


def observation(o: AssetObserved) -> dict[str, Any]:
    return {"key": str(o.key), "data_version": o.data_version, "data_time": iso(o.data_time),
            "metadata": dict(o.metadata)}


def tick(t: Any) -> dict[str, Any]:
    return {"time": iso(t.timestamp), "instigator": t.instigator, "status": t.status.value,
            "run_ids": list(t.run_ids), "run_keys": list(t.run_keys), "skip_reason": t.skip_reason or None,
            "error": t.error.message if t.error else None, "cursor": t.cursor}


def instigator(r: Any) -> dict[str, Any]:
    return {"name": r.name, "enabled": r.enabled, "when": r.detail, "target": r.target,
            "last_tick": iso(r.last_tick), "last_status": r.last_status, "next": iso(r.next_time),
            "cursor": r.cursor}


def alerts(firing: Sequence[AlertTransition], deliveries: Sequence[AlertDeliveryAttempt]) -> dict[str, Any]:
    return {
        "firing": [{"rule": t.rule, "key": str(t.key), "since": iso(t.timestamp), "condition": t.condition,
                    "detail": t.detail} for t in firing],
        "deliveries": [{"time": iso(a.timestamp), "rule": a.rule, "key": str(a.key), "state": a.state.value,
                        "channel": a.channel, "attempt": a.attempt, "ok": a.ok, "detail": a.detail}
                       for a in deliveries],
    }


def history_entry(e: Any) -> dict[str, Any]:
    return {"kind": e.kind, "time": iso(e.timestamp), "run_id": e.run_id, "data_version": e.data_version,
            "data_time": iso(e.data_time), "duration": e.duration, "check": e.check, "passed": e.passed,
            "detail": e.detail, "metadata": e.metadata}


def automation_explanation(e: Any) -> dict[str, Any]:
    return {"key": str(e.key), "condition": e.condition, "tick_time": iso(e.tick_time), "evaluated": e.evaluated,
            "requested": e.requested, "value": e.value, "run_ids": list(e.run_ids), "lines": list(e.lines),
            "tree": e.tree}
