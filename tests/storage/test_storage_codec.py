"""The fast decoders for asset events must read exactly what core's generic decoder reads."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_events import T0, key

from headwater.core.events import (
    EVENT_TYPES,
    AssetFailed,
    AssetMaterialized,
    AssetObserved,
    AssetSkipped,
    BackfillRequested,
    BackfillUpdated,
    CheckEvaluated,
    CheckSeverity,
    DynamicPartitionsChanged,
    ErrorInfo,
    Event,
    InputRecord,
    InputState,
    LogMessage,
    RunCancelRequested,
    RunFinished,
    RunStatus,
    SkipReason,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    event_from_json,
    event_to_json,
)
from headwater.core.keys import AssetKey
from headwater.errors import KeySyntaxError
from headwater.storage.sql import codec

FULL = AssetMaterialized(
    run_id="r1", timestamp=T0, step_key="multi", key=key("a/b.c"), partition="2024-01-01", code_version="c",
    data_version="d", data_time=T0 - 5,
    inputs=(InputRecord(key("x"), "v", T0 - 9, InputState.MISSING, "never materialized", True),
            InputRecord(key("y/z"), None, None)),
    deps=(key("x"), key("y/z")), metadata={"rows": 3, "list": [1, "a", None], "nan": float("nan")},
    value_ref="s3://bucket/key", duration=1.25,
)


def test_the_fast_decoders_are_in_use():
    assert set(codec._FAST) == {"materialization", "observation", "check_evaluation"}


@pytest.mark.parametrize("payload", [
    event_to_json(FULL),
    event_to_json(AssetMaterialized(run_id=None, timestamp=T0)),
    event_to_json(AssetObserved(run_id=None, timestamp=T0, key=key("src"), data_version="s", data_time=T0,
                                metadata={"k": {"deep": True}})),
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a"}),  # fields missing: defaults
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a", "inputs": None, "deps": None, "metadata": None}),
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a", "from_the_future": 1}),  # unknown field: ignored
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a", "metadata": {"n": [2**80, -(2**70)], "f": 1e300}}),
])
@pytest.mark.parametrize("type_name", ["materialization", "observation"])
def test_fast_decoding_matches_the_generic_decoder(payload, type_name):
    fast = codec.decode_event(type_name, payload)
    generic = event_from_json(type_name, payload)
    assert type(fast) is type(generic)
    assert repr(fast) == repr(generic)  # repr: NaN != NaN would defeat ==


CHECK = CheckEvaluated(
    run_id="r1", timestamp=T0, step_key="a", key=key("a/b.c"), partition="p", check_name="no_nulls", passed=False,
    severity=CheckSeverity.WARN, blocking=True, description="3 nulls", metadata={"n": 3, "deep": {"x": [1, None]}},
    target_run_id="r0", target_timestamp=T0 - 1, error=ErrorInfo("boom", "ValueError", "Traceback ..."),
)


@pytest.mark.parametrize("payload", [
    event_to_json(CHECK),
    event_to_json(CheckEvaluated(run_id=None, timestamp=T0)),
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a"}),  # fields missing: defaults
    json.dumps({"run_id": "r", "timestamp": T0, "key": None, "severity": None, "metadata": None, "error": None}),
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a", "error": {}, "severity": "error", "passed": True}),
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a", "error": {"message": "m", "future": 1}, "x": 1}),
    json.dumps({"run_id": "r", "timestamp": T0, "key": "a", "metadata": {"n": 2**80, "nan": float("nan")}}),
])
def test_fast_check_decoding_matches_the_generic_decoder(payload):
    fast = codec.decode_event("check_evaluation", payload)
    generic = event_from_json("check_evaluation", payload)
    assert type(fast) is CheckEvaluated
    assert repr(fast) == repr(generic)


def test_a_newer_schema_version_goes_to_the_generic_decoder():
    with pytest.raises(ValueError, match="newer"):
        codec.decode_event("materialization", event_to_json(FULL), schema_version=99)


def test_stored_keys_are_the_same_objects_as_parsed_keys():
    for text in ("a", "a/b", "x.y/z-1/_q"):
        stored, parsed = codec.key_of(text), key(text)
        assert stored is parsed and str(stored) == text and stored.path == tuple(text.split("/"))


def test_a_stored_key_with_bad_syntax_is_refused_not_trusted():
    with pytest.raises(KeySyntaxError, match="bad key"):
        codec.key_of("bad key")


# --- encoding -------------------------------------------------------------------------------


def _every_event_type() -> list[Event]:
    from storage_events import delivery, queued, started, step_started, tick, toggled, transition, unchanged

    err = ErrorInfo("boom", "ValueError", "Traceback ...\nValueError: ünïcode")
    return [
        FULL, CHECK, AssetMaterialized(run_id=None, timestamp=T0),
        AssetObserved(run_id=None, timestamp=T0, key=key("src"), data_version="s", data_time=T0,
                      metadata={"k": {"deep": (1, 2)}, 3: "int key", "big": 2**70}),
        started("r1", T0, selection="a/*", asset_keys=(key("a"), key("b/c")), tags={"team": "x"}, pid=7),
        step_started("r1", "a", "a", "b"), RunFinished(run_id="r1", timestamp=T0, status=RunStatus.CANCELED),
        RunCancelRequested(run_id="r1", timestamp=T0, reason="stop ünïcode", requested_by="ui"),
        StepSucceeded(run_id="r1", timestamp=T0, step_key="a", asset_keys=(key("a"),), duration=0.5),
        StepFailed(run_id="r1", timestamp=T0, step_key="a", asset_keys=(key("a"),), error=err, will_retry=True),
        StepSkipped(run_id="r1", timestamp=T0, step_key="a", reason=SkipReason.UPSTREAM_FAILED, detail="x"),
        AssetFailed(run_id="r1", timestamp=T0, step_key="m", key=key("a"), error=err),
        AssetSkipped(run_id="r1", timestamp=T0, step_key="m", key=key("b"), detail="upstream a failed"),
        LogMessage(run_id="r1", timestamp=T0, message="line", level="warning"),
        unchanged("src"), transition("late", "a"), delivery("late", "a", ok=False), queued("r2", run_key="k"),
        tick("schedule:nightly", cursor="c", error=err), toggled("sensor:s", False),
        AssetMaterialized(run_id="r1", timestamp=T0, key=key("a"), metadata={"when": datetime(2024, 1, 2)},
                          inputs=[InputRecord(key("x"), None, None)], deps=[key("x")]),  # type: ignore[arg-type]
        AssetMaterialized(run_id="r1", timestamp=T0, key=key("d"), partition="2026-03-04|eu",
                          inputs=(InputRecord(key("x"), "v", T0, partition="2026-03-04"),), deps=(key("x"),)),
        DynamicPartitionsChanged(run_id=None, timestamp=T0, name="customers", added=("acme", "globex"),
                                 removed=("old",)),
        BackfillRequested(run_id=None, timestamp=T0, backfill_id="b1", selection="events+", mode="missing",
                          partition_range=("2026-01-01", ""), targets=(("events", ("2026-01-01", "2026-01-02")),),
                          tags={"t": "1"}, chunk_size=5),
        BackfillUpdated(run_id=None, timestamp=T0, backfill_id="b1", status="canceled", reason="by user"),
    ]


def _document(text: str) -> str:
    """A JSON text's document, written one way (NaN compares equal to NaN as text)."""
    return json.dumps(json.loads(text), sort_keys=True)


