"""Sensors: return shapes, cursor semantics, failures and timeouts, asset sensors.

The clock is a parameter: contexts carry a frozen ``now``. Only the timeout tests wait,
in real time, for a fraction of a second.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from headwater.automation.run_requests import RunRequest, SkipReason
from headwater.automation.sensors import (
    SensorContext,
    SensorDefinition,
    SensorResult,
    SensorTickOutcome,
    asset_sensor,
    evaluate_sensor,
    sensor,
    sensor_due,
    validate_sensors,
)
from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts
from headwater.core.specs import AssetSpec
from headwater.errors import DefinitionError

NOW = 1_790_000_000.0
K = AssetKey.parse


def ctx(cursor: str | None = None, facts: dict | None = None, now: float = NOW) -> SensorContext:
    return SensorContext(cursor=cursor, last_tick_time=now - 30, now=now, facts=facts or {}, sensor_name="")


def run(fn, cursor: str | None = None, **kw) -> SensorTickOutcome:
    return evaluate_sensor(sensor(**kw)(fn), ctx(cursor))


# --------------------------------------------------------------------------- return shapes


def test_a_run_request_succeeds_with_a_scoped_run_key_and_a_sensor_tag():
    def new_files(context):
        return RunRequest("raw/*", run_key="file-1", tags={"file": "1"})

    out = run(new_files)
    assert out == SensorTickOutcome(
        "success",
        (RunRequest("raw/*", run_key="sensor:new_files:file-1",
                    tags={"file": "1", "headwater/sensor": "new_files"}),),
        cursor=None,
    )


def test_a_list_and_a_generator_of_run_requests():
    def listed(context):
        return [RunRequest("a", run_key="1"), RunRequest("b")]

    def generated(context):
        yield RunRequest("a", run_key="1")
        yield RunRequest("b")

    for fn in (listed, generated):
        out = run(fn, name="s")
        assert out.status == "success"
        assert [(r.selection, r.run_key) for r in out.run_requests] == [("a", "sensor:s:1"), ("b", None)]


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (None, "no result"),
        ([], "no run requests"),
        (SkipReason("nothing landed"), "nothing landed"),
        (SensorResult(skip_reason="quiet"), "quiet"),
        (SensorResult(skip_reason=SkipReason("quiet")), "quiet"),
        (SensorResult(), "no run requests"),
    ],
)
def test_skips(result, reason):
    out = run(lambda context: result, name="s")
    assert (out.status, out.skip_reason, out.run_requests) == ("skipped", reason, ())


def test_a_generator_may_yield_a_single_skip_reason():
    def skipper(context):
        yield SkipReason("not yet")

    out = run(skipper)
    assert (out.status, out.skip_reason) == ("skipped", "not yet")


def test_sensor_result_carries_requests_and_a_cursor():
    out = run(lambda context: SensorResult(run_requests=[RunRequest("a", run_key="k")], cursor="42"),
              name="s")
    assert out.status == "success"
    assert out.cursor == "42"
    assert out.run_requests[0].run_key == "sensor:s:k"


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ("a", "sensor 's' returned str; expected a RunRequest, a list of RunRequest"),
        ({"selection": "a"}, "sensor 's' returned dict"),
        ([RunRequest("a"), "b"], "sensor 's' returned a str among its run requests"),
        (RunRequest(""), "sensor 's' returned a run request whose selection is ''"),
        (RunRequest("a", tags={"n": 1}), "sensor 's' returned run request tags"),
        (RunRequest("a", run_key=7), "sensor 's' returned a run key of type int"),
        (SensorResult(run_requests=[RunRequest("a")], skip_reason="x"),
         "sensor 's' returned both run requests and a skip reason"),
        (SensorResult(cursor=3), "sensor 's' returned a cursor of type int"),
        (SensorResult(run_requests=RunRequest("a")), "sensor 's' returned SensorResult.run_requests"),
    ],
)
def test_wrong_return_values_fail_naming_the_sensor(result, message):
    out = run(lambda context: result, cursor="old", name="s")
    assert out.status == "failed"
    assert out.error_message.startswith(message)
    assert out.cursor == "old"


# --------------------------------------------------------------------------- cursor


def test_the_cursor_is_unchanged_unless_the_sensor_sets_it():
    out = run(lambda context: SkipReason("no"), cursor="7", name="s")
    assert out.cursor == "7"


def test_update_cursor_persists_even_on_a_skip_and_the_callers_context_is_untouched():
    seen = []

    def counter(context):
        seen.append((context.cursor, context.sensor_name))
        context.update_cursor(str(int(context.cursor or "0") + 1))
        return SkipReason("counting")

    definition = sensor(counter)
    cursor = None
    for _ in range(3):
        given = ctx(cursor)
        out = evaluate_sensor(definition, given)
        assert given.cursor == cursor  # the daemon stores out.cursor; its context is not mutated
        cursor = out.cursor
    assert cursor == "3"
    assert seen == [(None, "counter"), ("1", "counter"), ("2", "counter")]


def test_setting_the_cursor_twice_fails():
    def both(context):
        context.update_cursor("a")
        return SensorResult(cursor="b")

    out = run(both, cursor="old")
    assert (out.status, out.cursor) == ("failed", "old")
    assert "set its cursor twice" in out.error_message


def test_a_failure_keeps_the_old_cursor_so_the_retry_sees_the_same_state():
    def moves_then_raises(context):
        context.update_cursor("moved")
        raise RuntimeError("bucket unreachable")

    out = run(moves_then_raises, cursor="before")
    assert (out.status, out.cursor) == ("failed", "before")


def test_update_cursor_takes_a_string():
    out = run(lambda context: context.update_cursor(5), name="s")
    assert out.status == "failed"
    assert "TypeError: a sensor cursor is a string, not int" in out.error_message


# --------------------------------------------------------------------------- failures


def test_an_exception_fails_the_tick_with_the_users_traceback():
    def broken(context):
        return helper(context.now)

    def helper(now):
        raise KeyError("bucket")

    out = run(broken)
    assert out.status == "failed"
    assert out.error_message == "sensor 'broken' raised KeyError: 'bucket'"
    assert out.run_requests == ()
    tb = out.error_traceback
    assert tb.startswith("Traceback (most recent call last):")
    assert "in broken" in tb and "in helper" in tb and tb.rstrip().endswith("KeyError: 'bucket'")
    assert "headwater/automation/sensors.py" not in tb  # our frames are left out


def test_system_exit_is_reported_too():
    def quits(context):
        raise SystemExit(3)

    out = run(quits)
    assert out.status == "failed"
    assert "SystemExit" in out.error_message


def test_a_hanging_sensor_times_out_without_blocking_the_others():
    release = threading.Event()

    def slow(context):
        release.wait(5)  # stands in for time.sleep(5); released at the end of the test
        return RunRequest("a")

    hanging = sensor("slow_hangs", timeout=0.2)(slow)
    quick = sensor("quick_after_slow", timeout=5)(lambda context: RunRequest("b"))
    try:
        started = time.perf_counter()
        out = evaluate_sensor(hanging, ctx("c1"))
        elapsed = time.perf_counter() - started
        assert 0.15 < elapsed < 4  # abandoned at its timeout, not after the 5 s it would take
        assert out == SensorTickOutcome(
            "failed", cursor="c1",
            error_message="sensor 'slow_hangs' timed out after 0.2s (its evaluation was abandoned and "
                          "may still be running)",
        )
        assert evaluate_sensor(quick, ctx()).status == "success"  # the caller simply moves on
        # The abandoned evaluation is still running: the next one is refused, not piled up.
        again = evaluate_sensor(hanging, ctx("c1"))
        assert again.status == "failed" and "still running" in again.error_message
    finally:
        release.set()
    deadline = time.perf_counter() + 2
    while time.perf_counter() < deadline:
        if evaluate_sensor(sensor("slow_hangs", timeout=1)(lambda context: None), ctx()).status == "skipped":
            break
        time.sleep(0.01)
    else:
        pytest.fail("the abandoned evaluation never released its slot")


def test_a_generator_that_hangs_is_covered_by_the_timeout():
    release = threading.Event()

    def trickle(context):
        yield RunRequest("a")
        release.wait(5)

    try:
        out = evaluate_sensor(sensor("trickle_hangs", timeout=0.1)(trickle), ctx())
        assert out.status == "failed" and "timed out" in out.error_message
    finally:
        release.set()


# --------------------------------------------------------------------------- definitions


def test_sensor_decorator_defaults():
    @sensor
    def landed_files(context):
        """Watch the landing bucket."""

    assert isinstance(landed_files, SensorDefinition)
    assert (landed_files.name, landed_files.interval, landed_files.timeout, landed_files.default_enabled,
            landed_files.description, landed_files.kind) == ("landed_files", 30.0, 60.0, True,
                                                             "Watch the landing bucket.", "sensor")

    @sensor("custom.name", interval=5, timeout=2, enabled=False, description="d")
    def other(context):
        return None

    assert (other.name, other.interval, other.timeout, other.default_enabled, other.description) == (
        "custom.name", 5.0, 2.0, False, "d")


@pytest.mark.parametrize(
    ("kwargs", "fn", "message"),
    [
        ({"name": "bad name"}, lambda context: None, "invalid sensor name 'bad name'"),
        ({"name": "s", "interval": 0}, lambda context: None, "sensor 's': interval must be a positive"),
        ({"name": "s", "timeout": float("inf")}, lambda context: None, "sensor 's': timeout must be a positive"),
        ({"name": "s", "interval": "30"}, lambda context: None, "sensor 's': interval must be a positive"),
        ({"name": "s"}, lambda: None, "sensor 's': the function must take exactly one argument"),
        ({"name": "s"}, lambda a, b: None, "sensor 's': the function must take exactly one argument"),
    ],
)
def test_bad_sensor_definitions_name_the_sensor(kwargs, fn, message):
    with pytest.raises(DefinitionError, match=message):
        sensor(**kwargs)(fn)


def test_sensor_due():
    s = sensor("s", interval=30)(lambda context: None)
    assert sensor_due(s, None, NOW)
    assert not sensor_due(s, NOW - 29.9, NOW)
    assert sensor_due(s, NOW - 30, NOW)
    assert sensor_due(s, NOW + 3600, NOW)  # the clock went backwards: do not go silent


GRAPH = AssetGraph([
    AssetSpec(K("raw/orders"), is_source=True),
    AssetSpec(K("sales/orders"), deps=(K("raw/orders"),)),
    AssetSpec(K("sales/revenue"), deps=(K("sales/orders"),)),
    AssetSpec(K("reports/daily"), deps=(K("sales/revenue"),)),
])


def test_validate_sensors():
    plain = sensor("plain")(lambda context: None)
    watcher = asset_sensor("watcher", "sales/*", "reports/*")
    validate_sensors([plain, watcher], GRAPH)
    with pytest.raises(DefinitionError, match="sensor 'plain' is defined more than once"):
        validate_sensors([plain, watcher, plain], GRAPH)
    with pytest.raises(DefinitionError, match="sensor 'w2': watch selection: bad selection: no asset named"):
        validate_sensors([asset_sensor("w2", "sales/revenu", "reports/*")], GRAPH)
    with pytest.raises(DefinitionError, match="sensor 'w3': target selection: bad selection"):
        validate_sensors([asset_sensor("w3", "sales/*", "group:nope")], GRAPH)


def test_asset_sensor_arguments_are_checked():
    with pytest.raises(DefinitionError, match="asset sensor 'a': the watch selection must be"):
        asset_sensor("a", "", "x")
    with pytest.raises(DefinitionError, match="asset sensor 'a': mode must be one of"):
        asset_sensor("a", "x", "y", mode="sometimes")
    with pytest.raises(DefinitionError, match="invalid sensor name"):
        asset_sensor("a b", "x", "y")


# --------------------------------------------------------------------------- asset sensors


def materialized(key: str, ts: float) -> AssetFacts:
    return AssetFacts(key=K(key), last_materialization=AssetMaterialized(run_id="r", timestamp=ts, key=K(key)))


WATCHED = frozenset({K("sales/orders"), K("sales/revenue")})


def tick(definition, cursor, facts, watched=WATCHED):
    return evaluate_sensor(definition, ctx(cursor, {f.key: f for f in facts}), watched=watched)


def test_asset_sensor_first_evaluation_records_and_does_not_fire():
    s = asset_sensor("on_sales", "sales/*", "reports/*")
    out = tick(s, None, [materialized("sales/orders", 100.0)])
    assert out.status == "skipped"
    assert out.skip_reason.startswith("first evaluation")
    assert json.loads(out.cursor) == {"sales/orders": 100.0, "sales/revenue": None}


def test_asset_sensor_fires_once_per_new_materialization():
    s = asset_sensor("on_sales", "sales/*", "reports/*", mode="stale")
    cursor = tick(s, None, [materialized("sales/orders", 100.0)]).cursor

    fired = tick(s, cursor, [materialized("sales/orders", 200.0)])
    assert fired.status == "success"
    (request,) = fired.run_requests
    assert (request.selection, request.mode) == ("reports/*", "stale")
    assert request.run_key.startswith("sensor:on_sales:")
    assert request.tags == {"headwater/triggered_by": "sales/orders", "headwater/sensor": "on_sales"}

    # Re-evaluation with the saved cursor and nothing new: no second request.
    again = tick(s, fired.cursor, [materialized("sales/orders", 200.0)])
    assert (again.status, again.run_requests) == ("skipped", ())
    assert again.skip_reason == "no new materialization of the 2 watched asset(s)"
    assert again.cursor == fired.cursor

    # A crash before the cursor was saved: the same tick again yields the same run key.
    replay = tick(s, cursor, [materialized("sales/orders", 200.0)])
    assert replay.run_requests == fired.run_requests

    # The next materialization fires with a new key.
    later = tick(s, fired.cursor, [materialized("sales/orders", 300.0)])
    assert later.status == "success"
    assert later.run_requests[0].run_key != request.run_key


def test_asset_sensor_fires_one_request_for_several_changed_assets():
    s = asset_sensor("on_sales", "sales/*", "reports/*")
    cursor = tick(s, None, [materialized("sales/orders", 100.0), materialized("sales/revenue", 100.0)]).cursor
    out = tick(s, cursor, [materialized("sales/orders", 150.0), materialized("sales/revenue", 160.0)])
    (request,) = out.run_requests
    assert request.tags["headwater/triggered_by"] == "sales/orders,sales/revenue"
    # Deterministic: the key depends on what triggered, not on dict or set order.
    reordered = evaluate_sensor(s, ctx(cursor, {K("sales/revenue"): materialized("sales/revenue", 160.0),
                                                K("sales/orders"): materialized("sales/orders", 150.0)}),
                                watched=frozenset(reversed(sorted(WATCHED))))
    assert reordered.run_requests == out.run_requests


def test_asset_sensor_fires_on_the_first_materialization_of_a_never_materialized_asset():
    s = asset_sensor("on_sales", "sales/*", "reports/*")
    cursor = tick(s, None, []).cursor
    assert json.loads(cursor) == {"sales/orders": None, "sales/revenue": None}
    assert tick(s, cursor, [materialized("sales/revenue", 50.0)]).status == "success"


def test_asset_sensor_records_newly_watched_assets_without_firing():
    s = asset_sensor("on_sales", "sales/*", "reports/*")
    cursor = tick(s, None, [materialized("sales/orders", 100.0)], watched=frozenset({K("sales/orders")})).cursor
    out = tick(s, cursor, [materialized("sales/orders", 100.0), materialized("sales/revenue", 90.0)])
    assert out.status == "skipped"
    assert json.loads(out.cursor) == {"sales/orders": 100.0, "sales/revenue": 90.0}
    # Assets no longer watched drop out of the cursor.
    out = tick(s, out.cursor, [materialized("sales/orders", 100.0)], watched=frozenset({K("sales/orders")}))
    assert json.loads(out.cursor) == {"sales/orders": 100.0}


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", '{"sales/orders": "yesterday"}'])
def test_an_unreadable_cursor_is_reset_without_firing(bad):
    s = asset_sensor("on_sales", "sales/*", "reports/*")
    out = tick(s, bad, [materialized("sales/orders", 100.0)])
    assert out.status == "skipped" and "unreadable" in out.skip_reason
    assert json.loads(out.cursor)["sales/orders"] == 100.0


def test_asset_sensor_needs_the_resolved_watch_keys():
    s = asset_sensor("on_sales", "sales/*", "reports/*")
    out = evaluate_sensor(s, ctx("{}"), watched=None)
    assert out.status == "failed"
    assert "asset sensor 'on_sales'" in out.error_message and "watched=" in out.error_message
    assert out.cursor == "{}"
