"""roots(), sinks() and status: terms of the selection language (the state is an input)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.selection import (
    STATES,
    KeyTerm,
    SetFunction,
    StatusTerm,
    Traverse,
    parse_selection,
    select,
    uses_status,
)
from headwater.core.specs import AssetSpec
from headwater.errors import SelectionError


def _graph(edges: dict[str, tuple[str, ...]], groups: dict[str, str] | None = None) -> AssetGraph:
    return AssetGraph([AssetSpec(AssetKey.parse(k), deps=tuple(AssetKey.parse(d) for d in deps),
                                 group=(groups or {}).get(k, "default")) for k, deps in edges.items()])


# raw -> stg -> mart_a -> report ; stg -> mart_b ; lonely
G = _graph({"raw": (), "stg": ("raw",), "mart_a": ("stg",), "mart_b": ("stg",), "report": ("mart_a",),
            "lonely": ()}, {"mart_a": "marts", "mart_b": "marts", "report": "marts"})


def k(*names: str) -> frozenset[AssetKey]:
    return frozenset(AssetKey.parse(n) for n in names)


STATE = {"failed": k("stg"), "skipped": k("mart_a", "report"), "missing": k("lonely")}


@pytest.mark.parametrize(("text", "expected"), [
    ("roots(*)", ("raw", "lonely")),
    ("sinks(*)", ("report", "mart_b", "lonely")),
    ("roots(group:marts)", ("mart_a", "mart_b")),
    ("sinks(group:marts)", ("report", "mart_b")),
    ("roots(stg+)", ("stg",)),
    ("ROOTS ( stg+ )", ("stg",)),
    ("sinks(+mart_a)", ("mart_a",)),
    ("roots(group:marts)+", ("mart_a", "mart_b", "report")),
    ("not roots(*)", ("stg", "mart_a", "mart_b", "report")),
    ("status:failed", ("stg",)),
    ("status:failed+", ("stg", "mart_a", "mart_b", "report")),
    ("status:skipped or status:missing", ("mart_a", "report", "lonely")),
    ("status:stale", ()),
    ("status:failed+ and not status:skipped", ("stg", "mart_b")),
    ("roots(status:skipped)", ("mart_a",)),
])
def test_selects(text: str, expected: tuple[str, ...]) -> None:
    assert select(G, text, STATE) == k(*expected)


def test_the_state_is_read_once_and_only_when_a_status_term_asks() -> None:
    calls: list[int] = []

    def state() -> dict[str, frozenset[AssetKey]]:
        calls.append(1)
        return STATE

    assert select(G, "raw+", state) == k("raw", "stg", "mart_a", "mart_b", "report")
    assert calls == []
    assert select(G, "status:failed or status:missing", state) == k("stg", "lonely")
    assert calls == [1]
    assert uses_status("a and (b or not status:failed+)") and not uses_status("roots(a+)")


def test_a_status_term_without_state_is_an_error_not_an_empty_set() -> None:
    with pytest.raises(SelectionError, match="status:failed needs the assets' current state"):
        select(G, "raw or status:failed")
    assert select(G, "status:failed", {}) == frozenset()  # validation: names only


@pytest.mark.parametrize(("text", "fragment"), [
    ("status:broken", "unknown state 'broken': expected one of failed, stale, missing, skipped, overdue, "
                      "degraded"),
    ("status:faild", "did you mean 'failed'?"),
    ("status:", "expected a state after 'status:'"),
    ("roots(raw", "unclosed '(' of roots("),
    ("sinks()", "expected an asset key"),
    ("statu:failed", "did you mean 'status:'?"),
])
def test_errors_name_the_culprit(text: str, fragment: str) -> None:
    with pytest.raises(SelectionError, match=fragment.replace("(", r"\(").replace("?", r"\?")):
        select(G, text, STATE)


def test_a_function_name_alone_is_an_asset_key() -> None:
    g = _graph({"roots": (), "sinks": ("roots",)})
    assert select(g, "roots") == k("roots")
    assert select(g, "roots(sinks)") == k("sinks")
    assert parse_selection("roots+") == Traverse(0, None, KeyTerm("roots"))


@settings(max_examples=60, deadline=None)
@given(tree=st.recursive(
    st.one_of(st.sampled_from(STATES).map(StatusTerm), st.sampled_from(["a", "roots", "x/*"]).map(KeyTerm)),
    lambda inner: st.one_of(st.builds(SetFunction, st.sampled_from(["roots", "sinks"]), inner),
                            st.builds(Traverse, st.none(), st.just(0), inner)),
    max_leaves=4))
def test_rendering_round_trips(tree) -> None:  # type: ignore[no-untyped-def]
    assert parse_selection(str(tree)) == tree


@st.composite
def _dags(draw: st.DrawFn) -> AssetGraph:
    n = draw(st.integers(1, 9))
    edges: dict[str, tuple[str, ...]] = {}
    for i in range(n):
        edges[f"n{i}"] = tuple(sorted(draw(st.sets(st.sampled_from(list(edges)), max_size=3)))) if edges else ()
    return _graph(edges)


@settings(max_examples=80, deadline=None)
@given(graph=_dags(), data=st.data())
def test_roots_and_sinks_are_the_edges_of_the_set(graph: AssetGraph, data: st.DataObject) -> None:
    chosen = data.draw(st.sets(st.sampled_from(graph.keys), min_size=1))
    text = " or ".join(str(x) for x in chosen)
    parents = {s.key: set(s.deps) for s in graph.specs}
    assert select(graph, f"roots({text})") == frozenset(x for x in chosen if not parents[x] & chosen)
    assert select(graph, f"sinks({text})") == frozenset(
        x for x in chosen if not any(x in parents[y] for y in chosen))
