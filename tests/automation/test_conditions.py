"""Declarative automation conditions: every primitive, composites, guards, batching, memory
and explanations, on small hand-built graphs with a frozen ``now``."""

import gc
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.automation.conditions import (
    AutomationCondition,
    AutomationMemory,
    evaluate_automation,
    explain,
)
from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized, ErrorInfo
from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec
from headwater.core.status import AssetStatus, StaleCause, StaleCauseKind
from headwater.core.status import MaterializationStatus as S
from headwater.errors import DefinitionError

K = AssetKey.parse
A = AutomationCondition
T0 = 1_717_236_000.0  # 2024-06-01 10:00:00 UTC, an hourly cron tick
MIN = 60.0
HOUR = 3600.0


# -- builders ------------------------------------------------------------------------------


def graph(sources=(), freshness=None, **deps):
    """graph(a=(), b=("a",)) — every keyword an asset with its upstream, in any order."""
    freshness = freshness or {}
    specs = [AssetSpec(K(s), is_source=True) for s in sources]
    specs += [AssetSpec(K(k), deps=tuple(K(d) for d in v), code_version="1", freshness=freshness.get(k))
              for k, v in deps.items()]
    return AssetGraph(specs)


def done(key, ts, run="r1", data_time=None, dv=None, status=S.MATERIALIZED, causes=(), failure=None):
    """A materialized asset (its latest materialization at ``ts``)."""
    key = K(key)
    dv = dv or f"{key}@{ts:.0f}"
    mat = AssetMaterialized(run_id=run, timestamp=ts, key=key, code_version="1", data_version=dv,
                            data_time=ts if data_time is None else data_time)
    return AssetStatus(key, status, stale=bool(causes), causes=tuple(causes), roots=tuple(causes),
                       last_materialization=mat,
                       data_version=dv, data_time=mat.data_time, last_updated_at=ts, last_run_id=run,
                       last_attempt_run_id=run, failure=failure)


def missing(key):
    return AssetStatus(K(key), S.MISSING)


def failed(key, ts=None, run="rf"):
    """Latest attempt failed (after a materialization at ``ts``, or never materialized)."""
    if ts is None:
        return AssetStatus(K(key), S.FAILED, last_attempt_run_id=run, failure=ErrorInfo("boom"))
    return done(key, ts, status=S.FAILED, failure=ErrorInfo("boom"))


def observed(key, ts, dv="s1", data_time=None):
    return AssetStatus(K(key), S.OBSERVED, is_source=True, data_version=dv, data_time=data_time,
                       last_updated_at=ts)


def statuses(*items):
    return {s.key: s for s in items}


def conds(cond, *keys):
    return {K(k): cond for k in keys}


def run(g, conditions, sts, now, memory=None, in_flight=()):
    return evaluate_automation(g, conditions, sts, memory or AutomationMemory(), now,
                               frozenset(K(k) for k in in_flight))


def names(result):
    return sorted(str(k) for k in result.requested)


def leaf(result, asset, label):
    """The explanation node with ``label`` in ``asset``'s tree (depth-first)."""
    stack = [result.explanations[asset]["tree"]]
    while stack:
        node = stack.pop()
        if node["label"] == label:
            return node
        stack.extend(node["children"])
    raise AssertionError(f"no node {label!r} in {asset}")


CHAIN = graph(a=(), b=("a",), c=("b",))


# -- on_missing ----------------------------------------------------------------------------


def test_on_missing_requests_a_missing_root_once():
    g = graph(a=())
    r = run(g, conds(A.on_missing(), "a"), statuses(missing("a")), T0)
    assert names(r) == ["a"]
    # next tick: the run is not visible yet (no in-flight info), the memory stops a second request
    r2 = run(g, conds(A.on_missing(), "a"), statuses(missing("a")), T0 + 30, r.memory)
    assert names(r2) == []
    assert "requested by automation at 2024-06-01 10:00:00Z" in leaf(r2, "a", "not requested")["detail"]
    # ...also after that run failed: on_missing does not retry
    r3 = run(g, conds(A.on_missing(), "a"), statuses(failed("a")), T0 + 60, r2.memory)
    assert names(r3) == []


