"""Rows to records and JSON to events, fast enough for a whole graph at once.

Reading status for 10,000 assets means decoding 10,000 materializations. The generic
``event_from_json`` in core is written for clarity (a loop over dataclass fields, a regex
check per asset key), which costs tens of microseconds per event; here the three asset
event types (read for a whole graph: materializations, observations, check results) get a
direct decoder, asset keys read from the store are interned in a
bounded cache (they were validated when written and repeat endlessly: every input names
another asset), and ``orjson`` parses them (stdlib ``json`` if it is missing). Writing, a
step's three payloads go through ``orjson`` too when every value is one it writes as json
does (``event_json``). The direct decoders mirror
``event_from_dict`` exactly; they step aside for the generic one whenever the event
classes gain a field they do not know, or a payload carries another schema version.

Derived tables that are read back as events (``check_latest``, ``alert_state``) go through
``DecodedEvents``, which decodes a row only when its event id is new to it.

The payloads in ``asset_latest``, ``check_latest`` and ``alert_state`` carry no schema
version of their own: they are at the writer's ``SCHEMA_VERSION``. Raising ``SCHEMA_VERSION`` therefore comes with a migration,
whose new revision makes older Headwaters refuse the database instead of misreading it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import fields
from enum import Enum
from types import MappingProxyType
from typing import Any

from headwater.core.events import (
    SCHEMA_VERSION,
    AssetMaterialized,
    AssetObserved,
    CheckEvaluated,
    CheckSeverity,
    ErrorInfo,
    Event,
    InputRecord,
    InputState,
    RunStatus,
    StepStarted,
    StepSucceeded,
    event_from_dict,
    event_to_json,
    is_asset_event,
)
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord, StepRecord, StepStatus, StoredEvent
from headwater.errors import StorageError
from headwater.gc_pause import paused_gc

loads = json.loads

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is an optional accelerator
    orjson = None  # type: ignore[assignment]


def _fast_loads(text: str) -> Any:
    if orjson is None:  # pragma: no cover
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN and Infinity, which json.dumps writes
        return json.loads(text)


_BIG = float(2**63)


def _maybe_rounded(value: Any) -> bool:
    """orjson reads integers beyond 64 bits as floats; stdlib json keeps them exact. Only
    free-form metadata can hold such numbers, so that is where we look for one."""
    kind = type(value)
    if kind is float:
        return not -_BIG <= value < _BIG
    if kind is dict:
        return any(map(_maybe_rounded, value.values()))
    if kind is list:
        return any(map(_maybe_rounded, value))
    return False


gc_paused = paused_gc  # the storage readers' name for it


_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def dumps(value: Any) -> str:
    """Compact JSON, as ``json.dumps(value, separators=(",", ":"))`` (one encoder, built once)."""
    return _DUMPS(value)


# --- asset keys -------------------------------------------------------------------------

# The ``AssetKey`` for a stored key string: keys are interned, so once a key is known this
# is one dict lookup (no wrapper: it runs for every key of every decoded row).
key_of = AssetKey.parse


def keys_of(texts: Iterable[str] | None) -> tuple[AssetKey, ...]:
    return tuple(map(key_of, texts or ()))


# --- errors -----------------------------------------------------------------------------


def error_to_json(error: ErrorInfo) -> str:
    return dumps({"message": error.message, "type_name": error.type_name, "traceback": error.traceback})


def error_from_json(text: str | None) -> ErrorInfo | None:
    if not text:
        return None
    d = loads(text)
    return ErrorInfo(message=d.get("message", ""), type_name=d.get("type_name", ""),
                     traceback=d.get("traceback", ""))


# --- events -----------------------------------------------------------------------------

_EVENT_JSON = json.JSONEncoder(separators=(",", ":"), default=str).encode
_FIELDS: dict[type, tuple[str, ...]] = {}


class _Unfit(Exception):
    """A value orjson would write differently from ``core.events.event_to_json``."""


def _to_json(value: Any) -> Any:
    """``core.events._encode``, with the common cases (plain values, keys, tuples of keys)
    decided by exact type before any ``isinstance``. A float that is not finite raises
    ``_Unfit``: json writes ``NaN``/``Infinity``, orjson would write ``null``."""
    kind = type(value)
    if kind is str or value is None or kind is int or kind is bool:
        return value
    if kind is float:
        if value - value:  # NaN or ±inf (0.0 for every finite float)
            raise _Unfit
        return value
    if kind is AssetKey:
        return value._str
    if kind is tuple or kind is list:
        return [v._str if type(v) is AssetKey else _to_json(v) for v in value]
    if isinstance(value, AssetKey):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (InputRecord, ErrorInfo)):
        out = {name: _to_json(getattr(value, name)) for name in _field_names(type(value))}
        if out.get("partition", None) == "":
            del out["partition"]  # most inputs are unpartitioned: keep their payloads as they were
        return out
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value  # anything else: orjson refuses it (see ``_ORJSON_OPTIONS``), json writes str() of it


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def _refuse(_value: Any) -> Any:
    raise _Unfit


# orjson writes only exact str, int (64 bits), finite float, bool, None, dict, list, tuple
# and UUID (as ``str()`` does) itself; subclasses, dates and dataclasses go to ``_refuse``.
_ORJSON_OPTIONS = 0 if orjson is None else (orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
                                            | orjson.OPT_PASSTHROUGH_DATACLASS)


def event_json(event: Event) -> str:
    """The stored payload of ``event``: the JSON document ``core.events.event_to_json(event)``
    writes (a property test holds the two together), at a third of its cost: every step
    writes three of them. orjson writes it when every value is one it writes as json does;
    its text may differ (non-ASCII characters as they are, ``1e-7`` for ``1e-07``) but not
    what it reads back as. Anything else (a date in metadata, an integer beyond 64 bits, a
    NaN, a lone surrogate) is written by ``event_to_json`` itself. The three events every
    step writes have their document built field by field (``_DOCUMENTS``)."""
    try:
        document = _DOCUMENTS.get(type(event))
        if document is not None:
            value = document(event)
        else:
            value = {name: _to_json(getattr(event, name)) for name in _field_names(type(event))}
        if orjson is None:  # pragma: no cover
            return _EVENT_JSON(value)
        return orjson.dumps(value, default=_refuse, option=_ORJSON_OPTIONS).decode()
    except (_Unfit, TypeError):  # orjson.JSONEncodeError is a TypeError
        return event_to_json(event)


_DEFAULT_KEY = AssetKey(("_",))
_OK = InputState.OK


_INPUTS: dict[tuple[Any, ...], InputRecord] = {}
_INPUT_CACHE_LIMIT = 500_000


def _new_input(key: str, data_version: Any, data_time: Any, state: Any, detail: Any, produced: Any,
               partition: Any = "") -> InputRecord:
    return InputRecord(key_of(key), data_version, data_time, _OK if state == "ok" else InputState(state), detail,
                       bool(produced), partition)


def _input(d: Mapping[str, Any]) -> InputRecord:
    """Inputs repeat (every consumer of an asset records the version it read, so all
    consumers of one materialization record the same input) and are immutable, so equal
    ones are shared."""
    get = d.get
    ident = (d["key"], get("data_version"), get("data_time"), get("state", "ok"), get("detail", ""),
             get("produced_in_run", False), get("partition", ""))
    try:
        record = _INPUTS.get(ident)
    except TypeError:  # an unhashable value (from a newer writer?): don't share it
        return _new_input(*ident)
    if record is None:
        if len(_INPUTS) >= _INPUT_CACHE_LIMIT:
            _INPUTS.clear()
        record = _INPUTS[ident] = _new_input(*ident)
    return record


def _metadata(d: Mapping[str, Any]) -> Any:
    if "metadata" not in d:
        return {}
    value = d["metadata"]
    return None if value is None else MappingProxyType(value if type(value) is dict else dict(value))


def _materialization(d: Mapping[str, Any]) -> AssetMaterialized:
    get = d.get
    key, inputs, deps = get("key"), get("inputs", ()), get("deps", ())
    return AssetMaterialized(  # positional: see _FAST below
        d["run_id"], d["timestamp"], get("step_key", ""),
        _DEFAULT_KEY if "key" not in d else key if key is None else key_of(key),  # type: ignore[arg-type]
        get("partition", ""), get("code_version"), get("data_version"), get("data_time"),
        None if inputs is None else tuple(map(_input, inputs)),  # type: ignore[arg-type]
        None if deps is None else keys_of(deps),  # type: ignore[arg-type]
        _metadata(d), get("value_ref"), get("duration"),
    )


def _observation(d: Mapping[str, Any]) -> AssetObserved:
    get = d.get
    key = get("key")
    return AssetObserved(  # positional: see _FAST below
        d["run_id"], d["timestamp"],
        _DEFAULT_KEY if "key" not in d else key if key is None else key_of(key),  # type: ignore[arg-type]
        get("partition", ""), get("data_version"), get("data_time"), _metadata(d),
    )


def _check(d: Mapping[str, Any]) -> CheckEvaluated:
    get = d.get
    key, severity, error = get("key"), get("severity"), get("error")
    return CheckEvaluated(  # positional: see _FAST below
        d["run_id"], d["timestamp"], get("step_key", ""),
        _DEFAULT_KEY if "key" not in d else key if key is None else key_of(key),  # type: ignore[arg-type]
        get("partition", ""), get("check_name", ""), get("passed", False),
        CheckSeverity.ERROR if "severity" not in d else severity if severity is None  # type: ignore[arg-type]
        else CheckSeverity(severity),
        get("blocking", False), get("description", ""), _metadata(d), get("target_run_id"),
        get("target_timestamp"),
        None if error is None else ErrorInfo(error.get("message", ""), error.get("type_name", ""),
                                             error.get("traceback", "")),
    )


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _finite(*values: Any) -> None:
    """``_Unfit`` for a NaN or an infinite float (json writes them, orjson would write null)."""
    for value in values:
        if type(value) is float and value - value:
            raise _Unfit


def _key_list(keys: Any) -> Any:
    if type(keys) is tuple:
        return [k._str if type(k) is AssetKey else _to_json(k) for k in keys]
    return _to_json(keys)


_STATE_TEXT = {state: state.value for state in InputState}


def _input_document(i: Any) -> Any:
    if type(i) is not InputRecord:
        return _to_json(i)
    data_time = i.data_time
    if type(data_time) is float and data_time - data_time:
        raise _Unfit
    key = i.key
    out = {"key": key._str if type(key) is AssetKey else _to_json(key), "data_version": _to_json(i.data_version),
           "data_time": data_time, "state": _STATE_TEXT.get(i.state) or _to_json(i.state),
           "detail": _to_json(i.detail), "produced_in_run": _to_json(i.produced_in_run)}
    partition = _to_json(i.partition)
    if partition != "":
        out["partition"] = partition
    return out


def _step_started_document(e: Any) -> dict[str, Any]:
    _finite(e.timestamp)
    return {"run_id": e.run_id, "timestamp": e.timestamp, "step_key": e.step_key,
            "asset_keys": _key_list(e.asset_keys), "partitions": _to_json(e.partitions), "attempt": e.attempt,
            "pid": e.pid}


def _step_succeeded_document(e: Any) -> dict[str, Any]:
    _finite(e.timestamp, e.duration)
    return {"run_id": e.run_id, "timestamp": e.timestamp, "step_key": e.step_key,
            "asset_keys": _key_list(e.asset_keys), "partitions": _to_json(e.partitions), "attempt": e.attempt,
            "duration": e.duration}


def _materialization_document(e: Any) -> dict[str, Any]:
    _finite(e.timestamp, e.data_time, e.duration)
    key, inputs, metadata = e.key, e.inputs, e.metadata
    return {"run_id": e.run_id, "timestamp": e.timestamp, "step_key": e.step_key,
            "key": key._str if type(key) is AssetKey else _to_json(key), "partition": e.partition,
            "code_version": e.code_version, "data_version": e.data_version, "data_time": e.data_time,
            "inputs": list(map(_input_document, inputs)) if type(inputs) is tuple else _to_json(inputs),
            "deps": _key_list(e.deps),
            "metadata": {} if type(metadata) is dict and not metadata else _to_json(metadata),
            "value_ref": e.value_ref, "duration": e.duration}


# The document of each event type a step writes, built field by field: the generic way asks
# every field's type in turn, which costs three times as much. Plain fields are handed to
# orjson as they are (it refuses anything it would write differently from json: subclasses,
# big integers). Like the direct decoders, they stand down if the classes change.
_DOCUMENTS: dict[type, Callable[[Any], dict[str, Any]]] = {}
if (_names(StepStarted) == ("run_id", "timestamp", "step_key", "asset_keys", "partitions", "attempt", "pid")
        and _names(StepSucceeded) == ("run_id", "timestamp", "step_key", "asset_keys", "partitions", "attempt",
                                      "duration")
        and _names(AssetMaterialized) == ("run_id", "timestamp", "step_key", "key", "partition", "code_version",
                                          "data_version", "data_time", "inputs", "deps", "metadata", "value_ref",
                                          "duration")
        and _names(InputRecord) == ("key", "data_version", "data_time", "state", "detail", "produced_in_run",
                                    "partition")):
    _DOCUMENTS = {StepStarted: _step_started_document, StepSucceeded: _step_succeeded_document,
                  AssetMaterialized: _materialization_document}


# The direct decoders know these fields in this order (they construct positionally). If
# the classes change, they stand down and the generic decoder in core takes over.
_FAST: dict[str, Callable[[Mapping[str, Any]], Event]] = {}
if (_names(AssetMaterialized) == ("run_id", "timestamp", "step_key", "key", "partition", "code_version",
                                  "data_version", "data_time", "inputs", "deps", "metadata", "value_ref",
                                  "duration")
        and _names(AssetObserved) == ("run_id", "timestamp", "key", "partition", "data_version", "data_time",
                                      "metadata")
        and _names(InputRecord) == ("key", "data_version", "data_time", "state", "detail", "produced_in_run",
                                    "partition")):
    _FAST = {AssetMaterialized.type_name: _materialization, AssetObserved.type_name: _observation}
if (_names(CheckEvaluated) == ("run_id", "timestamp", "step_key", "key", "partition", "check_name", "passed",
                               "severity", "blocking", "description", "metadata", "target_run_id",
                               "target_timestamp", "error")
        and _names(ErrorInfo) == ("message", "type_name", "traceback")):
    _FAST[CheckEvaluated.type_name] = _check


def decode_event(type_name: str, payload: str, schema_version: int = SCHEMA_VERSION) -> Event:
    fast = _FAST.get(type_name) if schema_version == SCHEMA_VERSION else None
    if fast is None:
        return event_from_dict(type_name, json.loads(payload), schema_version)
    data = _fast_loads(payload)
    if orjson is not None and _maybe_rounded(data.get("metadata")):
        data = json.loads(payload)
    return fast(data)


# --- the summary columns of a latest materialization (core/materialization_summary.py) ----


def _plain_json(value: list[Any]) -> str:
    """Compact JSON of a list of plain values, by orjson (every step writes a few): for key
    strings (ASCII by their syntax) the very text json writes; json takes what orjson refuses."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS).decode()
        except TypeError:
            pass
    return _DUMPS(value)


