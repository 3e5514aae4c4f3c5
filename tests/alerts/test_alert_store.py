"""End to end through a real SQLite store: dedup state survives between evaluations and processes."""

import pytest
from alert_builders import HOUR, NOW, health

import headwater.alerts as hw_alerts
from headwater.alerts import evaluate_alerts
from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AlertState, AlertTransition
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec

K = AssetKey.parse
SECRET = "store-test-secret-8d2c"

store_module = pytest.importorskip("headwater.storage.sql.store")


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path}/h.db"


@pytest.fixture
def graph():
    return AssetGraph([AssetSpec(K("raw/orders")), AssetSpec(K("marts/revenue"), group="marts"),
                       AssetSpec(K("marts/customers"), group="marts")])


def evaluate(db_url, rules, graph, healths, now):
    # A fresh store per evaluation: what the next one knows is only what was stored.
    with store_module.open_store(db_url) as store:
        return evaluate_alerts(rules, graph, {h.key: h for h in healths}, store, now,
                               sleep=lambda s: None, clock=lambda: now)


def test_dedup_across_evaluations_is_persisted_in_the_store(db_url, graph, hook, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    rules = [hw_alerts.rule("finance-oncall", when=["overdue", "failed"], selection="group:marts",
                            channels=[hw_alerts.webhook(hook.url + "/hw", secret_env="HOOK_SECRET")])]
    late = [health("marts/revenue", overdue=True), health("marts/customers"), health("raw/orders", overdue=True)]

    first = evaluate(db_url, rules, graph, late, NOW)
    assert [(str(t.key), t.state) for t in first.transitions] == [("marts/revenue", AlertState.FIRING)]
    assert [a.ok for a in first.attempts] == [True]

    # Same health, a minute later, new store connection: nothing new, nothing sent.
    second = evaluate(db_url, rules, graph, late, NOW + 60)
    assert second.transitions == () and second.attempts == ()
    assert len(hook.requests) == 1

    recovered = [health("marts/revenue"), health("marts/customers"), health("raw/orders", overdue=True)]
    third = evaluate(db_url, rules, graph, recovered, NOW + 2 * HOUR)
    assert [(str(t.key), t.state, t.condition) for t in third.transitions] == [
        ("marts/revenue", AlertState.RESOLVED, "overdue")]
    assert evaluate(db_url, rules, graph, recovered, NOW + 3 * HOUR).transitions == ()
    assert [hook.payload(i)["state"] for i in range(len(hook.requests))] == ["firing", "resolved"]

    with store_module.open_store(db_url) as store:
        states = store.alert_states()
        assert set(states) == {("finance-oncall", K("marts/revenue"))}
        last = states[("finance-oncall", K("marts/revenue"))]
        assert isinstance(last, AlertTransition) and last.state is AlertState.RESOLVED
        assert last.timestamp == NOW + 2 * HOUR
        deliveries = store.alert_deliveries()
        assert [(d.state, d.ok, d.attempt, d.channel) for d in deliveries] == [
            (AlertState.RESOLVED, True, 1, f"webhook:{hook.url}"), (AlertState.FIRING, True, 1, f"webhook:{hook.url}")]


def test_failed_deliveries_are_recorded_and_not_refired(db_url, graph, hook):
    hook.replies = [(503, "maintenance")] * 3
    rules = [hw_alerts.rule("all-failures", when=["failed"],
                            channels=[hw_alerts.webhook(hook.url, max_attempts=3)])]
    broken = [health("raw/orders", failed=True), health("marts/revenue"), health("marts/customers")]
    first = evaluate(db_url, rules, graph, broken, NOW)
    assert first.failed_deliveries == [("all-failures", K("raw/orders"), f"webhook:{hook.url}")]
    assert evaluate(db_url, rules, graph, broken, NOW + 60).transitions == ()
    with store_module.open_store(db_url) as store:
        attempts = store.alert_deliveries()
    assert [(a.attempt, a.ok) for a in attempts] == [(3, False), (2, False), (1, False)]
    assert attempts[0].detail == "HTTP 503 Service Unavailable: maintenance"


def test_several_rules_share_one_store(db_url, graph, tmp_path):
    out = tmp_path / "alerts.log"
    log = hw_alerts.shell(f'cat >> "{out}"; echo >> "{out}"')
    rules = [hw_alerts.rule("late", when=["overdue"], channels=[log]),
             hw_alerts.rule("bad", when=["degraded"], selection="group:marts", channels=[log])]
    h = [health("marts/revenue", overdue=True), health("marts/customers"), health("raw/orders", overdue=True)]
    first = evaluate(db_url, rules, graph, h, NOW)
    assert sorted((t.rule, str(t.key)) for t in first.transitions) == [
        ("bad", "marts/revenue"), ("late", "marts/revenue"), ("late", "raw/orders")]
    assert evaluate(db_url, rules, graph, h, NOW + 60).transitions == ()
    assert len(out.read_text().splitlines()) == 3
