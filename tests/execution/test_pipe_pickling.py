"""What crosses a worker's pipe comes out equal to what went in, through the cheaper pickle."""

import pickle
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler

from headwater.core.events import AssetMaterialized, ErrorInfo, InputRecord, InputState
from headwater.core.keys import AssetKey
from headwater.execution import multiprocess  # noqa: F401 - registers the pipe's classes
from headwater.execution.pipe_pickling import register
from headwater.execution.requests import InputSnapshot, StepOutcome, StepRequest


def _through_pipe(obj):
    return pickle.loads(ForkingPickler.dumps(obj))


def test_requests_and_outcomes_come_out_equal():
    a, b = AssetKey.parse("raw/a"), AssetKey.parse("b")
    record = InputRecord(a, "v1", 12.5, InputState.STALE, "upstream changed", True, "2026-01-01")
    request = StepRequest(run_id="r", step_key="b", asset_keys=(b,), inputs={a: InputSnapshot(record, "ref")},
                          attempt=2, max_attempts=3, timeout=1.5, tags={"k": "v"}, partitions=("p",),
                          partition_inputs={a: {"p": InputSnapshot(record, None)}}, reads={"p": {a: ("p",)}},
                          time_window=(1.0, 2.0), current={b: ("r0", 3.0)})
    mat = AssetMaterialized(run_id="r", timestamp=4.0, step_key="b", key=b, code_version="1", data_version="d",
                            data_time=5.0, inputs=(record,), deps=(a,), metadata={"rows": 3}, value_ref="x")
    outcome = StepOutcome("b", 2, False, materializations=(mat,), failed_keys=(b,),
                          error=ErrorInfo("boom", "RuntimeError", "tb"), duration=0.25, recorded=False,
                          blocked=("c",), extra={"e": 1}, skipped_keys=(a,), blocked_by={a: "why"}, reasons={b: "r"})
    for obj in (request, outcome, mat, record):
        assert _through_pipe(obj) == obj
        assert ForkingPickler.dumps(obj) != pickle.dumps(obj)  # the registered way, not the ordinary one
    assert _through_pipe(outcome).materializations[0].ran_on_stale_inputs


@dataclass(frozen=True)
class _NotSlotted:
    x: int


def test_a_class_without_slots_keeps_the_ordinary_pickle():
    register(_NotSlotted)
    assert bytes(ForkingPickler.dumps(_NotSlotted(1))) == pickle.dumps(_NotSlotted(1))
