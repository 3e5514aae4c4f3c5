"""The incremental health pass must say exactly what a pass from scratch says."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized, CheckEvaluated, CheckSeverity, InputRecord
from headwater.core.freshness import FreshnessPolicy
from headwater.core.health import HealthPass, assess, each_health
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.specs import AssetSpec, CheckSpec
from headwater.core.status import StatusPass

K = AssetKey.parse
HOUR = 3600.0
GRAPH = AssetGraph([
    AssetSpec(K("a"), code_version="1", freshness=FreshnessPolicy.within(2 * HOUR, warn_lag=HOUR)),
    AssetSpec(K("b"), deps=(K("a"),), code_version="1",
              freshness=FreshnessPolicy.by_deadline("0 7 * * *", lag=5 * HOUR, warn_lag=2 * HOUR)),
    AssetSpec(K("c"), deps=(K("b"),), code_version="1"),
])
SPECS = [CheckSpec(K("a"), "rows", severity="warn"), CheckSpec(K("b"), "not_null"), CheckSpec(K("b"), "unique")]


def _view(healths):
    return {str(k): (h.health, h.reasons, tuple((c.name, c.state, c.detail) for c in h.checks),
                     None if h.freshness is None else (h.freshness.state, h.freshness.reason, h.freshness.late_by))
            for k, h in healths.items()}


_STEP = st.one_of(
    st.tuples(st.just("materialize"), st.sampled_from("abc"), st.integers(0, 5)),
    st.tuples(st.just("check"), st.sampled_from([0, 1, 2]), st.booleans()),
    st.tuples(st.just("clock"), st.sampled_from([0.0, 60.0, 1800.0, 5 * HOUR, 20 * HOUR]), st.just(0)),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_STEP, max_size=3), min_size=1, max_size=8))
def test_the_incremental_health_pass_equals_a_pass_from_scratch(rounds):
    """Unchanged facts and results are the very same objects between reads (as the store hands
    them back); whatever changes — a materialization, a check result, the clock — the kept
    checks and reasons must be what a fresh derivation says."""
    now = 1_700_000_000.0
    facts: dict[AssetKey, AssetFacts] = {}
    results: dict[AssetKey, dict[str, CheckEvaluated]] = {}
    statuses, healths = StatusPass(), HealthPass()
    views: dict[AssetKey, MappingProxyType] = {}  # per asset, replaced only when its results change
    for steps in rounds:
        for what, arg, n in steps:
            if what == "clock":
                now += arg
            elif what == "materialize":
                key = K(arg)
                parent = {"a": None, "b": "a", "c": "b"}[arg]
                pm = facts[K(parent)].last_materialization if parent and K(parent) in facts else None
                inputs = (InputRecord(K(parent), pm.data_version, pm.data_time),) if pm else ()
                m = AssetMaterialized(run_id=f"r{n}", timestamp=now - n * 600, key=key, code_version="1",
                                      data_version=f"{arg}{n}", data_time=pm.data_time if pm else now - n * 3000,
                                      inputs=inputs, deps=(K(parent),) if parent else ())
                facts[key] = AssetFacts(key, last_materialization=m, last_attempt_status=AttemptStatus.SUCCEEDED,
                                        last_attempt_at=m.timestamp, last_attempt_run_id=m.run_id)
            else:
                spec = SPECS[arg]
                m = facts[spec.asset].last_materialization if spec.asset in facts else None
                event = CheckEvaluated(run_id="c", timestamp=now, key=spec.asset, check_name=spec.name, passed=n,
                                       severity=CheckSeverity(spec.severity), description="" if n else "bad rows",
                                       target_run_id=m.run_id if m else None,
                                       target_timestamp=m.timestamp if m else None)
                results.setdefault(spec.asset, {})[spec.name] = event
                views[spec.asset] = MappingProxyType(dict(results[spec.asset]))
        current = statuses.compute(GRAPH, dict(facts))
        got = healths.assess(GRAPH, current, SPECS, MappingProxyType(dict(views)), now)
        assert _view(got) == _view(assess(GRAPH, current, SPECS, results, now))
        # one at a time, none kept (``status`` rows written as they come): the same healths
        assert _view({h.key: h for h in each_health(GRAPH, current, SPECS, results, now)}) == _view(got)


def test_an_unchanged_read_keeps_the_checks_and_reasons():
    now = 1_700_000_000.0
    m = AssetMaterialized(run_id="r", timestamp=now, key=K("a"), code_version="1", data_version="1", data_time=now)
    facts = {K("a"): AssetFacts(K("a"), last_materialization=m, last_attempt_status=AttemptStatus.SUCCEEDED,
                                last_attempt_at=now, last_attempt_run_id="r")}
    statuses, healths = StatusPass(), HealthPass()
    first = healths.assess(GRAPH, statuses.compute(GRAPH, facts), SPECS, {}, now)
    second = healths.assess(GRAPH, statuses.compute(GRAPH, facts), SPECS, {}, now + 0.25)  # same words
    assert second[K("a")].checks is first[K("a")].checks
    assert second[K("a")].reasons is first[K("a")].reasons
    assert second[K("a")].freshness.evaluated_at == now + 0.25
    later = healths.assess(GRAPH, statuses.compute(GRAPH, facts), SPECS, {}, now + 90)  # new words
    assert later[K("a")].checks is first[K("a")].checks
    assert later[K("a")].reasons != first[K("a")].reasons and "1m old" in later[K("a")].reasons[1]
