"""The pure decision: which alerts fire or resolve, given rules, health and the last transitions."""

import pytest
from alert_builders import HOUR, NOW, firing, health, resolved
from hypothesis import given
from hypothesis import strategies as st

import headwater.alerts as hw_alerts
from headwater.alerts import AlertRule, Condition, ConditionKind, check_failed, transitions
from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AlertState
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec
from headwater.errors import DefinitionError

K = AssetKey.parse
HOOK = hw_alerts.webhook("https://hooks.example.com/x")


def rule(name="oncall", when=("overdue",), selection="*"):
    return hw_alerts.rule(name, when=list(when), selection=selection, channels=[HOOK])


def run(rules, healths, previous=None, selected=None, now=NOW):
    hs = {h.key: h for h in healths}
    sel = selected if selected is not None else {r.name: set(hs) for r in rules}
    return transitions(rules, sel, hs, previous or {}, now)


def state_of(ts):
    return [(t.rule, str(t.key), t.state, t.condition) for t in ts]


# --- rules ---------------------------------------------------------------------------------


def test_rule_reads_naturally_and_normalizes_conditions():
    r = hw_alerts.rule("finance-oncall", when=["overdue", "failed", "overdue", "check_failed:row_count"],
                       selection="group:marts", channels=[HOOK])
    assert isinstance(r, AlertRule)
    assert r.when == (Condition(ConditionKind.OVERDUE), Condition(ConditionKind.FAILED),
                      check_failed("row_count"))
    assert r.channels == (HOOK,)
    assert hw_alerts.rule("one", when="degraded", channels=[HOOK]).when == (Condition(ConditionKind.DEGRADED),)
    assert [str(c) for c in r.when] == ["overdue", "failed", "check_failed:row_count"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"when": ["overdu"]}, "unknown condition 'overdu'"),
    ({"when": ["overdu"]}, "did you mean 'overdue'"),
    ({"when": ["failed:x"]}, "only check_failed takes a check name"),
    ({"when": ["check_failed:"]}, "check name after ':' is missing"),
    ({"when": []}, "needs at least one condition"),
    ({"when": [42]}, "must be a string or a Condition"),
    ({"when": 5}, "takes a condition or a list of them"),
    ({"channels": []}, "needs at least one channel"),
    ({"channels": ["https://example.com"]}, "is not a channel"),
    ({"selection": "a and ("}, "bad selection"),
    ({"selection": "  "}, "non-empty selection"),
])
def test_bad_rules_name_the_rule(kwargs, message):
    args = {"when": ["failed"], "channels": [HOOK]} | kwargs
    with pytest.raises(DefinitionError, match="alert rule 'finance-oncall'") as info:
        hw_alerts.rule("finance-oncall", **args)
    assert message in str(info.value)


def test_bad_rule_names_are_rejected():
    for bad in ["", "has space", "/x", None]:
        with pytest.raises(DefinitionError, match="rule name"):
            hw_alerts.rule(bad, when=["failed"], channels=[HOOK])


def test_duplicate_rule_names_are_rejected_before_anything_is_computed():
    rules = [rule("oncall"), rule("other"), rule("oncall", when=["failed"])]
    with pytest.raises(DefinitionError, match="alert rule 'oncall' is defined more than once"):
        run(rules, [health("a", overdue=True)])
    with pytest.raises(DefinitionError, match="more than once"):
        hw_alerts.validate_rules(rules)


def test_selections_resolve_against_the_graph_and_name_the_rule_when_they_miss():
    graph = AssetGraph([AssetSpec(K("sales/revenue"), group="marts"), AssetSpec(K("raw/orders"))])
    rules = [rule("all"), rule("marts", selection="group:marts")]
    assert hw_alerts.resolve_selections(rules, graph) == {
        "all": {K("sales/revenue"), K("raw/orders")}, "marts": {K("sales/revenue")}}
    assert hw_alerts.resolve_selections([rule("f")], lambda text: [K("x")]) == {"f": {K("x")}}
    with pytest.raises(DefinitionError, match="alert rule 'typo': bad selection: no group named 'mrts'"):
        hw_alerts.resolve_selections([rule("typo", selection="group:mrts")], graph)


