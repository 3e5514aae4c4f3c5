"""A multi-asset step that fails (or skips) some of its assets while it goes on, and a
coordinator that holds back only the steps reading those assets."""

import pytest

import headwater as hw
from headwater.core.events import AssetFailed, AssetSkipped, LogMessage, StepFailed, StepSkipped
from headwater.core.records import StepStatus
from headwater.core.status import MaterializationStatus as S

K = hw.AssetKey.parse


def project(fail=True, calls=None, raise_after_a=False, returned=False):
    """``extract`` produces a, b and c (c is computed from b) in one step; one Python asset
    reads each of them, and ``after_b`` reads a Python asset that reads b."""
    calls = calls if calls is not None else []
    specs = [hw.AssetSpec("extract/a"), hw.AssetSpec("extract/b"), hw.AssetSpec("extract/c", deps=["extract/b"])]

    @hw.multi_asset(specs=specs, name="extract")
    def extract(context):
        calls.append("extract")
        yield hw.MaterializeResult("extract/a", metadata={"rows": 3})
        if raise_after_a:
            raise ConnectionError("lost the connection after a")
        if fail:
            yield hw.AssetFailure("extract/b", error="connection reset", metadata={"attempted_rows": 3})
            yield hw.AssetSkip("extract/c", reason="extract/b failed in the same step")
        else:
            yield hw.MaterializeResult("extract/b")
            yield hw.MaterializeResult("extract/c")

    @hw.multi_asset(specs=specs, name="extract")
    def extract_returning():
        calls.append("extract")
        return [hw.MaterializeResult("extract/a"), hw.AssetFailure("extract/b", error=ValueError("bad row 7")),
                hw.AssetSkip("extract/c")]

    def reader(name, *deps):
        @hw.asset(key=name, deps=list(deps))
        def read():
            calls.append(name)

        return read

    return hw.Definitions(assets=[
        extract_returning if returned else extract, reader("reads_a", "extract/a"), reader("reads_b", "extract/b"),
        reader("reads_c", "extract/c"), reader("after_b", "reads_b"),
        reader("reads_a_and_b", "extract/a", "extract/b")])


def events(instance, run_id, cls):
    return [e.event for e in instance.run_events(run_id) if isinstance(e.event, cls)]


def test_a_failed_asset_of_a_multi_asset_holds_back_only_its_readers(instance):
    calls = []
    result = instance.materialize(project(calls=calls), "*")
    assert not result.success and result.status.value == "failed"
    assert sorted(calls) == ["extract", "reads_a"]
    assert set(result.materializations) == {K("extract/a"), K("reads_a")}
    assert result.outcome.step_status["extract"] == "failed"
    assert result.errors["extract"].message == ("1 asset(s) failed: extract/b: connection reset; "
                                                "1 skipped: extract/c")
    assert result.outcome.skipped == {
        "reads_b": "upstream asset extract/b failed",
        "reads_a_and_b": "upstream asset extract/b failed",
        "after_b": "upstream asset extract/b failed",       # the root cause travels down
        "reads_c": "upstream asset extract/c was skipped",
    }
    steps = {s.step_key: s for s in instance.run_steps(result.run_id)}
    assert steps["extract"].status is StepStatus.FAILED and steps["reads_a"].status is StepStatus.SUCCEEDED
    assert steps["after_b"].status is StepStatus.SKIPPED
    # each asset reported as it happened, before the step ended; the step end names no asset again
    log = [e.event for e in instance.run_events(result.run_id)]
    [failed] = [e for e in log if isinstance(e, AssetFailed)]
    [skip] = [e for e in log if isinstance(e, AssetSkipped)]
    [end] = [e for e in log if isinstance(e, StepFailed)]
    assert failed.key == K("extract/b") and failed.error.message == "connection reset"
    assert dict(failed.metadata) == {"attempted_rows": 3}
    assert skip.key == K("extract/c") and skip.detail == "extract/b failed in the same step"
    assert log.index(failed) < log.index(skip) < log.index(end) and end.asset_keys == ()


