"""The health snapshot: fresh on every request when cheap; shared and refreshed in the
background when expensive; invalidated by actions."""

import time

from headwater.web.state import CHEAP, CHEAP_QUIET, QUIET, HealthCache


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


def test_a_quiet_store_keeps_an_expensive_snapshot_past_its_ttl():
    """Past its ttl, a snapshot is recomputed only once the store's last event id moved (or
    after QUIET seconds, for what time alone changes)."""
    clock = [0.0]
    mark = [5]
    calls = []

    def compute():
        calls.append(1)
        clock[0] += 0.5  # expensive: ttl 2.5 s
        return {}

    cache = HealthCache(compute, mark=lambda: mark[0], mono=lambda: clock[0])
    first = cache.get()
    assert first.mark == 5 and len(calls) == 1
    clock[0] += 5                                    # past the ttl, nothing written
    assert cache.get() is first and len(calls) == 1
    mark[0] = 6                                      # something was written: refreshed (in the background)
    deadline = time.monotonic() + 5
    while cache.get() is first and time.monotonic() < deadline:
        time.sleep(0.01)
    second = cache.get()
    assert second is not first and second.mark == 6 and second.seq > first.seq
    clock[0] += QUIET + 1                            # quiet for long: time alone may have changed health
    cache.get()
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) == 3


def test_a_store_error_reading_the_mark_means_recompute():
    clock = [0.0]
    calls = []

    def compute():
        calls.append(1)
        clock[0] += 0.5
        return {}

    def broken_mark():
        if calls:
            raise RuntimeError("database is locked")
        return 1

    cache = HealthCache(compute, mark=broken_mark, mono=lambda: clock[0])
    first = cache.get()
    clock[0] += 5                                    # past the ttl; whether anything was written is unknown
    assert cache.get() is first                      # served while a refresh runs
    deadline = time.monotonic() + 5
    while cache.get() is first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) == 2 and cache.get().mark is None


def test_a_cheap_snapshot_is_shared_for_a_second_while_nothing_is_written():
    clock = [0.0]
    mark = [1]
    calls = []
    cache = HealthCache(lambda: calls.append(1) or {}, mark=lambda: mark[0], mono=lambda: clock[0])
    first = cache.get()
    clock[0] += CHEAP_QUIET / 2
    assert cache.get() is first and len(calls) == 1  # many pages polling: one computation
    mark[0] = 2
    assert cache.get() is not first and len(calls) == 2  # a write: computed afresh at once
    clock[0] += CHEAP_QUIET
    cache.get()
    assert len(calls) == 3                                # and at least every second, for the clock


def test_a_prefetched_first_snapshot_is_ready_for_the_first_request():
    calls = []
    warmed = []
    def compute():
        calls.append(1)
        time.sleep(CHEAP * 1.5)  # expensive enough to be served for a while
        return {}

    cache = HealthCache(compute, warm=warmed.append)
    cache.prefetch()
    deadline = time.monotonic() + 5
    while not warmed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) == 1 and cache.get() is warmed[0]  # computed once, before anyone asked
    cache.prefetch()  # a snapshot exists: nothing more
    assert len(calls) == 1