def test_on_missing_is_false_for_a_materialized_asset():
    r = run(CHAIN, conds(A.on_missing(), "a"), statuses(done("a", T0 - HOUR)), T0)
    assert names(r) == []
    assert leaf(r, "a", "missing")["value"] is False


def test_on_missing_chain_of_missing_assets_is_one_run():
    r = run(CHAIN, conds(A.on_missing(), "a", "b", "c"), statuses(missing("a"), missing("b"), missing("c")), T0)
    assert names(r) == ["a", "b", "c"]
    assert len(r.run_requests) == 1
    assert r.run_requests[0].asset_keys == (K("a"), K("b"), K("c"))


def test_on_missing_waits_for_missing_upstream_without_a_condition():
    r = run(CHAIN, conds(A.on_missing(), "b"), statuses(missing("a"), missing("b")), T0)
    assert names(r) == []
    assert leaf(r, "b", "not any_upstream_missing")["detail"] == "upstream a never materialized"


def test_on_missing_not_while_in_progress():
    r = run(CHAIN, conds(A.on_missing(), "a"), statuses(missing("a")), T0, in_flight=["a"])
    assert names(r) == []
    running = AssetStatus(K("a"), S.RUNNING, last_attempt_run_id="r9")
    r = run(CHAIN, conds(A.on_missing(), "a"), statuses(running), T0)
    assert names(r) == []
    assert "run r9" in leaf(r, "a", "not in_progress")["detail"]


def test_unobserved_source_is_not_missing_for_its_readers():
    g = graph(sources=["raw"], a=("raw",))
    r = run(g, conds(A.on_missing(), "a"), statuses(AssetStatus(K("raw"), S.UNOBSERVED, is_source=True),
                                                    missing("a")), T0)
    assert names(r) == ["a"]


# -- eager ---------------------------------------------------------------------------------


def test_eager_requests_when_upstream_has_a_newer_materialization():
    g = graph(orders=(), revenue=("orders",))
    sts = statuses(done("orders", T0 - 10 * MIN, run="r1"), done("revenue", T0 - HOUR))
    r = run(g, conds(A.eager(), "revenue"), sts, T0)
    assert names(r) == ["revenue"]
    tree = r.explanations["revenue"]["tree"]
    assert tree["label"] == "eager" and tree["value"] is True
    assert tree["detail"] == "upstream orders has a newer materialization (run r1 at 2024-06-01 09:50:00Z)"


def test_eager_is_false_when_upstream_is_older():
    sts = statuses(done("a", T0 - HOUR), done("b", T0 - 30 * MIN))
    r = run(CHAIN, conds(A.eager(), "b"), sts, T0)
    assert names(r) == []
    assert r.explanations["b"] == {"requested": False, "tree": r.explanations["b"]["tree"]}
    assert leaf(r, "b", "any_upstream_updated")["value"] is False


def test_eager_root_has_nothing_to_react_to():
    r = run(CHAIN, conds(A.eager(), "a"), statuses(done("a", T0 - HOUR)), T0)
    assert names(r) == []
    assert leaf(r, "a", "any_upstream_updated")["detail"] == "no upstream assets"