def test_status_and_why_tell_a_failed_asset_from_a_skipped_one(instance):
    assert instance.materialize(project(fail=False), "*").success
    defs = project()
    result = instance.materialize(defs, "*")
    status = {s.key: s for s in instance.status(defs)}
    assert status[K("extract/a")].status is S.MATERIALIZED
    assert status[K("extract/b")].status is S.FAILED
    assert status[K("extract/b")].failure.message == "connection reset"
    # skipped is not failed: c keeps its last materialization; its state says why it was skipped
    c = status[K("extract/c")]
    assert c.status is S.SKIPPED and c.last_materialization is not None
    assert c.failure.message == "extract/b failed in the same step"
    assert status[K("reads_b")].status is S.SKIPPED  # skipped because extract/b failed
    why_b = "\n".join(instance.why(defs, "extract/b"))
    assert f"extract/b failed: the latest attempt (run {result.run_id}) failed" in why_b
    assert "error: connection reset" in why_b
    why_c = "\n".join(instance.why(defs, "extract/c"))
    assert f"its latest attempt (run {result.run_id}" in why_c
    assert "was skipped: extract/b failed in the same step." in why_c
    why_after = "\n".join(instance.why(defs, "after_b"))
    assert "was skipped: upstream asset extract/b failed." in why_after


def test_a_step_that_raises_after_some_outputs_still_feeds_their_readers(instance):
    calls = []
    result = instance.materialize(project(calls=calls, raise_after_a=True), "*")
    assert not result.success
    assert "reads_a" in calls and "reads_b" not in calls
    assert result.outcome.skipped["reads_b"] == "upstream step extract failed"
    assert result.outcome.skipped["reads_c"] == "upstream step extract failed"
    [end] = events(instance, result.run_id, StepFailed)
    assert set(end.asset_keys) == {K("extract/b"), K("extract/c")}
    assert "lost the connection after a" in end.error.message
    status = {s.key: s for s in instance.status(project())}
    assert status[K("extract/b")].status is S.FAILED and status[K("extract/c")].status is S.FAILED


def test_a_returned_list_may_carry_failures_and_skips(instance):
    calls = []
    result = instance.materialize(project(calls=calls, returned=True), "*")
    assert not result.success and sorted(calls) == ["extract", "reads_a"]
    [failed] = events(instance, result.run_id, AssetFailed)
    assert failed.error.message == "bad row 7" and failed.error.type_name == "ValueError"
    [skip] = events(instance, result.run_id, AssetSkipped)
    assert skip.detail == "skipped by its step"


def test_multiprocess_workers_report_failures_per_asset_too(instance):
    result = instance.materialize(project(), "*", executor="multiprocess", workers=2)
    assert not result.success
    assert set(result.materializations) == {K("extract/a"), K("reads_a")}
    assert result.outcome.skipped["reads_c"] == "upstream asset extract/c was skipped"


def test_skipping_alone_is_not_a_failure():
    specs = [hw.AssetSpec("x"), hw.AssetSpec("y")]

    @hw.multi_asset(specs=specs)
    def optional(context):
        yield hw.Output(1, key="x")
        yield hw.AssetSkip("y", reason="nothing new upstream")

    @hw.asset
    def reads_x(x):
        return x + 1

    @hw.asset(deps=["y"])
    def reads_y():
        return 0

    result = hw.materialize(hw.Definitions(assets=[optional, reads_x, reads_y]), "*")
    assert result.success
    assert result.value("reads_x") == 2
    assert result.outcome.skipped == {"reads_y": "upstream asset y was skipped"}
    [skip] = [e.event for e in result.instance.run_events(result.run_id) if isinstance(e.event, StepSkipped)]
    assert skip.step_key == "reads_y"


@pytest.mark.parametrize("body, message", [
    ("yield hw.AssetFailure('nope', error='x')", "produced nope, which is not one of the keys this step runs"),
    ("yield hw.AssetFailure('p', error='x'); yield hw.AssetSkip('p')", "reported p as failed and then reported"),
    ("yield hw.MaterializeResult('p'); yield hw.AssetFailure('p', error='x')",
     "reported p as failed after materializing it"),
    ("yield hw.AssetFailure(error='x')", "each AssetFailure of a multi-asset needs key="),
])
def test_bad_reports_fail_the_step_naming_the_asset(instance, body, message):
    namespace = {"hw": hw}
    exec(f"def both(context):\n    {body}\n    yield hw.MaterializeResult('q')", namespace)
    multi = hw.multi_asset(specs=[hw.AssetSpec("p"), hw.AssetSpec("q")])(namespace["both"])
    result = instance.materialize(hw.Definitions(assets=[multi]), "*")
    assert not result.success
    assert message in result.errors["both"].message


def test_a_single_asset_may_report_its_own_failure(instance):
    @hw.asset
    def quiet():
        return hw.AssetFailure(error="the API said 503")

    @hw.asset
    def after(quiet):
        return quiet

    result = instance.materialize(hw.Definitions(assets=[quiet, after]), "*")
    assert not result.success
    assert result.outcome.skipped == {"after": "upstream asset quiet failed"}
    [h] = [s for s in instance.status(hw.Definitions(assets=[quiet, after])) if s.key == K("quiet")]
    assert h.status is S.FAILED and h.failure.message == "the API said 503"