def keys_json(keys: Iterable[AssetKey]) -> str:
    """A JSON list of key strings: ``steps.asset_keys``, ``runs.asset_keys``, and
    ``asset_latest.mat_deps`` (the declared deps a materialization recorded)."""
    return _plain_json([k._str if type(k) is AssetKey else str(k) for k in keys])


def inputs_json(inputs: Iterable[InputRecord]) -> str:
    """``asset_latest.mat_inputs``: ``[key, partition, data version]`` per input read, with its
    state appended when it was not ok (what "ran on stale inputs" asks)."""
    return _plain_json([[i.key._str, i.partition, i.data_version] if i.state is _OK
                        else [i.key._str, i.partition, i.data_version, i.state.value] for i in inputs])


_DEPS: dict[str, tuple[AssetKey, ...]] = {}


def deps_from_json(text: str) -> tuple[AssetKey, ...]:
    """The keys of a ``mat_deps`` text; texts repeat (every partition of an asset has the
    same deps), so each is parsed once."""
    deps = _DEPS.get(text)
    if deps is None:
        if len(_DEPS) >= 10_000:
            _DEPS.clear()
        deps = _DEPS[text] = keys_of(_fast_loads(text))
    return deps


input_versions_from_json = _fast_loads


# --- rows -------------------------------------------------------------------------------