def test_eager_chain_is_batched_into_one_run_and_settles():
    cond = conds(A.eager(), "a", "b", "c")
    sts = statuses(done("a", T0 - 5 * MIN), done("b", T0 - HOUR), done("c", T0 - HOUR))
    r = run(CHAIN, cond, sts, T0)
    assert names(r) == ["b", "c"]
    assert len(r.run_requests) == 1
    req = r.run_requests[0]
    assert req.asset_keys == (K("b"), K("c")) and req.selection == "automation" and req.mode == "all"
    assert "upstream b is requested in this tick" in leaf(r, "c", "any_upstream_updated")["detail"]
    # while the run is queued / running: nothing new
    r2 = run(CHAIN, cond, sts, T0 + 30, r.memory, in_flight=["b", "c"])
    assert names(r2) == []
    # the run materialized b then c: the chain settles, and the memory forgets the answered requests
    after = statuses(done("a", T0 - 5 * MIN), done("b", T0 + 40, run="r2"), done("c", T0 + 41, run="r2"))
    r3 = run(CHAIN, cond, after, T0 + 60, r2.memory)
    assert names(r3) == []
    assert r3.memory.requested_at == {}


def test_eager_waits_for_missing_or_running_upstream():
    g = graph(a=(), x=(), b=("a", "x"))
    sts = statuses(done("a", T0 - 5 * MIN), missing("x"), done("b", T0 - HOUR))
    r = run(g, conds(A.eager(), "b"), sts, T0)
    assert names(r) == []
    assert r.explanations["b"]["tree"]["detail"] == "upstream x never materialized"
    sts = statuses(done("a", T0 - 5 * MIN), done("x", T0 - 2 * HOUR), done("b", T0 - HOUR))
    r = run(g, conds(A.eager(), "b"), sts, T0, in_flight=["x"])
    assert names(r) == []
    assert leaf(r, "b", "not any_upstream_in_progress")["detail"] == "upstream x in a queued or started run"


def test_eager_missing_upstream_joins_when_requested_in_the_same_tick():
    g = graph(a=(), b=("a",))
    cond = {K("a"): A.on_missing(), K("b"): A.eager()}
    r = run(g, cond, statuses(missing("a"), done("b", T0 - HOUR)), T0)
    assert names(r) == ["a", "b"] and len(r.run_requests) == 1


def test_eager_does_not_re_request_while_the_request_is_outstanding_or_after_it_failed():
    g = graph(a=(), b=("a",))
    sts = statuses(done("a", T0 - 5 * MIN), done("b", T0 - HOUR))
    r = run(g, conds(A.eager(), "b"), sts, T0)
    assert names(r) == ["b"]
    # the daemon has not seen the run yet (in_flight empty): memory prevents a duplicate
    assert names(run(g, conds(A.eager(), "b"), sts, T0 + 30, r.memory)) == []
    # the run failed: no retry storm...
    failed_b = statuses(done("a", T0 - 5 * MIN), failed("b", T0 - HOUR))
    r3 = run(g, conds(A.eager(), "b"), failed_b, T0 + 60, r.memory)
    assert names(r3) == []
    # ...until upstream changes again
    newer = statuses(done("a", T0 + 90, run="r5"), failed("b", T0 - HOUR))
    r4 = run(g, conds(A.eager(), "b"), newer, T0 + 120, r3.memory)
    assert names(r4) == ["b"]


def test_eager_catches_a_run_that_read_an_older_upstream_version():
    g = graph(a=(), b=("a",))
    # b materialized after a's newest version was written, but read the previous one
    cause = StaleCause(StaleCauseKind.UPSTREAM_UPDATED, K("b"), K("a"), detail="a has a new data version")
    sts = statuses(done("a", T0 - 10 * MIN, dv="a2"), done("b", T0 - 5 * MIN, causes=[cause]))
    r = run(g, conds(A.eager(), "b"), sts, T0)
    assert names(r) == ["b"]
    assert "read an older version of upstream a" in leaf(r, "b", "any_upstream_updated")["detail"]
    # once requested for that, not again
    assert names(run(g, conds(A.eager(), "b"), sts, T0 + 30, r.memory)) == []


def test_eager_reacts_to_a_new_source_observation():
    g = graph(sources=["raw"], a=("raw",))
    sts = statuses(observed("raw", T0 - MIN), done("a", T0 - HOUR))
    r = run(g, conds(A.eager(), "a"), sts, T0)
    assert names(r) == ["a"]
    assert "newer observation" in r.explanations["a"]["tree"]["detail"]


