"""The multiprocess executor: workers load the definitions themselves and share the store."""

import time

import pytest

import headwater as hw
from headwater.core.records import StepStatus
from headwater.definitions.loader import find_location, load_definitions

PIPELINE = """
import os, time
import headwater as hw

@hw.asset(code_version="1")
def numbers():
    return list(range(10))

@hw.asset(code_version="1")
def evens(numbers):
    return [n for n in numbers if n % 2 == 0]

@hw.asset(code_version="1")
def odds(numbers):
    return [n for n in numbers if n % 2]

@hw.asset(code_version="1")
def pids(evens, odds, context):
    context.log.info(f"in pid {os.getpid()}")
    return {"sum": sum(evens) + sum(odds), "pid": os.getpid()}

@hw.asset(timeout=0.5)
def hangs():
    time.sleep(30)

@hw.asset
def dies():
    os.kill(os.getpid(), 9)

@hw.asset(deps=["dies"])
def after_dies():
    return 1

defs = hw.Definitions(assets=[numbers, evens, odds, pids, hangs, dies, after_dies])
"""


@pytest.fixture
def project(write_project):
    path = write_project(PIPELINE)
    location = find_location(file=str(path))
    return location, load_definitions(location)


def test_values_cross_process_boundaries(instance, project):
    location, defs = project
    result = instance.materialize(defs, "+pids", executor="multiprocess", workers=2, location=location)
    assert result.success, result.errors
    value = result.value("pids")
    assert value["sum"] == 45
    import os

    assert value["pid"] != os.getpid()
    steps = instance.run_steps(result.run_id)
    assert {s.step_key for s in steps} == {"numbers", "evens", "odds", "pids"}
    assert all(s.status is StepStatus.SUCCEEDED for s in steps)


def test_a_step_past_its_timeout_is_killed_and_the_rest_goes_on(instance, project):
    location, defs = project
    started = time.monotonic()
    result = instance.materialize(defs, "hangs or numbers", executor="multiprocess", workers=2, location=location)
    assert time.monotonic() - started < 15
    assert "timed out after 0.5 s" in result.errors["hangs"].message
    assert result.outcome.step_status["numbers"] == "succeeded"
    [hangs] = [s for s in instance.run_steps(result.run_id) if s.step_key == "hangs"]
    assert hangs.status is StepStatus.FAILED


def test_a_worker_killed_mid_step_fails_that_step_and_skips_its_downstream(instance, project):
    location, defs = project
    result = instance.materialize(defs, "dies+ or numbers", executor="multiprocess", workers=1, location=location)
    assert "worker process running step dies died (exit code -9)" in result.errors["dies"].message
    assert result.outcome.skipped == {"after_dies": "upstream step dies failed"}
    assert result.outcome.step_status["numbers"] == "succeeded"


def test_fork_mode_without_a_location(instance):
    @hw.asset
    def one():
        return 1

    @hw.asset
    def two(one):
        return one + 1

    result = instance.materialize(hw.Definitions(assets=[one, two]), "*", executor="multiprocess", workers=2)
    assert result.success and result.value("two") == 2


def test_worker_that_cannot_load_definitions_is_a_clear_error(instance, write_project, monkeypatch):
    # Spawned workers load the project themselves (forked ones take the coordinator's definitions).
    monkeypatch.setenv("HEADWATER_WORKER_START", "spawn")
    path = write_project("import headwater as hw\n@hw.asset\ndef a():\n    return 1\ndefs = hw.Definitions(assets=[a])\n",
                         name="p2.py")
    location = find_location(file=str(path))
    defs = load_definitions(location)
    path.write_text("raise RuntimeError('broken on purpose')\n")
    with pytest.raises(hw.HeadwaterError, match="could not load the definitions.*broken on purpose"):
        instance.materialize(defs, "*", executor="multiprocess", workers=1, location=location)
    assert instance.runs() == []