def test_the_fast_encoder_writes_the_document_core_writes():
    events = _every_event_type()
    assert {type(e) for e in events} == set(EVENT_TYPES.values())
    for event in events:
        assert _document(codec.event_json(event)) == _document(event_to_json(event)), type(event).__name__


def test_what_orjson_would_write_differently_is_written_by_core():
    """NaN (orjson: null), integers beyond 64 bits, dates (core: their str()), subclasses of
    plain types, lone surrogates: core writes the whole event, as it always did."""
    class Label(str):
        pass

    for metadata in ({"x": float("nan")}, {"x": [float("-inf")]}, {"big": 2**64}, {"when": datetime(2024, 1, 2)},
                     {"label": Label("a")}, {"s": "\ud800"}, {"n": {"deep": -2**63 - 1}}):
        event = AssetMaterialized(run_id="r", timestamp=T0, key=key("a"), metadata=metadata)
        assert codec.event_json(event) == event_to_json(event), metadata
    assert codec.event_json(AssetMaterialized(run_id="r", timestamp=float("inf"), key=key("a"))) == event_to_json(
        AssetMaterialized(run_id="r", timestamp=float("inf"), key=key("a")))
    # The events a step writes, built field by field: a NaN anywhere, a subclass, a big number.
    nan = float("nan")
    for event in (StepStarted(run_id="r", timestamp=nan, step_key="a", asset_keys=(key("a"),)),
                  StepStarted(run_id=Label("r"), timestamp=T0, step_key="a", pid=2**64),
                  StepSucceeded(run_id="r", timestamp=T0, step_key="a", duration=nan),
                  AssetMaterialized(run_id="r", timestamp=T0, key=key("a"), data_time=float("-inf")),
                  AssetMaterialized(run_id="r", timestamp=T0, key=key("a"), duration=nan),
                  AssetMaterialized(run_id="r", timestamp=T0, key=key("a"),
                                    inputs=(InputRecord(key("x"), "v", nan),)),
                  AssetMaterialized(run_id="r", timestamp=T0, key=key("a"), partition=Label("p"),
                                    inputs=(InputRecord(key("x"), Label("v"), T0),))):
        assert codec.event_json(event) == event_to_json(event), event


