"""The process's deadline thread, and the step start it writes when a step runs long."""

import threading
import time

import headwater as hw
from headwater.core.events import StepStarted
from headwater.execution.deadlines import _Deadlines, call_later
from headwater.execution.step_execution import START_GRACE

WAIT = 30.0  # generous: the machine is shared


def test_a_deferred_call_runs_once_its_delay_has_passed_on_another_thread():
    ran = threading.Event()
    where: list[threading.Thread] = []
    scheduled = time.monotonic()
    call_later(0.05, lambda: (where.append(threading.current_thread()), ran.set()))
    assert ran.wait(WAIT)
    assert time.monotonic() - scheduled >= 0.05
    assert where == [where[0]] and where[0] is not threading.current_thread()


def test_a_canceled_call_never_runs_and_an_earlier_deadline_is_not_held_up_by_a_later_one():
    order: list[str] = []
    early_at: list[float] = []
    last = threading.Event()
    scheduled = time.monotonic()
    call_later(1.0, lambda: (order.append("late"), last.set()))
    canceled = call_later(0.05, lambda: order.append("canceled"))
    call_later(0.1, lambda: (order.append("early"), early_at.append(time.monotonic())))
    canceled.cancel()
    assert last.wait(WAIT)
    assert order == ["early", "late"]
    assert early_at[0] - scheduled < 1.0  # woken for it, not at the later deadline it was queued behind


def test_a_call_that_raises_does_not_stop_the_calls_after_it():
    ran = threading.Event()

    def broken() -> None:
        raise RuntimeError("the caller reports its own errors")

    call_later(0.01, broken)
    call_later(0.02, ran.set)
    assert ran.wait(WAIT)


def test_a_long_step_shows_as_started_while_it_runs(tmp_path):
    """The start of a step longer than the grace is written by the deadline thread, before
    the step ends (a short one writes it with its outcome)."""
    instance = hw.Instance(home=tmp_path / "home")
    seen: list[bool] = []

    @hw.asset
    def slow(context):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            events = instance.store.run_events(context.run_id)
            if any(isinstance(e.event, StepStarted) and e.event.step_key == "slow" for e in events):
                seen.append(True)
                return 1
            time.sleep(START_GRACE / 4)
        return 0

    try:
        result = instance.materialize(hw.Definitions(assets=[slow]), "*")
        assert result.success
        assert seen == [True]
        started = [e for e in instance.store.run_events(result.run_id) if isinstance(e.event, StepStarted)]
        assert len(started) == 1
    finally:
        instance.close()


def test_deferrals_canceled_within_their_delay_do_not_wake_the_thread_one_by_one():
    """Each step defers its start and cancels the deferral a moment later. A burst of them
    must not cost a thread wake-up each (that was one thread switch per step)."""
    deadlines = _Deadlines()
    ran = threading.Event()
    deadlines.call_later(0.0, ran.set)  # start the thread, and let it settle
    assert ran.wait(WAIT)
    before = deadlines.wakes
    for _ in range(200):
        deadlines.call_later(60.0, lambda: None).cancel()
        time.sleep(0)  # hand the GIL over, as a step's commit does
    assert deadlines.wakes - before < 20
