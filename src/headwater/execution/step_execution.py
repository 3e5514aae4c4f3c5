"""Run one step in the current process: load inputs, call the user function, record results.

This is the only code that calls asset functions, whichever executor is in use; it
writes the step's own events (start, each materialization as soon as it exists, end) so
that a worker in another process reports exactly like the in-process executor does.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from headwater.core.events import (
    AssetMaterialized,
    ErrorInfo,
    Event,
    InputRecord,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from headwater.core.keys import AssetKey, to_key
from headwater.core.versions import default_data_version
from headwater.definitions.assets import AssetsDefinition, ParamKind
from headwater.definitions.context import AssetContext, RunLogger
from headwater.definitions.definitions import Definitions
from headwater.definitions.outputs import MaterializeResult, Output
from headwater.errors import HeadwaterError
from headwater.execution.check_execution import evaluate_checks
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.storage.interfaces import EventWriter
from headwater.values.interface import ValueStore


class StepAbandoned(Exception):
    """The coordinator gave up on this step (timeout); its late results must not be recorded."""


class _Recorder:
    """Writes the step's events, refusing once the coordinator has abandoned the step."""

    def __init__(self, writer: EventWriter, abandoned: threading.Event | None) -> None:
        self._writer = writer
        self._abandoned = abandoned

    def write(self, events: list[Event]) -> None:
        if self._abandoned is not None and self._abandoned.is_set():
            raise StepAbandoned()
        self._writer.write(events)

    def emit(self, event: Event) -> None:
        self.write([event])


def execute_step(
    defs: Definitions,
    writer: EventWriter,
    values: ValueStore,
    request: StepRequest,
    abandoned: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
) -> StepOutcome:
    definition = defs.definition_for(request.asset_keys[0])
    values = defs.value_store or values  # a project's own store wins over the home's default
    rec = _Recorder(writer, abandoned)
    started = clock()
    rec.write([StepStarted(run_id=request.run_id, timestamp=started, step_key=request.step_key,
                           asset_keys=request.asset_keys, attempt=request.attempt, pid=os.getpid())])
    context = AssetContext(
        run_id=request.run_id, step_key=request.step_key, selected_keys=request.asset_keys,
        resources=defs.resources, log=RunLogger(rec.emit, request.run_id, request.step_key),
        attempt=request.attempt, partition=request.partition,
    )
    done: list[AssetMaterialized] = []
    try:
        kwargs = _arguments(definition, request, values, context, defs.resources)
        result = definition.fn(**kwargs)  # type: ignore[misc]
        streaming = inspect.isgenerator(result)
        pending: list[Event] = []
        blocked: list[str] = []
        for key, value, metadata, data_version in _results(definition, request, result):
            mat = _materialize(definition, request, values, context, key, value, metadata, data_version, done,
                               started, clock())
            done.append(mat)
            checks = defs.checks_for(key)
            evaluations = evaluate_checks(
                checks, key, mat, lambda v=value: v, defs.resources, defs.graph.spec(key).freshness,
                mat.timestamp, request.run_id, request.step_key, rec.emit) if checks else []
            blocked.extend(f"blocking check {e.check_name} on {e.key} failed" for e in evaluations
                           if e.blocking and not e.passed)
            if streaming:
                rec.write([mat, *evaluations])
            else:
                pending.extend([mat, *evaluations])
        missing = [k for k in request.asset_keys if k not in {m.key for m in done}]
        if missing:
            raise HeadwaterError(
                f"{definition.name} finished without producing {', '.join(map(str, missing))}; a multi-asset must "
                "return or yield a result for every selected key")
        duration = clock() - started
        pending.append(StepSucceeded(run_id=request.run_id, timestamp=clock(), step_key=request.step_key,
                                     asset_keys=request.asset_keys, attempt=request.attempt, duration=duration))
        rec.write(pending)
        return StepOutcome(request.step_key, request.attempt, True, tuple(done), duration=duration,
                           blocked=tuple(blocked))
    except StepAbandoned:
        return StepOutcome(request.step_key, request.attempt, False, tuple(done), recorded=False,
                           error=ErrorInfo("abandoned"))
    except Exception as exc:
        error = ErrorInfo.from_exception(exc, _user_traceback(exc))
        failed = tuple(k for k in request.asset_keys if k not in {m.key for m in done})
        duration = clock() - started
        will_retry = request.attempt < request.max_attempts
        try:
            rec.write([StepFailed(run_id=request.run_id, timestamp=clock(), step_key=request.step_key,
                                  asset_keys=failed, attempt=request.attempt, error=error,
                                  will_retry=will_retry, duration=duration)])
        except StepAbandoned:
            return StepOutcome(request.step_key, request.attempt, False, tuple(done), failed, error,
                               duration, recorded=False)
        return StepOutcome(request.step_key, request.attempt, False, tuple(done), failed, error, duration)