# --- conditions --------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "h", "active"), [
    ("failed", health("a", failed=True), True),
    ("failed", health("a", overdue=True), False),
    ("overdue", health("a", overdue=True), True),
    ("overdue", health("a", failed=True), False),
    ("overdue", health("a", missing=True), False),  # no freshness known: not overdue
    ("degraded", health("a", failing=["rows"]), True),
    ("degraded", health("a", warning=["rows"]), False),  # a warning is not degraded
    ("degraded", health("a", missing=True), False),
    ("check_failed", health("a", failing=["rows"]), True),
    ("check_failed", health("a", warning=["rows"]), False),  # warn severity is not "failed"
    ("check_failed", health("a", passing=["rows"]), False),
    ("check_failed:rows", health("a", failing=["rows"]), True),
    ("check_failed:rows", health("a", failing=["ids"], passing=["rows"]), False),
])
def test_each_condition(condition, h, active):
    assert hw_alerts.is_active(Condition.parse(condition), h) is active


# --- transitions ---------------------------------------------------------------------------


def test_fires_once_with_a_sentence_built_from_the_health_reasons():
    ts = run([rule()], [health("sales/revenue", overdue=True), health("other")])
    assert state_of(ts) == [("oncall", "sales/revenue", AlertState.FIRING, "overdue")]
    t = ts[0]
    assert t.timestamp == NOW and t.run_id is None
    assert t.detail == ("sales/revenue is overdue: overdue: data is 5h old, more than the allowed 4h")


def test_nothing_while_healthy_and_nothing_again_while_still_firing():
    assert run([rule()], [health("a")]) == []
    previous = {("oncall", K("a")): firing("oncall", "a")}
    assert run([rule()], [health("a", overdue=True)], previous) == []


def test_resolves_when_the_condition_clears_naming_what_cleared():
    previous = {("oncall", K("a")): firing("oncall", "a", "overdue,failed")}
    ts = run([rule(when=["overdue", "failed"])], [health("a")], previous, now=NOW + 5)
    assert state_of(ts) == [("oncall", "a", AlertState.RESOLVED, "overdue,failed")]
    assert ts[0].timestamp == NOW + 5
    assert ts[0].detail == "a is no longer overdue and failed; it is now healthy: materialized and up to date"


def test_nothing_while_resolved_and_fires_again_when_it_recurs():
    previous = {("oncall", K("a")): resolved("oncall", "a")}
    assert run([rule()], [health("a")], previous) == []
    ts = run([rule()], [health("a", overdue=True)], previous)
    assert state_of(ts) == [("oncall", "a", AlertState.FIRING, "overdue")]


def test_several_conditions_of_one_rule_fire_once_and_name_each_active_one():
    r = rule(when=["overdue", "failed", "check_failed"])
    ts = run([r], [health("a", overdue=True, failed=True, failing=["ids", "rows"])])
    assert state_of(ts) == [("oncall", "a", AlertState.FIRING, "overdue,failed,check_failed")]
    assert ts[0].detail == ("a is overdue, failed and failing checks ids, rows: the latest materialization attempt "
                            "failed: boom: division by zero; overdue: data is 5h old, more than the allowed 4h; "
                            "check ids failed: 3 null ids; check rows failed: 3 null ids")
    # The set of active conditions changing while firing is not a new alert.
    previous = {("oncall", K("a")): ts[0]}
    assert run([r], [health("a", failing=["ids"])], previous) == []


def test_several_rules_on_one_asset_are_deduplicated_independently():
    rules = [rule("late", when=["overdue"]), rule("broken", when=["failed"]), rule("bad", when=["degraded"]),
             rule("rows", when=["check_failed:rows"])]
    ts = run(rules, [health("a", overdue=True)])
    assert state_of(ts) == [("late", "a", AlertState.FIRING, "overdue"),
                            ("bad", "a", AlertState.FIRING, "degraded")]
    previous = {(t.rule, t.key): t for t in ts}
    ts = run(rules, [health("a", overdue=True, failed=True)], previous)
    assert state_of(ts) == [("broken", "a", AlertState.FIRING, "failed")]
    previous |= {(t.rule, t.key): t for t in ts}
    ts = run(rules, [health("a", failed=True)], previous)
    assert state_of(ts) == [("late", "a", AlertState.RESOLVED, "overdue")]


def test_check_failed_for_one_named_check():
    r = rule(when=["check_failed:rows"])
    assert run([r], [health("a", failing=["ids"])]) == []
    ts = run([r], [health("a", failing=["ids", "rows"])])
    assert state_of(ts) == [("oncall", "a", AlertState.FIRING, "check_failed:rows")]
    assert ts[0].detail.startswith("a is failing check rows: ")
    ts = run([r], [health("a", failing=["ids"])], {("oncall", K("a")): ts[0]})
    assert ts[0].detail.startswith("a is no longer failing check rows; it is now degraded: check ids failed")


