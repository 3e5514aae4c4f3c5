import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.core.dag import Dag
from headwater.errors import CycleError


@st.composite
def dags(draw, max_nodes=25):
    n = draw(st.integers(1, max_nodes))
    parents = {}
    for i in range(n):
        parents[i] = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
    return parents


@given(dags())
@settings(max_examples=60, deadline=None)
def test_toposort_puts_every_parent_first(parents):
    dag = Dag(parents)
    pos = {n: i for i, n in enumerate(dag.nodes)}
    assert set(dag.nodes) == set(parents)
    for node, ups in parents.items():
        for up in ups:
            assert pos[up] < pos[node]


@given(dags())
@settings(max_examples=60, deadline=None)
def test_upstream_and_downstream_are_mirror_images(parents):
    dag = Dag(parents)
    for node in parents:
        for up in dag.upstream([node]):
            assert node in dag.downstream([up])
        assert node not in dag.upstream([node])
        assert dag.upstream([node], depth=1) == set(parents[node])


@given(dags())
@settings(max_examples=40, deadline=None)
def test_depth_limited_walk_grows_monotonically_to_the_unbounded_one(parents):
    dag = Dag(parents)
    node = max(parents)
    previous: set = set()
    for depth in range(len(parents) + 1):
        current = dag.upstream([node], depth)
        assert previous <= current
        previous = current
    assert previous == dag.upstream([node])


@given(dags(), st.data())
@settings(max_examples=60, deadline=None)
def test_an_added_back_edge_is_reported_as_a_cycle_through_it(parents, data):
    dag = Dag(parents)
    ups = {n: dag.upstream([n]) for n in parents}
    candidates = [(n, u) for n in parents for u in ups[n]]
    if not candidates:
        return
    node, ancestor = data.draw(st.sampled_from(candidates))
    broken = {k: set(v) for k, v in parents.items()}
    broken[ancestor].add(node)  # ancestor now depends on its own descendant
    with pytest.raises(CycleError) as info:
        Dag(broken)
    path = info.value.path
    assert path[0] == path[-1]
    # every consecutive pair in the reported cycle is a real edge (upstream -> downstream)
    for a, b in zip(path, path[1:]):
        assert int(a) in broken[int(b)]


def test_cycle_message_names_the_path():
    with pytest.raises(CycleError, match="a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c"):
        Dag({"a": ["c"], "b": ["a"], "c": ["b"]})


def test_layers_follow_longest_path():
    dag = Dag({"a": [], "b": ["a"], "c": ["a", "b"], "d": []})
    assert dag.layers() == [["a", "d"], ["b"], ["c"]]


def test_repeated_parents_count_once_and_a_tuple_without_repeats_is_kept_as_given():
    ups = ("a", "b")
    dag = Dag({"a": (), "b": [], "c": ("a", "b", "a"), "d": ups})
    assert dag.parents("c") == ("a", "b")
    assert dag.children("a") == ("c", "d")
    assert dag.parents("d") is ups  # shared with the caller's specs, not copied per node


@given(dags())
@settings(max_examples=30, deadline=None)
def test_sorting_a_selection_follows_the_topological_order(parents):
    dag = Dag(parents)
    chosen = set(list(parents)[::2])
    assert dag.sorted(chosen) == [n for n in dag.nodes if n in chosen]
    assert [dag.topo_index(n) for n in dag.nodes] == list(range(len(dag)))
