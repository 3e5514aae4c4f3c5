"""The layered layout: every edge points right, lanes never overlap, collapsed groups hold."""

from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.core.dag import Dag
from headwater.web.layout import NODE_W, layout


@st.composite
def dags(draw):
    n = draw(st.integers(1, 40))
    parents = {i: sorted(set(draw(st.lists(st.integers(0, i - 1), max_size=3)))) if i else [] for i in range(n)}
    groups = {i: draw(st.sampled_from(["a", "b", "c"])) for i in range(n)}
    return parents, groups


@settings(max_examples=60, deadline=None)
@given(dags(), st.sets(st.sampled_from(["a", "b", "c"])))
def test_layout_invariants(case, collapsed):
    parents, groups = case
    dag = Dag(parents)
    lay = layout(dag.layers(), parents, groups, collapsed)
    boxes = {b.id: b for b in lay.boxes}
    expected = {str(n) for n in parents if groups[n] not in collapsed} | {f"group:{g}" for g in collapsed
                                                                         if g in groups.values()}
    assert set(boxes) == expected
    for e in lay.edges:
        assert e.x2 > e.x1  # left to right, always
        assert e.source != e.target
    for i, a in enumerate(lay.lanes):  # no two lanes overlap (lanes over other columns may share a band)
        for b in lay.lanes[i + 1:]:
            assert (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y), (a, b)
    assert all(lane.y + lane.h <= lay.height for lane in lay.lanes)
    for b in lay.boxes:
        lane = next(lane for lane in lay.lanes if lane.group == b.group)
        assert lane.x <= b.x and b.x + b.w <= lane.x + lane.w and lane.y <= b.y <= lane.y + lane.h
    # No two asset boxes overlap.
    placed = sorted((b.x, b.y) for b in lay.boxes if not b.group_box)
    assert len(placed) == len(set(placed))
    assert lay.width >= max((b.x + NODE_W for b in lay.boxes), default=0)


def test_5000_nodes_all_placed_edges_left_to_right():
    """The invariants at a size the property test does not reach (its time: bench/, the graph
    benchmarks, never a timed test)."""
    import random

    rng = random.Random(1)
    parents = {i: sorted({rng.randrange(i) for _ in range(rng.randint(1, 3))}) if i > 50 else [] for i in range(5000)}
    groups = {i: f"g{i % 20}" for i in range(5000)}
    lay = layout(Dag(parents).layers(), parents, groups)
    assert {b.id for b in lay.boxes} == {str(i) for i in range(5000)}
    assert all(e.x2 > e.x1 for e in lay.edges) and len(lay.edges) == sum(len(p) for p in parents.values())
    placed = {(b.x, b.y) for b in lay.boxes}
    assert len(placed) == 5000