def test_blocking_checks_block_by_asset_not_by_step(instance):
    specs = [hw.AssetSpec("p"), hw.AssetSpec("q")]

    @hw.multi_asset(specs=specs)
    def pair():
        return {"p": -1, "q": 1}

    @hw.check(asset="p", blocking=True)
    def positive(p):
        return p > 0

    @hw.asset
    def reads_p(p):
        return p

    @hw.asset
    def reads_q(q):
        return q

    defs = hw.Definitions(assets=[pair, reads_p, reads_q], checks=[positive])
    result = instance.materialize(defs, "*")
    assert not result.success and "blocking checks failed" in instance.run(result.run_id).reason
    assert result.outcome.skipped == {"reads_p": "blocking check positive on p failed"}
    assert result.value("reads_q") == 1


def test_run_tags_reach_the_asset_function_in_every_executor(instance):
    seen = []

    @hw.asset
    def tagged(context):
        seen.append(dict(context.tags))
        return dict(context.tags)

    defs = hw.Definitions(assets=[tagged])
    first = instance.materialize(defs, "*", tags={"team": "finance", "dbt/full_refresh": "true"})
    assert seen == [{"team": "finance", "dbt/full_refresh": "true"}]
    second = instance.materialize(defs, "*", tags={"team": "ops"}, executor="multiprocess", workers=1)
    assert second.value("tagged") == {"team": "ops"}
    assert instance.run(first.run_id).tags == {"team": "finance", "dbt/full_refresh": "true"}
    untagged = instance.materialize(defs, "*")
    assert untagged.value("tagged") == {}


def test_a_check_may_decide_its_own_severity_and_say_it_did_not_run(instance):
    outcome = {"result": lambda: hw.CheckResult(False, description="3 late rows", severity="warn")}

    @hw.asset
    def feed():
        return 1

    @hw.asset
    def after(feed):
        return feed

    @hw.check(asset="feed", blocking=True)   # declared error (and blocking) ...
    def on_time(feed):
        return outcome["result"]()

    defs = hw.Definitions(assets=[feed, after], checks=[on_time])
    result = instance.materialize(defs, "*")
    # ... but the producer judged this failure a warning: recorded as warn, blocks nothing
    assert result.success and K("after") in result.materializations
    [check] = [c for h in instance.health(defs) if h.key == K("feed") for c in h.checks]
    assert check.state is hw.CheckState.WARN and check.severity == "warn" and check.detail == "3 late rows"

    outcome["result"] = lambda: hw.CheckResult.not_run("the upstream table was locked")
    result = instance.materialize(defs, "*")
    assert result.success
    [check] = [c for h in instance.health(defs) if h.key == K("feed") for c in h.checks]
    assert check.state is hw.CheckState.NOT_RUN  # not failed: the new data was never checked
    logs = [e.message for e in events(instance, result.run_id, LogMessage)]
    assert "check on_time on feed did not run: the upstream table was locked" in logs

    outcome["result"] = lambda: hw.CheckResult(True, severity="fatal")
    result = instance.materialize(defs, "*")
    [check] = [c for h in instance.health(defs) if h.key == K("feed") for c in h.checks]
    assert check.state is hw.CheckState.FAILED
    assert "CheckResult(severity='fatal'): must be one of warn, error" in check.detail


def test_run_show_lists_each_failed_and_skipped_asset(instance, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from headwater.cli.app import app

    result = instance.materialize(project(), "extract/a or extract/b or extract/c")
    monkeypatch.setenv("HEADWATER_HOME", str(instance.home))
    shown = CliRunner().invoke(app, ["run", "show", result.run_id], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "extract/b failed: connection reset" in shown.output
    assert "extract/c skipped: extract/b failed in the same step" in shown.output


def test_re_execution_from_failure_leaves_out_what_the_failed_step_did_produce(instance):
    bad = instance.materialize(project(), "*")
    calls: list[str] = []
    retry = instance.materialize(project(fail=False, calls=calls), from_failure=bad.run_id)
    assert retry.success
    # extract/a was materialized by the failed step and reads_a ran on it: neither is redone
    # for its own sake (extract runs whole: it cannot build a subset of its assets).
    assert "reads_a" not in calls
    assert sorted(calls) == ["after_b", "extract", "reads_a_and_b", "reads_b", "reads_c"]