def _arguments(definition: AssetsDefinition, request: StepRequest, values: ValueStore,
               context: AssetContext, resources: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for p in definition.params:
        if p.kind is ParamKind.CONTEXT:
            kwargs[p.name] = context
        elif p.kind is ParamKind.RESOURCE:
            kwargs[p.name] = resources[p.name]
        elif p.kind is ParamKind.ASSET and p.key is not None:
            snap = request.inputs.get(p.key)
            if snap is None or (snap.value_ref is None and snap.record.data_version is None):
                raise HeadwaterError(
                    f"upstream asset {p.key} (parameter {p.name!r} of {definition.name}) has never been "
                    f"materialized; materialize it first, e.g. headwater materialize '+{definition.step_key}'")
            kwargs[p.name] = values.load(p.key, request.partition, snap.value_ref) if snap.value_ref else None
    return kwargs


def _results(definition: AssetsDefinition, request: StepRequest, result: Any
             ) -> Iterator[tuple[AssetKey, Any, dict[str, Any], str | None]]:
    """Normalize every supported return shape to (key, value, metadata, data_version)."""
    only = request.asset_keys[0] if not definition.is_multi else None
    if only is not None and not inspect.isgenerator(result):
        yield _one(only, result)
        return
    if isinstance(result, Mapping) and not isinstance(result, (Output, MaterializeResult)):
        for k, v in result.items():
            yield _one(to_key(k), v)
        return
    items = result if inspect.isgenerator(result) or isinstance(result, (list, tuple)) else [result]
    for item in items:
        if not isinstance(item, (Output, MaterializeResult)):
            raise HeadwaterError(
                f"{definition.name} produced {type(item).__name__}; a multi-asset must return a dict "
                "{key: value} or return/yield Output(value, key=...) / MaterializeResult(key=...)")
        key = item.key or only
        if key is None:
            raise HeadwaterError(f"{definition.name}: each Output/MaterializeResult of a multi-asset needs key=")
        if key not in request.asset_keys:
            raise HeadwaterError(f"{definition.name} produced {key}, which is not one of the keys this step "
                                 f"runs ({', '.join(map(str, request.asset_keys))})")
        yield _one(key, item)


def _one(key: AssetKey, result: Any) -> tuple[AssetKey, Any, dict[str, Any], str | None]:
    if isinstance(result, Output):
        return key, result.value, dict(result.metadata), result.data_version
    if isinstance(result, MaterializeResult):
        return key, None, dict(result.metadata), result.data_version
    return key, result, {}, None


def _materialize(definition: AssetsDefinition, request: StepRequest, values: ValueStore, context: AssetContext,
                 key: AssetKey, value: Any, metadata: dict[str, Any], data_version: str | None,
                 done: list[AssetMaterialized], started: float, now: float) -> AssetMaterialized:
    spec = next(s for s in definition.specs if s.key == key)
    produced_here = {m.key: m for m in done}
    inputs: list[InputRecord] = []
    for dep in spec.deps:
        if dep in produced_here:
            m = produced_here[dep]
            inputs.append(InputRecord(dep, m.data_version, m.data_time, produced_in_run=True))
        elif dep in request.inputs:
            inputs.append(request.inputs[dep].record)
    ref = values.save(key, request.partition, value) if value is not None else None
    version = data_version or default_data_version(
        spec.code_version, [(str(i.key), i.data_version) for i in inputs], nonce=f"{request.run_id}/{key}/{now}")
    times = [i.data_time for i in inputs if i.data_time is not None]
    meta = {**context.metadata_for(key), **metadata}
    _check_json(key, meta)
    return AssetMaterialized(
        run_id=request.run_id, timestamp=now, step_key=request.step_key, key=key, partition=request.partition,
        code_version=spec.code_version, data_version=version, data_time=min(times) if times else now,
        inputs=tuple(inputs), deps=spec.deps, metadata=meta, value_ref=ref, duration=now - started,
    )


def _check_json(key: AssetKey, metadata: dict[str, Any]) -> None:
    import json

    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise HeadwaterError(f"metadata of asset {key} is not JSON-serializable: {exc}") from exc


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's frames on: our own frames above them are noise to a user."""
    tb = exc.__traceback__
    here = __file__
    while tb is not None and tb.tb_frame.f_code.co_filename == here:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