def test_eager_or_on_missing_on_a_mixed_graph():
    cond = conds(A.eager() | A.on_missing(), "a", "b", "c")
    r = run(CHAIN, cond, statuses(done("a", T0 - HOUR), done("b", T0 - 30 * MIN), missing("c")), T0)
    assert names(r) == ["c"]
    tree = r.explanations["c"]["tree"]
    assert tree["label"] == "any of" and [c["label"] for c in tree["children"]] == ["eager", "on_missing"]


# -- guards --------------------------------------------------------------------------------


def test_in_progress_prevents_a_request():
    sts = statuses(done("a", T0 - 5 * MIN), done("b", T0 - HOUR))
    r = run(CHAIN, conds(A.eager(), "b"), sts, T0, in_flight=["b"])
    assert names(r) == []
    assert r.explanations["b"]["tree"]["detail"] == "in a queued or started run"


def test_any_upstream_failed_blocks():
    g = graph(a=(), x=(), b=("a", "x"))
    cond = conds(A.eager() & ~A.any_upstream_failed(), "b")
    sts = statuses(done("a", T0 - 5 * MIN), failed("x", T0 - 2 * HOUR), done("b", T0 - HOUR))
    r = run(g, cond, sts, T0)
    assert names(r) == []
    node = leaf(r, "b", "not any_upstream_failed")
    assert node["value"] is False and node["detail"] == "upstream x failed in run r1: boom"
    # without the guard, eager alone would go
    assert names(run(g, conds(A.eager(), "b"), sts, T0)) == ["b"]


def test_upstream_failure_being_retried_in_this_tick_does_not_block():
    g = graph(a=(), b=("a",))
    cond = {K("a"): A.failed(), K("b"): A.eager() & ~A.any_upstream_failed()}
    r = run(g, cond, statuses(failed("a", T0 - 2 * HOUR), done("b", T0 - HOUR)), T0)
    assert names(r) == ["a", "b"]


def test_primitive_values():
    g = graph(a=(), b=("a",))
    cause = StaleCause(StaleCauseKind.CODE_CHANGED, K("b"), detail="code version changed from '1' to '2'")
    sts = statuses(done("a", T0 - HOUR), done("b", T0 - 30 * MIN, causes=[cause]))
    cases = {
        A.missing(): False, A.in_progress(): False, A.failed(): False, A.stale(): True,
        A.requested(): False, A.any_upstream_updated(): False, A.any_upstream_missing(): False,
        A.any_upstream_in_progress(): False, A.any_upstream_failed(): False,
    }
    for cond, expected in cases.items():
        r = run(g, {K("b"): cond}, sts, T0)
        assert r.explanations["b"]["tree"]["value"] is expected, cond.label
    assert run(g, {K("b"): A.stale()}, sts, T0).explanations["b"]["tree"]["detail"] == \
        "code version changed from '1' to '2'"


# -- combinators ---------------------------------------------------------------------------


def test_and_or_not_and_labels():
    a, m = A.in_progress(), A.missing()
    assert (a & m) == A.in_progress() & A.missing()
    assert hash(A.eager()) == hash(A.eager()) and A.eager() == A.eager()
    assert (a & m & a).label == "all of" and len((a & m & a).children) == 3  # anonymous groups flatten
    assert len((A.eager() & a).children) == 2  # named composites stay one node
    assert (~a).label == "not in_progress"
    assert A.on_cron("0 9 * * *", "Europe/Berlin").label == "on_cron('0 9 * * *', Europe/Berlin)"
    assert A.on_freshness(600).label == "on_freshness(lead=10m)"
    assert A.on_freshness(timedelta(minutes=10)) == A.on_freshness(600)
    g = graph(a=())
    sts = statuses(missing("a"))
    assert names(run(g, {K("a"): m | a}, sts, T0)) == ["a"]
    assert names(run(g, {K("a"): m & a}, sts, T0)) == []
    assert names(run(g, {K("a"): m & ~a}, sts, T0)) == ["a"]
    assert names(run(g, {K("a"): ~(m | a)}, sts, T0)) == []
    tree = run(g, {K("a"): ~(m | a)}, sts, T0).explanations["a"]["tree"]
    assert tree["label"] == "not" and tree["children"][0]["label"] == "any of"