def run_from_row(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row.run_id, status=RunStatus(row.status), selection=row.selection or "",
        asset_keys=keys_of(loads(row.asset_keys) if row.asset_keys else ()),
        tags=loads(row.tags) if row.tags else {}, parent_run_id=row.parent_run_id,
        executor=row.executor or "", created_at=row.created_at, started_at=row.started_at,
        ended_at=row.ended_at, pid=row.pid, host=row.host or "", location=row.location,
        reason=row.reason or "", run_key=row.run_key, origin=row.origin or "", mode=row.mode or "all",
        cancel_requested_at=row.cancel_requested_at, cancel_reason=row.cancel_reason or "",
    )


def step_from_row(row: Any) -> StepRecord:
    return StepRecord(
        run_id=row.run_id, step_key=row.step_key, status=StepStatus(row.status),
        asset_keys=keys_of(loads(row.asset_keys) if row.asset_keys else ()),
        attempt=row.attempt if row.attempt is not None else 1, started_at=row.started_at,
        ended_at=row.ended_at, error=error_from_json(row.error), detail=row.detail or "",
    )


_FAMILY_RUN = MappingProxyType({"family": "run"})
_FAMILY_ASSET = MappingProxyType({"family": "asset"})


def decode_stored(event_id: int, type_name: str, payload: str, schema_version: int = SCHEMA_VERSION) -> Event:
    """``decode_event`` for a row of the store: a payload it cannot read is a ``StorageError``
    naming the event."""
    try:
        return decode_event(type_name, payload, schema_version)
    except (ValueError, TypeError, KeyError) as exc:
        raise StorageError(f"stored event {event_id} ({type_name!r}) cannot be read: {exc}") from exc


