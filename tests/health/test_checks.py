"""Asset checks: run after their asset, tied to the materialization they evaluated."""

import pandas as pd
import pytest

import headwater as hw
from headwater.core.checks import CheckState
from headwater.definitions import builtin_checks as checks

K = hw.AssetKey.parse


def project(rows, blocking=True):
    @hw.asset(code_version="1")
    def orders():
        return rows

    @hw.asset(code_version="1")
    def revenue(orders):
        return sum(r["amount"] for r in orders)

    @hw.asset
    def unrelated():
        return 1

    @hw.check(asset="orders", blocking=blocking)
    def amounts_positive(orders):
        bad = [r for r in orders if r["amount"] <= 0]
        return hw.CheckResult(not bad, {"bad_rows": len(bad)}, f"{len(bad)} non-positive amounts")

    @hw.check(asset="orders", severity="warn")
    def not_too_many(orders, context):
        assert context.asset_key == K("orders") and context.materialization is not None
        return len(orders) < 3

    return hw.Definitions(assets=[orders, revenue, unrelated], checks=[
        amounts_positive, not_too_many, checks.unique("orders", "id"), checks.column_not_null("orders", "id")])


GOOD = [{"id": 1, "amount": 5}, {"id": 2, "amount": 7}]
BAD = [{"id": 1, "amount": 5}, {"id": 1, "amount": -7}, {"id": None, "amount": 1}]


def states(instance, defs, key="orders"):
    [h] = [h for h in instance.health(defs) if h.key == K(key)]
    return {c.name: c.state for c in h.checks}, h


def test_checks_run_right_after_their_asset_and_pass(instance):
    result = instance.materialize(project(GOOD), "*")
    assert result.success
    found, h = states(instance, project(GOOD))
    assert found == {"amounts_positive": CheckState.PASSED, "not_too_many": CheckState.PASSED,
                     "unique_id": CheckState.PASSED, "not_null_id": CheckState.PASSED}
    assert h.health is hw.Health.HEALTHY and "4 check(s) passed" in h.reasons


def test_a_failing_blocking_check_stops_downstream_in_that_run_and_says_so(instance):
    result = instance.materialize(project(BAD), "*")
    assert not result.success
    assert result.outcome.skipped == {"revenue": "blocking check amounts_positive on orders failed"}
    assert result.outcome.step_status["unrelated"] == "succeeded"
    assert "blocking checks failed" in instance.run(result.run_id).reason
    found, h = states(instance, project(BAD))
    assert found["amounts_positive"] is CheckState.FAILED
    assert found["not_too_many"] is CheckState.WARN      # warn severity
    assert found["unique_id"] is CheckState.FAILED and found["not_null_id"] is CheckState.FAILED
    assert h.health is hw.Health.DEGRADED
    assert any("check amounts_positive failed: 1 non-positive amounts" in r for r in h.reasons)
    [c] = [c for c in h.checks if c.name == "amounts_positive"]
    assert c.metadata == {"bad_rows": 1}


def test_non_blocking_failure_lets_downstream_run(instance):
    result = instance.materialize(project(BAD, blocking=False), "*")
    assert result.outcome.step_status["revenue"] == "succeeded"


def test_rematerializing_makes_old_results_not_run_and_check_command_reruns_them(instance):
    defs = project(GOOD)
    instance.materialize(defs, "*")

    @hw.asset(code_version="1")
    def orders():
        return GOOD

    bare = hw.Definitions(assets=[orders], checks=[checks.unique("orders", "id")])
    instance.materialize(bare, "orders")  # materialized again without running the other checks
    found, _ = states(instance, defs)
    assert found["amounts_positive"] is CheckState.NOT_RUN and found["unique_id"] is CheckState.PASSED
    results = instance.check(defs, "orders")
    assert {r.check_name for r in results} == {"amounts_positive", "not_too_many", "unique_id", "not_null_id"}
    assert all(r.run_id is None for r in results)
    found, _ = states(instance, defs)
    assert set(found.values()) == {CheckState.PASSED}


def test_a_check_that_raises_fails_with_its_error(instance):
    @hw.asset
    def a():
        return 1

    @hw.check(asset="a")
    def explodes(a):
        raise RuntimeError("cannot connect")

    defs = hw.Definitions(assets=[a], checks=[explodes])
    instance.materialize(defs, "*")
    [h] = instance.health(defs)
    [c] = h.checks
    assert c.state is CheckState.FAILED and "RuntimeError: cannot connect" in c.detail


def test_builtin_checks_on_dataframes(instance):
    @hw.asset
    def frame():
        return pd.DataFrame({"id": [1, 2, 2], "v": [1.0, None, 3.0]})

    defs = hw.Definitions(assets=[frame], checks=[
        checks.row_count_at_least("frame", 3), checks.row_count_at_least("frame", 4, severity="warn"),
        checks.unique("frame", "id"), checks.column_not_null("frame", "v"), checks.column_not_null("frame", "id")])
    instance.materialize(defs, "*")
    found, _ = states(instance, defs, "frame")
    assert found == {"row_count_at_least_3": CheckState.PASSED, "row_count_at_least_4": CheckState.WARN,
                     "unique_id": CheckState.FAILED, "not_null_v": CheckState.FAILED,
                     "not_null_id": CheckState.PASSED}


def test_freshness_as_a_check(tmp_path):
    now = {"t": 1_000_000.0}

    @hw.asset(freshness=hw.FreshnessPolicy.within(3600))
    def fresh_one():
        return 1

    defs = hw.Definitions(assets=[fresh_one], checks=[checks.freshness("fresh_one", severity="error")])
    with hw.Instance(home=tmp_path / "h", clock=lambda: now["t"]) as inst:
        inst.materialize(defs, "*")
        assert {r.check_name: r.passed for r in inst.check(defs)} == {"freshness": True}
        now["t"] += 7200
        [r] = inst.check(defs)
        assert not r.passed and "more than the allowed 1h" in r.description


def test_checks_need_a_known_asset_and_unique_names():
    @hw.asset
    def a():
        pass

    @hw.check(asset="ghost")
    def c1(value):
        return True

    with pytest.raises(hw.UnknownKeyError, match="ghost"):
        hw.Definitions(assets=[a], checks=[c1])
    with pytest.raises(hw.DefinitionError, match="two checks named 'unique_x'"):
        hw.Definitions(assets=[a], checks=[checks.unique("a", "x"), checks.unique("a", "x")])
    with pytest.raises(hw.DefinitionError, match="severity must be 'warn' or 'error'"):
        hw.check(asset="a", severity="fatal")(lambda value: True)