def test_bad_definitions_are_definition_errors():
    with pytest.raises(DefinitionError, match="on_cron.*invalid cron expression 'every hour'"):
        A.on_cron("every hour")
    with pytest.raises(DefinitionError, match="Mars/Olympus"):
        A.on_cron("0 * * * *", "Mars/Olympus")
    with pytest.raises(DefinitionError, match="lead must not be negative"):
        A.on_freshness(-1)
    with pytest.raises(DefinitionError, match="unknown asset 'nope'"):
        run(CHAIN, {K("nope"): A.missing()}, {}, T0)


# -- on_cron -------------------------------------------------------------------------------


def test_on_cron_root_fires_once_per_tick():
    g = graph(a=())
    cond = conds(A.on_cron("0 * * * *"), "a")
    sts = statuses(done("a", T0 - 2 * HOUR))
    r1 = run(g, cond, sts, T0 + 5 * MIN)
    assert names(r1) == ["a"]
    assert r1.memory.cron_ticks == {"a": {"0 * * * *|UTC": T0}}
    # same hour, even before the run shows up anywhere: not again
    r2 = run(g, cond, sts, T0 + 10 * MIN, r1.memory)
    assert names(r2) == []
    assert "already handled" in leaf(r2, "a", "cron_tick_passed('0 * * * *', UTC)")["detail"]
    # the next hour: again
    r3 = run(g, cond, statuses(done("a", T0 + 6 * MIN)), T0 + HOUR + MIN, r2.memory)
    assert names(r3) == ["a"]


def test_on_cron_waits_for_every_upstream_to_update_after_the_tick():
    g = graph(a=(), x=(), b=("a", "x"))
    cond = conds(A.on_cron("0 * * * *"), "b")
    early = statuses(done("a", T0 + 20 * MIN), done("x", T0 - 30 * MIN), done("b", T0 - 50 * MIN))
    r1 = run(g, cond, early, T0 + 25 * MIN)
    assert names(r1) == []
    assert leaf(r1, "b", "all_upstream_updated_since_tick")["detail"] == \
        "waiting for upstream x to update after tick 2024-06-01 10:00:00Z"
    ready = statuses(done("a", T0 + 20 * MIN), done("x", T0 + 40 * MIN), done("b", T0 - 50 * MIN))
    r2 = run(g, cond, ready, T0 + 45 * MIN, r1.memory)
    assert names(r2) == ["b"]
    # once per tick: the next evaluations in the same hour do nothing, whatever updates
    later = statuses(done("a", T0 + 50 * MIN), done("x", T0 + 50 * MIN), done("b", T0 + 46 * MIN))
    assert names(run(g, cond, later, T0 + 55 * MIN, r2.memory)) == []


def test_on_cron_tick_is_handled_by_a_materialization_after_it_and_its_upstream():
    g = graph(a=(), b=("a",))
    cond = conds(A.on_cron("0 * * * *"), "b")
    sts = statuses(done("a", T0 + 5 * MIN), done("b", T0 + 10 * MIN))  # someone already ran b
    r = run(g, cond, sts, T0 + 15 * MIN)
    assert names(r) == []
    assert "after tick" in leaf(r, "b", "cron_tick_passed('0 * * * *', UTC)")["detail"]
    # ... but not by one that predates an upstream update after the tick
    sts = statuses(done("a", T0 + 12 * MIN), done("b", T0 + 10 * MIN))
    assert names(run(g, cond, sts, T0 + 15 * MIN)) == ["b"]


