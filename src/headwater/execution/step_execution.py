"""Run one step in the current process: load inputs, call the user function, record results.

This is the only code that calls asset functions, whichever executor is in use; it
writes the step's own events (start, each materialization as soon as it exists, end) so
that a worker in another process reports exactly like the in-process executor does.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import (
    AssetFailed,
    AssetMaterialized,
    AssetSkipped,
    CheckSeverity,
    ErrorInfo,
    Event,
    InputRecord,
    SkipReason,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from headwater.core.keys import AssetKey, to_key
from headwater.core.partitions import TimeWindow, format_partitioned_key
from headwater.core.versions import default_data_version
from headwater.definitions.assets import AssetsDefinition, ParamKind
from headwater.definitions.context import AssetContext, RunLogger
from headwater.definitions.definitions import Definitions
from headwater.definitions.outputs import AssetFailure, AssetSkip, CheckReport, MaterializeResult, Output
from headwater.errors import HeadwaterError
from headwater.execution.check_execution import evaluate_checks, reported_check
from headwater.execution.deadlines import Deferred, call_later
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.storage.interfaces import EventWriter
from headwater.values.interface import ValueStore


class StepAbandoned(Exception):
    """The coordinator gave up on this step (timeout); its late results must not be recorded."""


# How long a step's start may wait to share a transaction with what the step writes next.
START_GRACE = 0.02


class _Recorder:
    """Writes the step's events, refusing once the coordinator has abandoned the step.

    The step's start is written *soon* rather than at once: a step that ends (or logs)
    within ``START_GRACE`` seconds writes its start in the same transaction as its outcome —
    one commit per step instead of two, which is most of a short step's cost on PostgreSQL —
    and a longer one has it written by the process's deadline thread (``deadlines.py``), so
    "running" shows 20 ms late at worst. Order is kept: whatever is written next goes after
    the pending start, in one batch.
    """

    def __init__(self, writer: EventWriter, abandoned: threading.Event | None,
                 hold: Callable[[list[Event]], None] | None = None) -> None:
        self._writer = writer
        self._abandoned = abandoned
        self._hold = hold
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._timer: Deferred | None = None

    def write_soon(self, events: list[Event]) -> None:
        with self._lock:
            self._pending.extend(events)
        self._timer = call_later(START_GRACE, self._flush)

    def _flush(self) -> None:
        with self._lock:
            if not self._pending or (self._abandoned is not None and self._abandoned.is_set()):
                return
            events, self._pending = self._pending, []
            try:
                self._writer.write(events)
            except Exception:  # noqa: BLE001 - kept, to go with the step's next write (which reports it)
                self._pending[:0] = events

    def write(self, events: list[Event]) -> None:
        self._send(events, self._writer.write)

    def finish(self, events: list[Event]) -> None:
        """The step's last events: held for the executor to store with other steps' (``hold``),
        if it asked for that, else written now."""
        self._send(events, self._hold or self._writer.write)

    def _send(self, events: list[Event], send: Callable[[list[Event]], None]) -> None:
        if self._abandoned is not None and self._abandoned.is_set():
            raise StepAbandoned()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with self._lock:
            batch, self._pending = [*self._pending, *events], []
            send(batch)

    def emit(self, event: Event) -> None:
        self.write([event])


def execute_step(
    defs: Definitions,
    writer: EventWriter,
    values: ValueStore,
    request: StepRequest,
    abandoned: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
    hold: Callable[[list[Event]], None] | None = None,
) -> StepOutcome:
    """Run one step and record it. With ``hold``, the step's last events (its outcome, and
    its start if not written yet) are handed to it instead of written: the caller stores
    them, and must before it reports the outcome (``held_writes.py``); ``writer`` must then
    write what was held first, since the step writes to it what happens while it runs."""
    definition = defs.definition_for(request.asset_keys[0])
    values = defs.value_store or values  # a project's own store wins over the home's default
    rec = _Recorder(writer, abandoned, hold)
    started = clock()
    rec.write_soon([StepStarted(run_id=request.run_id, timestamp=started, step_key=request.step_key,
                                asset_keys=request.asset_keys, partitions=request.partitions,
                                attempt=request.attempt, pid=os.getpid())])
    context = AssetContext(
        run_id=request.run_id, step_key=request.step_key, selected_keys=request.asset_keys,
        resources=defs.resources, log=RunLogger(rec.emit, request.run_id, request.step_key),
        attempt=request.attempt, partition=request.partition, tags=dict(request.tags),
        partition_keys=request.partitions, time_window=_window(request.time_window),
    )
    done: list[AssetMaterialized] = []
    failed: dict[AssetKey, str] = {}
    skipped: dict[AssetKey, str] = {}
    blocked_by: dict[AssetKey, str] = {}
    pending: list[Event] = []
    try:
        kwargs = _arguments(definition, request, values, context, defs.resources, defs.graph)
        result = definition.fn(**kwargs)  # type: ignore[misc]
        streaming = inspect.isgenerator(result)

        def record(events: list[Event]) -> None:
            if streaming:
                rec.write(events)  # as it happens: status shows it while the step goes on
            else:
                pending.extend(events)

        for key, item in _results(definition, request, result):
            if isinstance(item, CheckReport):
                mat = next((m for m in reversed(done) if m.key == key), None)
                record([reported_check(defs.checks_for(key), item, mat, request.current.get(key), clock(),
                                       request.run_id, request.step_key)])
                continue
            if key in failed or key in skipped:
                raise HeadwaterError(f"{definition.name} reported {key} as {'failed' if key in failed else 'skipped'}"
                                     " and then reported it again; report each asset once")
            if isinstance(item, AssetFailure):
                if any(m.key == key for m in done):
                    raise HeadwaterError(f"{definition.name} reported {key} as failed after materializing it")
                failed[key] = item.error
                record([AssetFailed(run_id=request.run_id, timestamp=clock(), step_key=request.step_key, key=key,
                                    partition=request.partition, error=ErrorInfo(item.error, item.error_type),
                                    metadata=_json_metadata(key, dict(item.metadata)))])
                continue
            if isinstance(item, AssetSkip):
                if any(m.key == key for m in done):
                    raise HeadwaterError(f"{definition.name} reported {key} as skipped after materializing it")
                skipped[key] = item.reason
                record([AssetSkipped(run_id=request.run_id, timestamp=clock(), step_key=request.step_key, key=key,
                                     partition=request.partition, reason=SkipReason.UPSTREAM_FAILED,
                                     detail=item.reason, metadata=_json_metadata(key, dict(item.metadata)))])
                continue
            value, metadata, data_version, own_duration = item
            for partition, part_value in _per_partition(request, value):
                mat = _materialize(definition, request, values, context, key, part_value, metadata, data_version,
                                   done, started, clock(), partition, own_duration)
                done.append(mat)
                checks = defs.checks_for(key)
                evaluations = evaluate_checks(
                    checks, key, mat, lambda v=part_value: v, defs.resources, defs.graph.spec(key).freshness,
                    mat.timestamp, request.run_id, request.step_key, rec.emit) if checks else []
                # A blocking check blocks only when its result is an error: a producer (dbt's warn_if)
                # may judge a failure of an ``error`` check to be a warning this time.
                stops = [e for e in evaluations if e.blocking and not e.passed and e.severity is CheckSeverity.ERROR]
                if stops:
                    blocked_by[key] = "; ".join(f"blocking check {e.check_name} on {format_partitioned_key(e.key, e.partition)} "
                                                "failed" for e in stops)
                record([mat, *evaluations])
        produced = {m.key for m in done}
        missing = [k for k in request.asset_keys if k not in produced and k not in failed and k not in skipped]
        if missing:
            raise HeadwaterError(
                f"{definition.name} finished without producing {', '.join(map(str, missing))}; a multi-asset must "
                "return or yield a result for every selected key (or AssetFailure / AssetSkip for it)")
        if failed:
            raise _AssetsFailed(_summary(failed, skipped))
        duration = clock() - started
        pending.append(StepSucceeded(run_id=request.run_id, timestamp=clock(), step_key=request.step_key,
                                     asset_keys=request.asset_keys, partitions=request.partitions,
                                     attempt=request.attempt, duration=duration))
        rec.finish(pending)
        return StepOutcome(request.step_key, request.attempt, True, tuple(done), duration=duration,
                           blocked=tuple(blocked_by.values()), skipped_keys=tuple(skipped), blocked_by=blocked_by)
    except StepAbandoned:
        return StepOutcome(request.step_key, request.attempt, False, tuple(done), recorded=False,
                           error=ErrorInfo("abandoned"))
    except Exception as exc:
        if isinstance(exc, _AssetsFailed):
            error = ErrorInfo(str(exc), "AssetFailure")
        else:
            error = ErrorInfo.from_exception(exc, _user_traceback(exc))
        produced = {m.key for m in done}
        # Reported one by one, failed and skipped assets keep their own reasons in the store.
        unreported = tuple(k for k in request.asset_keys if k not in produced and k not in failed and k not in skipped)
        duration = clock() - started
        will_retry = request.attempt < request.max_attempts
        outcome = StepOutcome(request.step_key, request.attempt, False, tuple(done), (*failed, *unreported), error,
                              duration, blocked=tuple(blocked_by.values()), skipped_keys=tuple(skipped),
                              blocked_by=blocked_by, reasons=dict(failed))
        try:
            rec.finish([*pending, StepFailed(run_id=request.run_id, timestamp=clock(), step_key=request.step_key,
                                            asset_keys=unreported, partitions=request.partitions,
                                            attempt=request.attempt, error=error,
                                            will_retry=will_retry, duration=duration)])
        except StepAbandoned:
            return replace(outcome, recorded=False)
        return outcome


class _AssetsFailed(Exception):
    """The step went to its end, but some of its assets failed: the step fails, naming them."""


def _summary(failed: Mapping[AssetKey, str], skipped: Mapping[AssetKey, str]) -> str:
    text = f"{len(failed)} asset(s) failed: " + "; ".join(f"{k}: {m}" for k, m in failed.items())
    if skipped:
        text += f"; {len(skipped)} skipped: " + ", ".join(map(str, skipped))
    return text


def _arguments(definition: AssetsDefinition, request: StepRequest, values: ValueStore,
               context: AssetContext, resources: Mapping[str, Any], graph: AssetGraph) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for p in definition.params:
        if p.kind is ParamKind.CONTEXT:
            kwargs[p.name] = context
        elif p.kind is ParamKind.RESOURCE:
            kwargs[p.name] = resources[p.name]
        elif p.kind is ParamKind.ASSET and p.key is not None and p.key in request.partition_inputs:
            kwargs[p.name] = _partitioned_value(graph, definition, request, values, p.name, p.key)
        elif p.kind is ParamKind.ASSET and p.key is not None:
            snap = request.inputs.get(p.key)
            if snap is None or (snap.value_ref is None and snap.record.data_version is None):
                raise HeadwaterError(
                    f"upstream asset {p.key} (parameter {p.name!r} of {definition.name}) has never been "
                    f"materialized; materialize it first, e.g. headwater materialize '+{definition.step_key}'")
            kwargs[p.name] = values.load(p.key, request.partition, snap.value_ref) if snap.value_ref else None
    return kwargs


_Item = tuple[Any, Mapping[str, Any], str | None, float | None] | AssetFailure | AssetSkip | CheckReport


def _results(definition: AssetsDefinition, request: StepRequest, result: Any) -> Iterator[tuple[AssetKey, _Item]]:
    """Normalize every supported return shape to (key, (value, metadata, data_version)) or
    (key, the AssetFailure / AssetSkip reported for it)."""
    only = request.asset_keys[0] if not definition.is_multi else None
    reports = (Output, MaterializeResult, AssetFailure, AssetSkip, CheckReport)
    if only is not None and not inspect.isgenerator(result) and not isinstance(result, (AssetFailure, AssetSkip)):
        yield only, _one(result)
        return
    if isinstance(result, Mapping) and not isinstance(result, reports):
        for k, v in result.items():
            yield to_key(k), _one(v)
        return
    items = result if inspect.isgenerator(result) or isinstance(result, (list, tuple)) else [result]
    for item in items:
        if not isinstance(item, reports):
            raise HeadwaterError(
                f"{definition.name} produced {type(item).__name__}; a multi-asset must return a dict "
                "{key: value} or return/yield Output(value, key=...) / MaterializeResult(key=...) "
                "/ AssetFailure(key, error=...) / AssetSkip(key, reason=...) / CheckReport(key, check, result)")
        key = item.key or only
        if isinstance(item, CheckReport):
            if key not in definition.keys:
                raise HeadwaterError(f"{definition.name} reported a check result for {key}, which is not one of "
                                     "its assets")
            yield key, item
            continue
        if key is None:
            raise HeadwaterError(f"{definition.name}: each {type(item).__name__} of a multi-asset needs key=")
        if key not in request.asset_keys:
            raise HeadwaterError(f"{definition.name} produced {key}, which is not one of the keys this step "
                                 f"runs ({', '.join(map(str, request.asset_keys))})")
        yield key, item if isinstance(item, (AssetFailure, AssetSkip)) else _one(item)


def _one(result: Any) -> tuple[Any, dict[str, Any], str | None, float | None]:
    if isinstance(result, Output):
        return result.value, dict(result.metadata), result.data_version, None
    if isinstance(result, MaterializeResult):
        return None, dict(result.metadata), result.data_version, result.duration
    return result, {}, None, None


def _partitioned_value(graph: AssetGraph, definition: AssetsDefinition, request: StepRequest, values: ValueStore,
                       name: str, dep: AssetKey) -> Any:
    """A partitioned parent's value: the one partition read, or ``{partition: value}`` when
    the step reads several (a rolling window, every partition, a range step)."""
    snaps = request.partition_inputs[dep]
    wanted = list(dict.fromkeys(q for p in (request.partitions or ("",)) for q in request.reads.get(p, {}).get(dep, ())))
    missing = [q for q in wanted if q not in snaps or (snaps[q].value_ref is None and snaps[q].record.data_version is None)]
    many = len(wanted) > 1 or len(request.partitions) > 1 or not _reads_one(graph, definition, dep)
    if many and len(missing) < len(wanted):
        # A window over several partitions gets the ones that exist (a rolling week at the start
        # of the data); the missing ones are recorded as missing inputs: it ran on stale inputs.
        wanted = [q for q in wanted if q not in missing]
    elif missing:
        raise HeadwaterError(
            f"upstream asset {dep} (parameter {name!r} of {definition.name}) has no materialization for partition(s) "
            f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}; materialize them first")
    loaded = {q: values.load(dep, q, snaps[q].value_ref) if snaps[q].value_ref else None for q in wanted}
    return loaded if many else next(iter(loaded.values()))


def _reads_one(graph: AssetGraph, definition: AssetsDefinition, dep: AssetKey) -> bool:
    """Whether every asset of the definition reads exactly one partition of ``dep``."""
    parent = graph.spec(dep).partitions
    for spec in definition.specs:
        mapping = graph.mapping(spec.key, dep) if dep in spec.deps else None
        if mapping is not None and not mapping.reads_one(spec.partitions, parent):
            return False
    return True


def _per_partition(request: StepRequest, value: Any) -> list[tuple[str, Any]]:
    """The value of each partition a step built: a range step may return ``{partition: value}``
    for exactly its partitions; any other value stands for each of them."""
    parts = request.partitions or (request.partition,)
    if len(parts) > 1 and isinstance(value, Mapping) and set(value) == set(parts):
        return [(p, value[p]) for p in parts]
    return [(p, value) for p in parts]


def _window(span: tuple[float, float] | None) -> Any:
    return TimeWindow(*span) if span is not None else None


def _materialize(definition: AssetsDefinition, request: StepRequest, values: ValueStore, context: AssetContext,
                 key: AssetKey, value: Any, metadata: dict[str, Any], data_version: str | None,
                 done: list[AssetMaterialized], started: float, now: float, partition: str = "",
                 own_duration: float | None = None) -> AssetMaterialized:
    spec = next(s for s in definition.specs if s.key == key)
    produced_here = {m.key: m for m in done if m.partition == partition}
    reads = request.reads.get(partition, {})
    inputs: list[InputRecord] = []
    for dep in spec.deps:
        if dep in produced_here:
            m = produced_here[dep]
            inputs.append(InputRecord(dep, m.data_version, m.data_time, produced_in_run=True, partition=m.partition))
        elif dep in request.partition_inputs:
            snaps = request.partition_inputs[dep]
            inputs.extend(snaps[q].record for q in reads.get(dep, ()) if q in snaps)
        elif dep in request.inputs:
            inputs.append(request.inputs[dep].record)
    ref = values.save(key, partition, value) if value is not None else None
    if data_version:
        version = data_version
    elif spec.code_version is None:  # a new version every time: the nonce alone decides it
        version = default_data_version(None, (), nonce=f"{request.run_id}/{format_partitioned_key(key, partition)}/{now}")
    else:
        version = default_data_version(
            spec.code_version, [(format_partitioned_key(i.key, i.partition), i.data_version) for i in inputs], nonce="")
    times = [i.data_time for i in inputs if i.data_time is not None]
    meta = _json_metadata(key, {**context.metadata_for(key), **metadata})
    return AssetMaterialized(
        run_id=request.run_id, timestamp=now, step_key=request.step_key, key=key, partition=partition,
        code_version=spec.code_version, data_version=version, data_time=min(times) if times else now,
        inputs=tuple(inputs), deps=spec.deps, metadata=meta, value_ref=ref,
        duration=own_duration if own_duration is not None else now - started,
    )


def _json_metadata(key: AssetKey, metadata: dict[str, Any]) -> dict[str, Any]:
    if not metadata:
        return metadata  # most steps attach none
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise HeadwaterError(f"metadata of asset {key} is not JSON-serializable: {exc}") from exc
    return metadata


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's frames on: our own frames above them are noise to a user."""
    tb = exc.__traceback__
    here = __file__
    while tb is not None and tb.tb_frame.f_code.co_filename == here:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
