"""Materializing through the real store: values, versions, lineage records, failures."""

import pytest

import headwater as hw
from headwater.core.events import InputState, StepFailed
from headwater.core.records import StepStatus
from headwater.core.status import MaterializationStatus as S
from headwater.core.status import StaleCauseKind as C

K = hw.AssetKey.parse


def chain(code_a="1", fail_b=False, calls=None):
    calls = calls if calls is not None else []

    @hw.asset(code_version=code_a, group="raw")
    def a():
        calls.append("a")
        return [1, 2, 3]

    @hw.asset(code_version="1")
    def b(a, context):
        calls.append("b")
        if fail_b:
            raise ValueError("b cannot handle " + str(a))
        context.log.info(f"b got {len(a)} rows")
        return hw.Output(sum(a), metadata={"rows": len(a)})

    @hw.asset(code_version="1")
    def c(b):
        calls.append("c")
        return b * 10

    @hw.asset(code_version="1")
    def lone():
        calls.append("lone")
        return "x"

    return hw.Definitions(assets=[a, b, c, lone])


def test_values_flow_and_every_materialization_records_versions_and_inputs(instance):
    result = instance.materialize(chain(), "*")
    assert result.success, result.errors
    assert result.value("c") == 60
    mb = result.materialization("b")
    assert mb.metadata == {"rows": 3}
    assert mb.code_version == "1" and mb.data_version
    [inp] = mb.inputs
    assert inp.key == K("a") and inp.data_version == result.materialization("a").data_version
    assert inp.state is InputState.OK and inp.produced_in_run
    # data time of a derived asset is the oldest data time it read
    assert mb.data_time == result.materialization("a").data_time
    statuses = {s.key: s for s in instance.status(chain())}
    assert all(s.status is S.MATERIALIZED and not s.stale for s in statuses.values())
    logs = [e.event for e in instance.run_events(result.run_id) if e.event.type_name == "log"]
    assert [log.message for log in logs] == ["b got 3 rows"]


def test_same_code_and_inputs_give_the_same_data_version(instance):
    first = instance.materialize(chain(), "*")
    second = instance.materialize(chain(), "*")
    assert first.materialization("c").data_version == second.materialization("c").data_version
    assert first.run_id != second.run_id


def test_code_change_is_stale_and_stale_only_reruns_just_that_and_downstream(instance):
    instance.materialize(chain(), "*")
    changed = chain(code_a="2")
    statuses = {s.key: s for s in instance.status(changed)}
    assert [c.kind for c in statuses[K("a")].causes] == [C.CODE_CHANGED]
    assert [c.kind for c in statuses[K("c")].causes] == [C.UPSTREAM_STALE]
    assert not statuses[K("lone")].stale
    calls = []
    result = instance.materialize(chain(code_a="2", calls=calls), "*", mode="stale")
    assert result.success
    assert calls == ["a", "b", "c"]
    assert set(result.outcome.up_to_date) == {K("lone")}
    assert not any(s.stale for s in instance.status(changed))
    skipped = [s for s in instance.run_steps(result.run_id) if s.status is StepStatus.SKIPPED]
    assert [s.step_key for s in skipped] == ["lone"]


def test_a_failure_skips_downstream_and_independent_branches_go_on(instance):
    calls = []
    result = instance.materialize(chain(fail_b=True, calls=calls), "*")
    assert not result.success and result.status.value == "failed"
    assert set(calls) == {"a", "b", "lone"}
    assert "b cannot handle [1, 2, 3]" in result.errors["b"].message
    assert result.outcome.skipped == {"c": "upstream step b failed"}
    steps = {s.step_key: s for s in instance.run_steps(result.run_id)}
    assert steps["b"].status is StepStatus.FAILED and steps["c"].status is StepStatus.SKIPPED
    assert steps["lone"].status is StepStatus.SUCCEEDED
    failed = [e.event for e in instance.run_events(result.run_id) if isinstance(e.event, StepFailed)]
    assert "in b" in failed[0].error.traceback and "ValueError" in failed[0].error.traceback
    assert "step_execution.py" not in failed[0].error.traceback  # the user's traceback, not ours
    st = {s.key: s for s in instance.status(chain())}
    assert st[K("b")].status is S.FAILED and st[K("c")].status is S.SKIPPED  # skipped because b failed