def test_on_cron_chain_joins_the_upstream_request():
    cond = conds(A.on_cron("0 * * * *"), "a", "b", "c")
    sts = statuses(done("a", T0 - HOUR), done("b", T0 - HOUR), done("c", T0 - HOUR))
    r = run(CHAIN, cond, sts, T0 + MIN)
    assert names(r) == ["a", "b", "c"] and len(r.run_requests) == 1


def test_on_cron_in_a_time_zone():
    g = graph(a=())
    cond = conds(A.on_cron("0 9 * * *", "Europe/Berlin"), "a")  # 09:00 CEST = 07:00 UTC
    sts = statuses(done("a", T0 - 4 * HOUR))  # 06:00 UTC, before today's tick
    r = run(g, cond, sts, T0)
    assert names(r) == ["a"]
    assert "2024-06-01 07:00:00Z" in leaf(r, "a", "cron_tick_passed('0 9 * * *', Europe/Berlin)")["detail"]


# -- on_freshness --------------------------------------------------------------------------


def fresh_graph(policy):
    return graph(freshness={"b": policy}, a=(), b=("a",))


def test_on_freshness_requests_within_lead_of_the_deadline():
    g = fresh_graph(FreshnessPolicy.within(HOUR))
    cond = conds(A.on_freshness(15 * MIN), "b")
    # b has data as of 09:00 (overdue at 10:00); a has data as of 09:30
    sts = statuses(done("a", T0 - 30 * MIN), done("b", T0 - 55 * MIN, data_time=T0 - HOUR))
    r = run(g, cond, sts, T0 - 10 * MIN)
    assert names(r) == ["b"]
    due = leaf(r, "b", "freshness_due(lead=15m)")
    assert due["detail"] == "becomes overdue at 2024-06-01 10:00:00Z, within the lead of 15m"
    assert "data as of 2024-06-01 09:30:00Z" in leaf(r, "b", "newer_upstream_data")["detail"]
    # 20 minutes before the deadline it is not due yet
    early = run(g, cond, sts, T0 - 20 * MIN)
    assert names(early) == []
    assert "due from 2024-06-01 09:45:00Z" in leaf(early, "b", "freshness_due(lead=15m)")["detail"]


def test_on_freshness_does_not_rerun_on_the_same_inputs():
    g = fresh_graph(FreshnessPolicy.within(HOUR))
    cond = conds(A.on_freshness(), "b")
    # overdue, but upstream has nothing newer than what b already has
    sts = statuses(done("a", T0 - 3 * HOUR), done("b", T0 - 2 * HOUR, data_time=T0 - 3 * HOUR))
    r = run(g, cond, sts, T0)
    assert names(r) == []
    assert leaf(r, "b", "freshness_due(lead=0s)")["value"] is True
    assert "no newer than the current" in leaf(r, "b", "newer_upstream_data")["detail"]


def test_on_freshness_outstanding_request_waits_for_new_upstream_data():
    g = fresh_graph(FreshnessPolicy.within(HOUR))
    cond = conds(A.on_freshness(), "b")
    sts = statuses(done("a", T0 - 30 * MIN), done("b", T0 - 2 * HOUR, data_time=T0 - 2 * HOUR))
    r1 = run(g, cond, sts, T0)
    assert names(r1) == ["b"]
    r2 = run(g, cond, sts, T0 + MIN, r1.memory)  # the run failed or is not visible yet
    assert names(r2) == []
    assert "already requested" in leaf(r2, "b", "newer_upstream_data")["detail"]
    newer = statuses(done("a", T0 + 2 * MIN), done("b", T0 - 2 * HOUR, data_time=T0 - 2 * HOUR))
    assert names(run(g, cond, newer, T0 + 3 * MIN, r2.memory)) == ["b"]


