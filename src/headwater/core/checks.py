"""Check status: the latest result of every check against the *current* materialization.

A result is tied to the materialization it evaluated; once the asset is materialized
again, the old result no longer speaks for the data and the check is ``not_run``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from headwater.core.events import AssetMaterialized, CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.core.specs import CheckSpec


class CheckState(StrEnum):
    PASSED = "passed"
    WARN = "warn"       # failed, severity warn
    FAILED = "failed"   # failed, severity error
    NOT_RUN = "not_run"


# A derived result, rebuilt for every asset on every read: not frozen, because a frozen
# dataclass's __init__ (object.__setattr__ per field) costs five times a plain one's, a
# fifth of a 10,000-asset health read. Nothing mutates it; treat it as a value.
@dataclass(slots=True, unsafe_hash=True)
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
    # Positional construction in field order: twice per asset on every health read.
    if result is None:
        return CheckStatus(spec.asset, spec.name, CheckState.NOT_RUN, spec.severity, spec.blocking,
                           spec.description, None, None, _NO_METADATA, "never run")
    if not is_current(result, mat):
        return CheckStatus(spec.asset, spec.name, CheckState.NOT_RUN, spec.severity, spec.blocking,
                           spec.description, result.timestamp, None, _NO_METADATA,
                           "the asset was materialized again since it last ran")
    if result.passed:
        state = CheckState.PASSED
    else:
        state = CheckState.WARN if result.severity == "warn" else CheckState.FAILED
    detail = result.description or (result.error.message if result.error else "")
    return CheckStatus(spec.asset, spec.name, state, result.severity.value, spec.blocking, spec.description,
                       result.timestamp, result.run_id, result.metadata, detail)


_NO_METADATA: Mapping[str, Any] = MappingProxyType({})


def check_statuses(specs: Iterable[CheckSpec], results: Mapping[AssetKey, Mapping[str, CheckEvaluated]],
                   materializations: Mapping[AssetKey, AssetMaterialized | None]) -> dict[AssetKey, tuple[CheckStatus, ...]]:
    out: dict[AssetKey, tuple[CheckStatus, ...]] = {}
    for asset, group in specs_by_asset(specs).items():
        found = results.get(asset, _NONE)
        mat = materializations.get(asset)
        out[asset] = tuple([check_status(spec, found.get(spec.name), mat) for spec in group])
    return out


_NONE: Mapping[str, CheckEvaluated] = MappingProxyType({})


def specs_by_asset(specs: Iterable[CheckSpec]) -> dict[AssetKey, list[CheckSpec]]:
    out: dict[AssetKey, list[CheckSpec]] = {}
    for spec in specs:
        group = out.get(spec.asset)
        if group is None:
            out[spec.asset] = [spec]
        else:
            group.append(spec)
    return out
