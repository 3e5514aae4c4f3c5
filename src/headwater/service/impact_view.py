"""``impact``: the blast radius of an asset that stays late, failed or stale, as the CLI,
the API and the asset page show it. The computation is ``core/impact.py`` (pure); this
module gathers its inputs — data times from the status pass, checks, and the schedules,
sensors and automation conditions that would launch what is affected — and shapes the
answer as JSON."""

from __future__ import annotations

import re
from typing import Any

from headwater.core.impact import ImpactReport, Scenario, Trigger, impact
from headwater.core.keys import AssetKey
from headwater.core.selection import select
from headwater.definitions.definitions import Definitions
from headwater.errors import HeadwaterError, SelectionError
from headwater.reports import iso

DEFAULT_HORIZON = 24 * 3600.0
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_horizon(text: str | None) -> float:
    """``--for``: '6h', '90m', '2d', '1w' (default 24 h)."""
    if text is None or text == "":
        return DEFAULT_HORIZON
    m = _SPAN.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise HeadwaterError(f"--for {text!r} is not a duration: write e.g. 90m, 6h, 2d or 1w")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_scenario(text: str) -> Scenario:
    try:
        return Scenario(text)
    except ValueError:
        raise HeadwaterError(f"--if {text!r}: one of {', '.join(s.value for s in Scenario)}") from None


def compute_impact(instance: Any, defs: Definitions, key: AssetKey, scenario: Scenario, horizon: float) -> ImpactReport:
    if key not in defs.graph:
        raise HeadwaterError(f"unknown asset {str(key)!r}: no asset has this key")
    statuses = instance.statuses(defs)
    data_times = {k: s.data_time for k, s in statuses.items()}
    return impact(defs.graph, key, scenario, instance.clock(), horizon, data_times, defs.check_specs,
                  triggers(instance, defs))


def triggers(instance: Any, defs: Definitions) -> list[Trigger]:
    """Every schedule, sensor and automation condition, with the assets it would launch."""
    out: list[Trigger] = []
    rows = {r.name: r for r in instance.schedule_rows(defs)} if defs.schedules else {}
    for s in defs.schedules:
        row = rows.get(s.name)
        detail = f"{s.cron.expression} ({s.cron.timezone})" + ("" if row is None or row.enabled else ", off")
        out.append(Trigger("schedule", s.name, _keys(defs, s.selection), row.next_time if row else None, detail))
    for s in defs.sensors:
        keys = _keys(defs, getattr(s, "watch_selection", None)) | _keys(defs, getattr(s, "target_selection", None))
        if keys:
            out.append(Trigger("sensor", s.name, keys, None, f"every {s.interval:g}s"))
    for spec in defs.graph.specs:
        if spec.automation is not None:
            out.append(Trigger("automation", str(spec.key), frozenset({spec.key}), None,
                               str(getattr(spec.automation, "label", spec.automation))))
    return out


def _keys(defs: Definitions, selection: str | None) -> frozenset[AssetKey]:
    if not selection:
        return frozenset()
    try:
        return frozenset(select(defs.graph, selection))
    except SelectionError:
        return frozenset()


def impact_to_dict(report: ImpactReport) -> dict[str, Any]:
    """``impact --json`` and ``GET /api/impact/{key}``."""
    return {
        "asset": str(report.root),
        "if": report.scenario.value,
        "now": iso(report.now),
        "horizon_seconds": report.horizon,
        "data_time": iso(report.root_data_time),
        "headline": report.headline,
        "breaches": [str(a.key) for a in report.breaches],
        "assets": [{
            "key": str(a.key),
            "path": [str(k) for k in a.path],
            "owners": list(a.owners),
            "effect": a.effect,
            "policy": a.policy,
            "data_time": iso(a.data_time),
            "reachable_data_time": iso(a.reachable_data_time),
            "breach_at": iso(a.breach_at),
            "warn_at": iso(a.warn_at),
            "seconds_to_breach": None if a.breach_at is None else max(0.0, a.breach_at - report.now),
            "already_breached": a.already_breached,
        } for a in report.assets],
        "by_owner": {owner: [str(k) for k in keys] for owner, keys in report.by_owner.items()},
        "checks": [{"asset": str(c.asset), "check": c.name, "blocking": c.blocking, "severity": c.severity}
                   for c in report.checks],
        "triggers": [{"kind": t.kind, "name": t.name, "next_time": iso(t.next_time), "detail": t.detail,
                      "assets": sorted(str(k) for k in t.keys & {a.key for a in report.assets})}
                     for t in report.triggers],
    }