def test_on_freshness_without_policy_or_without_data():
    g = fresh_graph(FreshnessPolicy.within(HOUR))
    r = run(g, conds(A.on_freshness(), "a", "b"), statuses(done("a", T0 - MIN), missing("b")), T0)
    assert names(r) == ["b"]
    assert leaf(r, "a", "freshness_due(lead=0s)")["detail"] == "no freshness policy"
    assert leaf(r, "b", "freshness_due(lead=0s)")["detail"] == "no data time yet"


def test_on_freshness_cron_deadline_and_upstream_requested_in_the_same_tick():
    # by 11:00, data as of 10:00; b currently has data as of 09:00 of today
    policy = FreshnessPolicy.by_deadline("0 11 * * *", lag=HOUR)
    g = fresh_graph(policy)
    cond = {K("a"): A.on_cron("0 * * * *"), K("b"): A.on_freshness(30 * MIN)}
    sts = statuses(done("a", T0 - HOUR), done("b", T0 - HOUR + MIN, data_time=T0 - HOUR))
    r = run(g, cond, sts, T0 + 35 * MIN)
    # a is requested (root on the hourly cron); its data time will be "now", so b joins
    assert names(r) == ["a", "b"] and len(r.run_requests) == 1
    assert "becomes overdue at 2024-06-01 11:00:00Z" in leaf(r, "b", "freshness_due(lead=30m)")["detail"]


# -- memory, run keys, explanations --------------------------------------------------------


def test_memory_round_trip():
    mem = AutomationMemory({"a": T0, "b/c": T0 + 1.5}, {"a": {"0 * * * *|UTC": T0}}, T0 + 2)
    data = mem.to_json()
    text = json.dumps(data)
    assert AutomationMemory.from_json(json.loads(text)) == mem
    assert AutomationMemory.from_json(text) == mem
    assert AutomationMemory.from_json(None) == AutomationMemory()
    assert AutomationMemory.from_json({"requested_at": {"a": "junk"}, "x": 1}) == AutomationMemory()


def test_result_memory_survives_json_and_drives_the_next_tick():
    g = graph(a=())
    cond = conds(A.on_cron("0 * * * *") | A.on_missing(), "a")
    r1 = run(g, cond, statuses(missing("a")), T0 + MIN)
    stored = AutomationMemory.from_json(json.loads(json.dumps(r1.memory.to_json())))
    assert stored == r1.memory and stored.last_tick == T0 + MIN
    assert names(run(g, cond, statuses(missing("a")), T0 + 2 * MIN, stored)) == []


def test_input_memory_is_not_modified():
    mem = AutomationMemory({"b": T0 - HOUR}, {}, None)
    before = mem.to_json()
    run(CHAIN, conds(A.eager(), "b"), statuses(done("a", T0 - MIN), done("b", T0 - 2 * HOUR)), T0, mem)
    assert mem.to_json() == before


def test_run_key_is_deterministic_per_tick():
    cond = conds(A.eager(), "b", "c")
    sts = statuses(done("a", T0 - 5 * MIN), done("b", T0 - HOUR), done("c", T0 - HOUR))
    r1 = run(CHAIN, cond, sts, T0)
    r2 = run(CHAIN, cond, sts, T0)
    r3 = run(CHAIN, cond, sts, T0 + 1)
    key = r1.run_requests[0].run_key
    assert key == r2.run_requests[0].run_key and key.startswith("automation:2024-06-01T10:00:00.000Z:")
    assert key != r3.run_requests[0].run_key
    assert r1.run_requests[0].tags["headwater/tick"] == "2024-06-01T10:00:00.000Z"


def test_nothing_requested_means_no_run_and_explanations_only_for_assets_with_conditions():
    r = run(CHAIN, conds(A.eager(), "b"), statuses(done("a", T0 - HOUR), done("b", T0 - MIN)), T0)
    assert r.run_requests == [] and r.requested == frozenset()
    assert set(r.explanations) == {"b"}