def stored_event(event_id: int, type_name: str, schema_version: int, payload: str) -> StoredEvent:
    """A row of ``run_events`` or ``asset_events``; ``extra["family"]`` names the table."""
    event = decode_stored(event_id, type_name, payload, schema_version)
    return StoredEvent(id=event_id, event=event, extra=_FAMILY_ASSET if is_asset_event(event) else _FAMILY_RUN)


class DecodedEvents:
    """Events of one type decoded from a derived table, kept by event id between reads.

    A stored event never changes, so a row whose event id was seen on the previous read of
    the same scope (a partition, say) is not decoded again: a whole-graph read that follows
    a write decodes only what the write replaced. Each read keeps exactly the ids it saw,
    so the cache never outgrows the table; past ``limit`` events in all, scopes are dropped.
    """

    def __init__(self, type_name: str, limit: int = 200_000) -> None:
        self.type_name = type_name
        self.limit = limit
        self._scopes: dict[Hashable, dict[int, Event]] = {}

    def decode(self, scope: Hashable, rows: Sequence[tuple[int, str]]) -> list[Event]:
        """The events of ``rows`` (event id, payload), in the same order."""
        old = self._scopes.get(scope, {})
        new: dict[int, Event] = {}
        events: list[Event] = []
        for event_id, payload in rows:
            event = old.get(event_id)
            if event is None:
                event = decode_stored(event_id, self.type_name, payload)
            new[event_id] = event
            events.append(event)
        others = sum(len(v) for k, v in list(self._scopes.items()) if k != scope)  # list(): threads
        if others + len(new) > self.limit:
            self._scopes.clear()
        self._scopes[scope] = new
        return events