def test_plain_events_are_written_by_orjson_which_keeps_characters_as_they_are():
    event = LogMessage(run_id="r1", timestamp=T0, step_key="a", message="Zürich → 東京")
    assert "Zürich → 東京" in codec.event_json(event)  # core escapes them: \u00fc...
    assert event_from_json("log", codec.event_json(event)) == event


_json_leaf = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
              | st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)))
_metadata = st.dictionaries(st.text(max_size=6), st.recursive(
    _json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8), max_size=4)
_times = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
_text = st.text(max_size=10)
_keys = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,5}(/[a-z][a-z0-9_]{0,5}){0,2}", fullmatch=True).map(AssetKey.parse),
                 max_size=3)


@st.composite
def _events(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["materialization", "log", "failed", "check", "succeeded", "started"]))
    run_id, at, step = draw(st.none() | _text), draw(_times), draw(_text)
    asset = draw(_keys.filter(bool))[0]
    if kind == "materialization":
        inputs = tuple(InputRecord(k, draw(st.none() | _text), draw(st.none() | _times),
                                   draw(st.sampled_from(list(InputState))), draw(_text), draw(st.booleans()),
                                   draw(st.sampled_from(["", "2024-01-01"]))) for k in draw(_keys))
        return AssetMaterialized(run_id=run_id, timestamp=at, step_key=step, key=asset, partition=draw(_text),
                                 code_version=draw(st.none() | _text), data_version=draw(st.none() | _text),
                                 data_time=draw(st.none() | _times), inputs=inputs,
                                 deps=tuple(i.key for i in inputs), metadata=draw(_metadata),
                                 value_ref=draw(st.none() | _text), duration=draw(st.none() | _times))
    if kind == "log":
        return LogMessage(run_id=run_id, timestamp=at, step_key=draw(st.none() | _text), message=draw(_text))
    if kind == "failed":
        return AssetFailed(run_id=run_id, timestamp=at, step_key=step, key=asset,
                           error=ErrorInfo(draw(_text), draw(_text), draw(_text)), metadata=draw(_metadata))
    if kind == "check":
        return CheckEvaluated(run_id=run_id, timestamp=at, step_key=step, key=asset, check_name=draw(_text),
                              passed=draw(st.booleans()), severity=draw(st.sampled_from(list(CheckSeverity))),
                              metadata=draw(_metadata), target_timestamp=draw(st.none() | _times))
    if kind == "started":
        return StepStarted(run_id=run_id or "r", timestamp=at, step_key=step, asset_keys=tuple(draw(_keys)),
                           partitions=tuple(draw(st.lists(_text, max_size=2))),
                           attempt=draw(st.integers(min_value=1, max_value=2**70)), pid=draw(st.none() | st.integers()))
    return StepSucceeded(run_id=run_id or "r", timestamp=at, step_key=step, asset_keys=tuple(draw(_keys)),
                         partitions=tuple(draw(st.lists(_text, max_size=2))), duration=draw(_times))


@settings(max_examples=300, deadline=None)
@given(_events())
def test_any_event_reads_back_from_the_fast_encoder_as_from_core(event: Event):
    fast, core = codec.event_json(event), event_to_json(event)
    assert _document(fast) == _document(core)
    assert _document(event_to_json(codec.decode_event(event.type_name, fast))) == _document(
        event_to_json(event_from_json(event.type_name, core)))


def test_decoded_keys_are_the_graphs_very_objects():
    mine = AssetKey(("adopted", "key"))
    payload = event_to_json(AssetMaterialized(run_id="r", timestamp=T0, key=key("adopted/key"),
                                              inputs=(InputRecord(key("adopted/key"), "v", T0),),
                                              deps=(key("adopted/key"),)))
    decoded = codec.decode_event("materialization", payload)
    assert decoded.key is mine and decoded.deps[0] is mine and decoded.inputs[0].key is mine


@settings(max_examples=200, deadline=None)
@given(_keys, st.lists(st.tuples(st.sampled_from(list(InputState)), st.none() | st.text(max_size=6),
                                 st.sampled_from(["", "2024-01-01", "ü"])), max_size=3))
def test_the_summary_columns_are_the_json_they_always_were(keys: list[AssetKey],
                                                           inputs: list[tuple[InputState, str | None, str]]):
    assert codec.keys_json(keys) == json.dumps([str(k) for k in keys], separators=(",", ":"))
    records = [InputRecord(k, version, None, state, partition=partition)
               for k, (state, version, partition) in zip(keys, inputs)]
    expected = [[str(i.key), i.partition, i.data_version] + ([] if i.state is InputState.OK else [i.state.value])
                for i in records]
    assert json.loads(codec.inputs_json(records)) == expected
    assert codec.input_versions_from_json(codec.inputs_json(records)) == expected
