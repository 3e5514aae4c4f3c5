"""Observing source assets: call their ``observe`` function and record what it reports."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from headwater.core.events import AssetObserved
from headwater.definitions.assets import ParamKind, SourceDefinition
from headwater.definitions.context import AssetContext, RunLogger
from headwater.definitions.outputs import Observation
from headwater.errors import HeadwaterError


def observe_source(source: SourceDefinition, resources: dict[str, Any], run_id: str | None,
                   emit: Any = None, now: float | None = None) -> AssetObserved:
    if source.observe is None:
        raise HeadwaterError(f"source asset {source.key} has no observe function")
    kwargs: dict[str, Any] = {}
    for p in source.params:
        if p.kind is ParamKind.CONTEXT:
            kwargs[p.name] = AssetContext(run_id=run_id or "", step_key=str(source.key),
                                          selected_keys=(source.key,), resources=resources,
                                          log=RunLogger(emit or (lambda e: None), run_id or "", str(source.key)))
        elif p.kind is ParamKind.RESOURCE:
            kwargs[p.name] = resources[p.name]
    result = source.observe(**kwargs)
    if isinstance(result, str) or result is None:
        result = Observation(data_version=result)
    if not isinstance(result, Observation):
        raise HeadwaterError(f"observe function of {source.key} returned {type(result).__name__}; "
                             "return hw.Observation(data_version=..., data_time=...) or a version string")
    return AssetObserved(run_id=run_id, timestamp=now if now is not None else time.time(), key=source.key,
                         data_version=result.data_version, data_time=_seconds(result.data_time),
                         metadata=dict(result.metadata))


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise HeadwaterError("data_time must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return value.timestamp()
    return float(value)

