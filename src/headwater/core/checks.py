"""Check status: the latest result of every check against the *current* materialization.

A result is tied to the materialization it evaluated; once the asset is materialized
again, the old result no longer speaks for the data and the check is ``not_run``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from headwater.core.events import AssetMaterialized, CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.core.specs import CheckSpec


class CheckState(StrEnum):
    PASSED = "passed"
    WARN = "warn"       # failed, severity warn
    FAILED = "failed"   # failed, severity error
    NOT_RUN = "not_run"


@dataclass(frozen=True, slots=True)
class CheckStatus:
    key: AssetKey
    name: str
    state: CheckState
    severity: str
    blocking: bool = False
    description: str | None = None
    evaluated_at: float | None = None
    run_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""


def is_current(result: CheckEvaluated, mat: AssetMaterialized | None) -> bool:
    if mat is None:
        return result.target_timestamp is None
    return result.target_run_id == mat.run_id and result.target_timestamp == mat.timestamp


def check_status(spec: CheckSpec, result: CheckEvaluated | None, mat: AssetMaterialized | None) -> CheckStatus:
    if result is None or not is_current(result, mat):
        detail = "never run" if result is None else "the asset was materialized again since it last ran"
        return CheckStatus(spec.asset, spec.name, CheckState.NOT_RUN, spec.severity, spec.blocking,
                           spec.description, detail=detail,
                           evaluated_at=result.timestamp if result else None)
    if result.passed:
        state = CheckState.PASSED
    else:
        state = CheckState.WARN if result.severity == "warn" else CheckState.FAILED
    detail = result.description or (result.error.message if result.error else "")
    return CheckStatus(spec.asset, spec.name, state, result.severity.value, spec.blocking, spec.description,
                       result.timestamp, result.run_id, result.metadata, detail)


def check_statuses(specs: Iterable[CheckSpec], results: Mapping[AssetKey, Mapping[str, CheckEvaluated]],
                   materializations: Mapping[AssetKey, AssetMaterialized | None]) -> dict[AssetKey, tuple[CheckStatus, ...]]:
    out: dict[AssetKey, list[CheckStatus]] = {}
    for spec in specs:
        result = results.get(spec.asset, {}).get(spec.name)
        out.setdefault(spec.asset, []).append(check_status(spec, result, materializations.get(spec.asset)))
    return {k: tuple(v) for k, v in out.items()}