def test_selection_scopes_each_rule():
    rules = [rule("marts", selection="group:marts"), rule("all")]
    healths = [health("m/revenue", overdue=True), health("raw/orders", overdue=True)]
    selected = {"marts": {K("m/revenue")}, "all": {K("m/revenue"), K("raw/orders")}}
    ts = run(rules, healths, selected=selected)
    assert state_of(ts) == [("marts", "m/revenue", AlertState.FIRING, "overdue"),
                            ("all", "m/revenue", AlertState.FIRING, "overdue"),
                            ("all", "raw/orders", AlertState.FIRING, "overdue")]


def test_an_asset_without_health_keeps_its_state():
    previous = {("oncall", K("a")): firing("oncall", "a")}
    assert transitions([rule()], {"oncall": {K("a"), K("b")}}, {}, previous, NOW) == []


def test_a_firing_asset_that_leaves_the_selection_is_resolved():
    previous = {("oncall", K("gone")): firing("oncall", "gone"), ("oncall", K("old")): resolved("oncall", "old")}
    ts = transitions([rule()], {"oncall": {K("a")}}, {K("a"): health("a")}, previous, NOW)
    assert state_of(ts) == [("oncall", "gone", AlertState.RESOLVED, "overdue")]
    assert ts[0].detail == "gone is no longer selected by rule oncall (*)"


def test_state_of_rules_not_given_is_left_alone():
    previous = {("removed", K("a")): firing("removed", "a")}
    assert run([rule()], [health("a")], previous) == []


def test_every_rule_needs_its_selection():
    with pytest.raises(ValueError, match="no selected assets given for alert rule 'oncall'"):
        transitions([rule()], {}, {}, {}, NOW)


def test_output_is_deterministic():
    healths = [health(k, overdue=True) for k in ["c", "a", "b/x", "b"]]
    ts = run([rule()], healths)
    assert [str(t.key) for t in ts] == ["a", "b", "b/x", "c"]


@given(st.lists(st.lists(st.sampled_from(["ok", "overdue", "failed", "both", "unknown"]),
                         min_size=2, max_size=2), max_size=30))
def test_evaluating_a_history_alternates_firing_and_resolved_once_per_edge(history):
    """Fed back its own output, evaluation alerts exactly once per rising and falling edge."""
    rules = [rule("late", when=["overdue"]), rule("any", when=["overdue", "failed"])]
    previous = {}
    emitted = []
    for step, states in enumerate(history):
        healths = []
        for key, s in zip(["a", "b"], states):
            if s != "unknown":
                healths.append(health(key, overdue=s in ("overdue", "both"), failed=s in ("failed", "both")))
        ts = run(rules, healths, previous, selected={"late": {K("a"), K("b")}, "any": {K("a"), K("b")}},
                 now=NOW + step)
        emitted += ts
        previous |= {(t.rule, t.key): t for t in ts}
        assert len({(t.rule, t.key) for t in ts}) == len(ts)  # at most one per (rule, asset) per step
    for name, conds in [("late", {"overdue", "both"}), ("any", {"overdue", "failed", "both"})]:
        for i, key in enumerate(["a", "b"]):
            seen = [s[i] for s in history if s[i] != "unknown"]
            edges = [x in conds for x in seen]
            rises = sum(1 for j, on in enumerate(edges) if on and (j == 0 or not edges[j - 1]))
            falls = sum(1 for j, on in enumerate(edges) if not on and j > 0 and edges[j - 1])
            mine = [t.state for t in emitted if t.rule == name and t.key == K(key)]
            assert mine.count(AlertState.FIRING) == rises
            assert mine.count(AlertState.RESOLVED) == falls
            assert all(a != b for a, b in zip(mine, mine[1:]))  # strictly alternating


def test_message_texts():
    t = firing("finance-oncall", "revenue", "overdue")
    assert hw_alerts.subject(t) == "[headwater] FIRING finance-oncall: revenue overdue"
    r = resolved("finance-oncall", "revenue", "overdue,check_failed:rows")
    assert hw_alerts.subject(r) == "[headwater] RESOLVED finance-oncall: revenue no longer overdue, check rows failed"
    assert hw_alerts.alert_payload(t) == {
        "rule": "finance-oncall", "asset": "revenue", "state": "firing", "condition": "overdue",
        "detail": "revenue is overdue", "at": "2023-11-14T21:13:20+00:00"}
    assert NOW - HOUR == t.timestamp