def test_explain_renders_an_indented_tree():
    g = graph(orders=(), revenue=("orders",))
    sts = statuses(done("orders", T0 - 10 * MIN, run="r1"), done("revenue", T0 - HOUR))
    r = run(g, conds(A.eager() | A.on_missing(), "revenue"), sts, T0)
    stored = json.loads(json.dumps(r.explanations))["revenue"]
    lines = explain(stored)
    assert lines[0] == "requested in this tick"
    assert lines[1] == "  any of: true"
    assert lines[2] == "    eager: true — upstream orders has a newer materialization (run r1 at 2024-06-01 09:50:00Z)"
    assert "      any_upstream_updated: true — upstream orders has a newer materialization" in lines[3]
    assert "      not in_progress: true — not in any queued or started run" in lines
    assert "    on_missing: false — materialized in run r1" in lines
    assert explain({"requested": False}) == ["not requested in this tick"]


def test_collector_state_is_restored():
    assert gc.isenabled()
    run(CHAIN, conds(A.eager(), "b"), statuses(done("a", T0), done("b", T0)), T0)
    assert gc.isenabled()
    gc.disable()
    try:
        run(CHAIN, conds(A.eager(), "b"), statuses(done("a", T0), done("b", T0)), T0)
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- property ------------------------------------------------------------------------------

CONDITIONS = [
    A.eager(), A.on_missing(), A.eager() | A.on_missing(), A.on_cron("*/15 * * * *"),
    A.on_freshness(600), A.eager() & ~A.any_upstream_failed(), ~A.in_progress() & A.stale(),
    A.failed() | (A.missing() & ~A.requested()),
]


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 8))
    deps = {f"n{i}": tuple(f"n{j}" for j in range(i) if draw(st.booleans())) for i in range(n)}
    policy = FreshnessPolicy.within(HOUR)
    g = graph(freshness={k: policy for k in deps}, **deps)
    sts = {}
    for k in deps:
        kind = draw(st.sampled_from(["missing", "done", "failed", "running"]))
        ts = T0 - draw(st.integers(0, 7200))
        if kind == "missing":
            sts[K(k)] = missing(k)
        elif kind == "done":
            sts[K(k)] = done(k, ts)
        elif kind == "failed":
            sts[K(k)] = failed(k, ts if draw(st.booleans()) else None)
        else:
            sts[K(k)] = AssetStatus(K(k), S.RUNNING)
    with_cond = draw(st.lists(st.sampled_from(sorted(deps)), unique=True))
    conditions = {K(k): draw(st.sampled_from(CONDITIONS)) for k in with_cond}
    in_flight = frozenset(K(k) for k in draw(st.lists(st.sampled_from(sorted(deps)), unique=True)))
    mem = AutomationMemory({k: T0 - draw(st.integers(0, 7200)) for k in draw(
        st.lists(st.sampled_from(sorted(deps)), unique=True))})
    return g, conditions, sts, mem, in_flight


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_evaluation_is_deterministic_and_requests_only_assets_with_conditions(case):
    g, conditions, sts, mem, in_flight = case
    first = evaluate_automation(g, conditions, sts, mem, T0, in_flight)
    second = evaluate_automation(g, conditions, sts, mem, T0, in_flight)
    assert first == second
    assert first.requested <= set(conditions)
    assert set(first.explanations) == {str(k) for k in conditions}
    assert {k for k, e in first.explanations.items() if e["requested"]} == {str(k) for k in first.requested}
    if first.requested:
        (req,) = first.run_requests
        assert set(req.asset_keys) == first.requested
        assert list(req.asset_keys) == g.toposorted(req.asset_keys)
    else:
        assert first.run_requests == []
    json.dumps(first.explanations)
    assert AutomationMemory.from_json(json.loads(json.dumps(first.memory.to_json()))) == first.memory
