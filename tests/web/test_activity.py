"""The warm-up of ``headwater ui`` waits for a quiet moment (``web/activity.py``)."""

import threading

from headwater.web.activity import Activity


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_with_no_request_it_waits_for_the_grace_then_goes():
    clock = Clock()
    activity = Activity(clock)
    clock.now = 5.0
    activity.wait_quiet(quiet=1.0, first_within=5.0)  # returns: the grace is over and nobody asked


def test_it_never_goes_while_a_request_is_in_flight():
    clock = Clock()
    activity = Activity(clock)
    clock.now = 10.0  # the grace is long over
    order = []
    activity.begin()
    waiter = threading.Thread(target=lambda: (activity.wait_quiet(quiet=0.0, first_within=1.0),
                                              order.append("warm")))
    waiter.start()
    waiter.join(0.3)  # a wrong implementation would have gone by now
    order.append("answered")
    activity.end()
    waiter.join(30)
    assert order == ["answered", "warm"]


def test_after_an_answer_it_waits_for_the_quiet_period():
    clock = Clock()
    activity = Activity(clock)
    activity.begin()
    clock.now = 1.0
    activity.end()
    clock.now = 1.5
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (activity.wait_quiet(quiet=1.0, first_within=100.0), done.set()))
    waiter.start()
    assert not done.wait(0.3)  # half of the quiet period has passed on its clock
    clock.now = 2.5            # the period is over: it notices when its own wait times out
    assert done.wait(30)
