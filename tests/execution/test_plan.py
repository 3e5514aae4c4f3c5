import pytest

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.specs import AssetSpec
from headwater.core.status import compute_statuses
from headwater.errors import DefinitionError
from headwater.execution.plan import PlanMode, build_plan

K = AssetKey.parse


def g():
    return AssetGraph([
        AssetSpec(K("a"), code_version="1"), AssetSpec(K("b"), deps=(K("a"),), code_version="1"),
        AssetSpec(K("c"), deps=(K("b"),), code_version="1"), AssetSpec(K("x"), code_version="1"),
        AssetSpec(K("src"), is_source=True),
    ])


def test_steps_follow_dependencies_and_sources_are_set_aside():
    plan = build_plan(g(), [K("c"), K("a"), K("b"), K("x"), K("src")], str)
    order = [s.key for s in plan.steps]
    assert order.index("a") < order.index("b") < order.index("c")
    assert {s.key: s.deps for s in plan.steps}["c"] == frozenset({"b"})
    assert plan.sources == (K("src"),)
    assert plan.downstream_of("a") == {"b", "c"}


def test_edges_only_between_selected_assets():
    plan = build_plan(g(), [K("a"), K("c")], str)
    assert all(not s.deps for s in plan.steps)


def test_stale_mode_skips_current_assets_and_missing_mode_only_runs_never_materialized():
    m = {k: AssetMaterialized(run_id="r", timestamp=1.0, key=K(k), code_version="1", data_version=k + "1",
                              deps=tuple(K(d) for d in deps),
                              inputs=())
         for k, deps in {"a": [], "b": ["a"]}.items()}
    from headwater.core.events import InputRecord
    m["b"] = AssetMaterialized(run_id="r", timestamp=1.0, key=K("b"), code_version="1", data_version="b1",
                               deps=(K("a"),), inputs=(InputRecord(K("a"), "a1", 1.0),))
    facts = {K(k): AssetFacts(K(k), last_materialization=v, last_attempt_status=AttemptStatus.SUCCEEDED,
                              last_attempt_at=1.0) for k, v in m.items()}
    statuses = compute_statuses(g(), facts)
    stale = build_plan(g(), list(g().keys), str, statuses, PlanMode.STALE)
    assert {s.key for s in stale.steps} == {"c", "x"}
    assert set(stale.up_to_date) == {K("a"), K("b")}
    missing = build_plan(g(), list(g().keys), str, statuses, PlanMode.MISSING)
    assert {s.key for s in missing.steps} == {"c", "x"}


def test_multi_asset_outputs_share_one_step_and_non_subsettable_runs_whole():
    graph = AssetGraph([AssetSpec(K("m1")), AssetSpec(K("m2"), deps=(K("m1"),)), AssetSpec(K("after"), deps=(K("m2"),))])
    step_of = {K("m1"): "multi", K("m2"): "multi", K("after"): "after"}.__getitem__
    plan = build_plan(graph, [K("m2"), K("after")], step_of, subsettable=lambda s: False,
                      members=lambda s: (K("m1"), K("m2")))
    assert [(s.key, s.asset_keys) for s in plan.steps] == [("multi", (K("m1"), K("m2"))), ("after", (K("after"),))]


def test_multi_asset_with_a_step_in_between_is_a_clear_error():
    graph = AssetGraph([AssetSpec(K("m1")), AssetSpec(K("mid"), deps=(K("m1"),)), AssetSpec(K("m2"), deps=(K("mid"),))])
    step_of = {K("m1"): "multi", K("m2"): "multi", K("mid"): "mid"}.__getitem__
    with pytest.raises(DefinitionError, match="cannot be ordered into steps"):
        build_plan(graph, [K("m1"), K("mid"), K("m2")], step_of)