def test_from_failure_reexecutes_what_failed_and_its_downstream(instance):
    bad = instance.materialize(chain(fail_b=True), "*")
    calls = []
    retry = instance.materialize(chain(calls=calls), from_failure=bad.run_id[:8])
    assert retry.success
    assert calls == ["b", "c"]
    assert instance.run(retry.run_id).parent_run_id == bad.run_id


def test_downstream_run_alone_records_that_it_read_stale_inputs(instance):
    instance.materialize(chain(), "*")
    result = instance.materialize(chain(code_a="2"), "b")
    [inp] = result.materialization("b").inputs
    assert inp.state is InputState.STALE and "code version changed" in inp.detail
    why = "\n".join(instance.why(chain(code_a="2"), "b"))
    assert "ran on stale inputs" in why and "a was stale" in why


def test_missing_upstream_value_is_a_clear_step_error(instance):
    result = instance.materialize(chain(), "c")
    assert "upstream asset b" in result.errors["c"].message and "never been materialized" in result.errors["c"].message


def test_retries_with_backoff_then_success(instance, tmp_path):
    counter = tmp_path / "count"

    @hw.asset(retry=hw.RetryPolicy(max_retries=2, delay=0.05, backoff=2))
    def flaky():
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        if n < 2:
            raise ConnectionError(f"attempt {n + 1} failed")
        return n

    result = instance.materialize(hw.Definitions(assets=[flaky]), "*")
    assert result.success and result.value("flaky") == 2
    failures = [e.event for e in instance.run_events(result.run_id) if isinstance(e.event, StepFailed)]
    assert [(f.attempt, f.will_retry) for f in failures] == [(1, True), (2, True)]
    [step] = instance.run_steps(result.run_id)
    assert step.status is StepStatus.SUCCEEDED and step.attempt == 3
    gap = failures[1].timestamp - failures[0].timestamp
    assert gap >= 0.05


def test_retries_exhausted_fail_the_step(instance):
    @hw.asset(retry=hw.RetryPolicy(max_retries=1, delay=0))
    def broken():
        raise RuntimeError("always")

    result = instance.materialize(hw.Definitions(assets=[broken]), "*")
    assert not result.success
    [step] = instance.run_steps(result.run_id)
    assert step.status is StepStatus.FAILED and step.attempt == 2


def test_hanging_asset_times_out_in_process(instance):
    import time

    @hw.asset(timeout=0.3)
    def hangs():
        time.sleep(5)

    @hw.asset
    def fine():
        return 1

    started = time.monotonic()
    result = instance.materialize(hw.Definitions(assets=[hangs, fine]), "*")
    assert time.monotonic() - started < 4.5  # not the 5 s the step would take
    assert "timed out after 0.3 s" in result.errors["hangs"].message
    assert result.outcome.step_status["fine"] == "succeeded"
    st = {s.key: s for s in instance.status(hw.Definitions(assets=[hangs, fine]))}
    assert st[K("hangs")].status is S.FAILED


def test_unstorable_value_fails_the_step_naming_the_asset(instance):
    import threading

    @hw.asset
    def lock():
        return threading.Lock()

    result = instance.materialize(hw.Definitions(assets=[lock]), "*")
    msg = result.errors["lock"].message
    assert "asset lock returned a value of type lock" in msg and "cannot store" in msg
    assert list((instance.home / "values").rglob("*")) == [] or not any(
        p.name.startswith(".tmp") for p in (instance.home / "values").rglob("*"))


