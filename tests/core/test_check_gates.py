"""The pure gate rule: which blocking check holds which assets (core/check_gates.py)."""

from headwater.core.asset_graph import AssetGraph
from headwater.core.check_gates import gates, held
from headwater.core.events import CheckEvaluated, CheckSeverity
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec, CheckSpec

K = AssetKey.parse
GRAPH = AssetGraph([AssetSpec(K("a")), AssetSpec(K("b"), deps=(K("a"),)), AssetSpec(K("c"), deps=(K("b"),)),
                    AssetSpec(K("x"))])


def result(asset, name, passed, severity=CheckSeverity.ERROR):
    return CheckEvaluated(run_id="r", timestamp=1.0, key=K(asset), check_name=name, passed=passed, severity=severity,
                          blocking=True)


def test_a_failed_blocking_error_holds_everything_downstream_unless_rebuilt():
    specs = [CheckSpec(K("a"), "ok", blocking=True), CheckSpec(K("x"), "soft")]
    by_asset = gates(specs, {K("a"): {"ok": result("a", "ok", False)}, K("x"): {"soft": result("x", "soft", False)}})
    assert list(by_asset) == [K("a")]  # x's check is not blocking
    assert {str(k): g.check for k, g in held(GRAPH, by_asset).items()} == {"b": "ok", "c": "ok"}
    assert held(GRAPH, by_asset, rebuilt=[K("a"), K("b")]) == {}  # a run rebuilding a re-checks it


def test_a_passing_result_or_a_warning_does_not_hold():
    specs = [CheckSpec(K("a"), "ok", blocking=True)]
    assert gates(specs, {K("a"): {"ok": result("a", "ok", True)}}) == {}
    assert gates(specs, {K("a"): {"ok": result("a", "ok", False, CheckSeverity.WARN)}}) == {}
