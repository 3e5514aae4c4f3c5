"""Every chart's value axis carries four or more round ticks, whatever the values' range."""

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from headwater.web.charts import value_ticks

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(finite, st.floats(min_value=1e-6, max_value=1e9))
def test_at_least_four_round_ticks_inside_the_domain(lo, span):
    assume(span > abs(lo) * 1e-6)  # beyond that, float spacing itself is uneven
    hi = lo + span
    ticks = value_ticks([lo, hi])
    assert len(ticks) >= 4
    assert all(lo - span * 1e-9 <= t <= hi + span * 1e-9 for t in ticks)
    steps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert all(math.isclose(s, steps[0], rel_tol=1e-3) for s in steps)  # evenly spaced


def test_a_range_the_renderer_gave_three_ticks_gets_more():
    assert value_ticks([33.2, 46.9]) == [35.0, 37.5, 40.0, 42.5, 45.0]
    assert all(math.isclose(t, round(t, 6)) for t in value_ticks([0.001, 0.0042]))