def test_none_stores_nothing_and_metadata_must_be_json(instance):
    @hw.asset
    def nothing():
        return None

    @hw.asset
    def bad_meta():
        return hw.Output(1, metadata={"when": object()})

    result = instance.materialize(hw.Definitions(assets=[nothing, bad_meta]), "*")
    assert result.materialization("nothing").value_ref is None
    assert "metadata of asset bad_meta is not JSON-serializable" in result.errors["bad_meta"].message


def test_explicit_data_version_is_recorded(instance):
    @hw.asset
    def versioned():
        return hw.Output([1], data_version="v-42")

    result = instance.materialize(hw.Definitions(assets=[versioned]), "*")
    assert result.materialization("versioned").data_version == "v-42"


def test_multi_asset_streams_results_and_subsets(instance):
    seen = []

    @hw.multi_asset(specs=[hw.AssetSpec("m/a"), hw.AssetSpec("m/b", deps=["m/a"]), hw.AssetSpec("m/c")],
                    can_subset=True)
    def build(context):
        seen.append(tuple(str(k) for k in context.selected_keys))
        for key in context.selected_keys:
            yield hw.MaterializeResult(key=key, metadata={"built": str(key)})

    @hw.asset(deps=["m/b"])
    def after():
        return 1

    defs = hw.Definitions(assets=[build, after])
    result = instance.materialize(defs, "m/a or m/b+")
    assert result.success
    assert seen == [("m/a", "m/b")]
    mb = result.materialization("m/b")
    assert mb.inputs[0].key == K("m/a") and mb.inputs[0].produced_in_run
    assert K("m/c") not in result.materializations


def test_multi_asset_returning_a_dict_and_missing_output_is_an_error(instance):
    @hw.multi_asset(specs=[hw.AssetSpec("x"), hw.AssetSpec("y")])
    def two():
        return {"x": 1}

    result = instance.materialize(hw.Definitions(assets=[two]), "*")
    assert "finished without producing y" in result.errors["two"].message


def test_resources_are_injected(instance):
    class Db:
        def rows(self):
            return 7

    @hw.asset
    def counted(db):
        return db.rows()

    result = instance.materialize(hw.Definitions(assets=[counted], resources={"db": Db()}), "*")
    assert result.value("counted") == 7


def test_up_to_date_run_creates_nothing(instance):
    instance.materialize(chain(), "*")
    again = instance.materialize(chain(), "*", mode="stale")
    assert again.success and not again.plan.steps and len(again.outcome.up_to_date) == 4


def test_observing_a_source_feeds_staleness(instance):
    version = {"v": "1"}
    src = hw.source_asset("raw/file", observe=lambda: hw.Observation(data_version=version["v"], data_time=5.0))

    @hw.asset(deps=["raw/file"], code_version="1")
    def derived():
        return 1

    defs = hw.Definitions(assets=[src, derived])
    instance.observe(defs)
    result = instance.materialize(defs, "*")
    assert result.materialization("derived").inputs[0].data_version == "1"
    assert result.materialization("derived").data_time == 5.0
    version["v"] = "2"
    instance.observe(defs)
    st = {s.key: s for s in instance.status(defs)}
    assert [c.kind for c in st[K("derived")].causes] == [C.UPSTREAM_UPDATED]


def test_unknown_selection_changes_nothing(instance):
    with pytest.raises(hw.SelectionError):
        instance.materialize(chain(), "nope")
    assert instance.runs() == []


def test_a_broken_observer_names_its_source_and_the_others_are_still_recorded(instance):
    def broken():
        raise ConnectionError("warehouse unreachable")

    good = hw.source_asset("raw/good", observe=lambda: hw.Observation(data_version="g1", data_time=1.0))
    bad = hw.source_asset("raw/bad", observe=broken)
    defs = hw.Definitions(assets=[good, bad])
    with pytest.raises(hw.HeadwaterError, match="raw/bad: warehouse unreachable"):
        instance.observe(defs)
    facts = instance.store.latest_facts()
    assert facts[K("raw/good")].last_observation.data_version == "g1"
    assert K("raw/bad") not in facts
    assert defs.graph.spec(K("raw/good")).location.file == __file__
