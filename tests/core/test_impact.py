"""Impact analysis on a frozen clock: the breach time of every downstream freshness policy
if an asset stays as it is, ordered, grouped by owner, with the path to each (issue 17)."""

from datetime import UTC, datetime

import pytest

from headwater.core.asset_graph import AssetGraph
from headwater.core.freshness import FreshnessPolicy
from headwater.core.impact import Scenario, Trigger, impact
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec, CheckSpec

K = AssetKey.parse
HOUR = 3600.0


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp()


T0 = at(2, 6)  # raw's data time
NOW = at(2, 7)

GRAPH = AssetGraph([
    AssetSpec(K("raw"), is_source=True, owners=("data-eng",), freshness=FreshnessPolicy.within(2 * HOUR)),
    AssetSpec(K("orders"), deps=(K("raw"),), owners=("sales",), freshness=FreshnessPolicy.within(6 * HOUR)),
    AssetSpec(K("revenue"), deps=(K("orders"), K("fx")), owners=("finance",),
              freshness=FreshnessPolicy.by_deadline("0 9 * * *", lag=9 * HOUR)),  # by 09:00, data as of 00:00
    AssetSpec(K("dashboard"), deps=(K("revenue"),), owners=("finance", "bi"),
              freshness=FreshnessPolicy.within(1.5 * HOUR, warn_lag=HOUR)),
    AssetSpec(K("archive"), deps=(K("orders"),)),  # no policy, no owner
    AssetSpec(K("fx"), is_source=True, freshness=FreshnessPolicy.within(HOUR)),
    AssetSpec(K("other"), deps=(K("fx"),), owners=("ops",), freshness=FreshnessPolicy.within(48 * HOUR)),
])
DATA_TIMES = {K("raw"): T0, K("orders"): T0, K("revenue"): T0 - HOUR, K("dashboard"): T0 - HOUR,
              K("archive"): T0, K("fx"): NOW - 600, K("other"): NOW - 600}
CHECKS = [CheckSpec(K("revenue"), "positive", blocking=True), CheckSpec(K("other"), "rows")]
TRIGGERS = [Trigger("schedule", "nightly", frozenset({K("revenue"), K("dashboard")}), at(3, 2)),
            Trigger("automation", "eager", frozenset({K("orders")})),
            Trigger("schedule", "ops", frozenset({K("other")}), at(2, 8))]


def test_breach_times_ordered_grouped_and_with_paths():
    report = impact(GRAPH, K("raw"), "late", NOW, 24 * HOUR, DATA_TIMES, CHECKS, TRIGGERS)
    breach = {str(a.key): a.breach_at for a in report.assets}
    assert breach == {
        "dashboard": T0 + 1.5 * HOUR,  # 07:30: max_lag from raw's frozen data time
        "raw": T0 + 2 * HOUR,  # 08:00: its own policy
        "orders": T0 + 6 * HOUR,  # 12:00
        "revenue": at(3, 9),  # tomorrow's 09:00 deadline asks for data as of 3 March 00:00
        "archive": None,  # no policy: listed, never breaches
    }
    assert [str(a.key) for a in report.assets] == ["dashboard", "raw", "orders", "revenue", "archive"]
    assert [str(a.key) for a in report.breaches] == ["dashboard", "raw", "orders"]  # revenue is past 24 h
    dashboard = report.assets[0]
    assert [str(k) for k in dashboard.path] == ["raw", "orders", "revenue", "dashboard"]
    assert dashboard.warn_at == T0 + HOUR and not dashboard.already_breached
    assert report.by_owner == {"(no owner)": (K("archive"),), "bi": (K("dashboard"),),
                               "data-eng": (K("raw"),), "finance": (K("dashboard"), K("revenue")),
                               "sales": (K("orders"),)}
    assert [(str(c.asset), c.name, c.blocking) for c in report.checks] == [("revenue", "positive", True)]
    assert [t.name for t in report.triggers] == ["nightly", "eager"]  # not the one on `other`
    assert report.headline == ("3 freshness policies breach within 24 h if raw stays late; the first: dashboard")
    assert "fx" not in {str(a.key) for a in report.assets} and "other" not in {str(a.key) for a in report.assets}


def test_a_shorter_horizon_and_a_policy_already_breached():
    later = T0 + 3 * HOUR  # 09:00: dashboard and raw are past their limits already
    report = impact(GRAPH, K("raw"), Scenario.FAILED, later, 2 * HOUR, DATA_TIMES)
    assert [(str(a.key), a.already_breached) for a in report.breaches] == [("dashboard", True), ("raw", True)]
    assert "skipped in every run that includes raw" in report.assets[0].effect


def test_nothing_breaches_is_an_answer():
    report = impact(GRAPH, K("other"), "stale", NOW, 24 * HOUR, DATA_TIMES)
    assert report.breaches == ()
    assert [a.breach_at for a in report.assets] == [NOW - 600 + 48 * HOUR]
    assert report.headline == "Nothing breaches in the next 24 h if other stays stale."


def test_a_root_that_never_had_data_breaches_every_policy_now():
    report = impact(GRAPH, K("fx"), "late", NOW, HOUR, {})
    assert {(str(a.key), a.breach_at, a.already_breached) for a in report.assets} == {
        ("fx", NOW, True), ("revenue", NOW, True), ("dashboard", NOW, True), ("other", NOW, True)}


def test_an_unknown_scenario_is_refused():
    with pytest.raises(ValueError):
        impact(GRAPH, K("raw"), "sideways", NOW, HOUR, DATA_TIMES)
