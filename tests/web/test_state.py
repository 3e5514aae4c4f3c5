"""The health snapshot: fresh on every request when cheap; shared and refreshed in the
background when expensive; invalidated by actions."""

import time

from headwater.web.state import CHEAP, HealthCache


def test_cheap_computations_are_never_stale():
    calls = []
    cache = HealthCache(lambda: calls.append(1) or {})
    cache.get()
    cache.get()
    assert len(calls) == 2


def test_expensive_computations_are_shared_then_refreshed_in_the_background():
    calls = []
    warmed = []

    def compute():
        calls.append(1)
        time.sleep(CHEAP * 1.5)
        return {}

    cache = HealthCache(compute, warm=warmed.append)
    first = cache.get()
    assert cache.get() is first and len(calls) == 1        # within the ttl: the same snapshot
    cache.invalidate()
    assert cache.get() is first                              # served while a refresh runs...
    deadline = time.monotonic() + 5
    while cache.get() is first and time.monotonic() < deadline:
        time.sleep(0.01)
    second = cache.get()
    assert second is not first and len(calls) == 2
    assert warmed == [second]                                # ...and warmed before it was served
    assert HealthCache.ttl(0.01) == 0 and 1 < HealthCache.ttl(0.5) <= 10
