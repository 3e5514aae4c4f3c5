"""One suite, every executor (docs/design.md §5): what a run does must not depend on where its
steps run. In-process and multiprocess on SQLite; Dask on a real command-line cluster
(scheduler + two workers) writing to PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import headwater as hw
from headwater.core.events import StepFailed
from headwater.core.records import StepStatus
from headwater.definitions.loader import find_location, load_definitions

PIPELINE = """
import os, time
from pathlib import Path
import headwater as hw

HERE = Path(__file__).parent

@hw.asset(code_version="1")
def numbers():
    return list(range(10))

@hw.asset
def evens(numbers):
    return [n for n in numbers if n % 2 == 0]

@hw.asset
def odds(numbers):
    return [n for n in numbers if n % 2]

@hw.asset
def total(evens, odds, context):
    context.log.info("adding up")
    return sum(evens) + sum(odds)

@hw.asset
def broken():
    raise ValueError("broken on purpose")

@hw.asset
def after_broken(broken):
    return broken

@hw.asset(retry=hw.RetryPolicy(max_retries=2, delay=0))
def flaky(context):
    if context.attempt < 2:
        raise RuntimeError(f"attempt {context.attempt} fails")
    return context.attempt

@hw.asset(timeout=1)
def hangs():
    for _ in range(1200):  # two minutes unless released: far beyond any wait below
        if (HERE / "release").exists():
            break
        time.sleep(0.1)

defs = hw.Definitions(assets=[numbers, evens, odds, total, broken, after_broken, flaky, hangs])
"""


@dataclass
class Setup:
    name: str
    instance: hw.Instance
    location: object
    defs: hw.Definitions
    folder: Path

    def materialize(self, selection: str) -> hw.RunResult:  # type: ignore[name-defined]
        return self.instance.materialize(self.defs, selection, executor=self.name, workers=2,
                                         location=self.location)  # type: ignore[arg-type]


# The Dask case asks for the session's cluster at run time: shares_fixture keeps it with the
# other Dask tests on one worker under pytest-xdist (tests/conftest.py).
DASK = pytest.param("dask", marks=[pytest.mark.postgres, pytest.mark.shares_fixture("dask_cluster")])


@pytest.fixture(params=["in_process", "multiprocess", DASK])
def setup(request: pytest.FixtureRequest, write_project, tmp_path: Path) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    path = write_project(PIPELINE)
    location = find_location(file=str(path))
    url = None
    if request.param == "dask":
        _, url = request.getfixturevalue("on_cluster")
    with hw.Instance(home=tmp_path / "home", database_url=url) as instance:
        yield Setup(request.param, instance, location, load_definitions(location), path.parent)
    (path.parent / "release").write_text("")  # a step abandoned by a timeout stops at once
    if url is not None:
        _wait_for_steps_to_let_go(url)


def _wait_for_steps_to_let_go(url: str) -> None:
    """A step abandoned on a Dask worker (timeout) ends on its own; its lease going away says it
    is done with the schema, which the PostgreSQL fixture is about to drop."""
    import psycopg

    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM leases WHERE name LIKE 'step:%'").fetchone()[0]:
            assert time.monotonic() < deadline, "a step on a Dask worker never ended"
            time.sleep(0.1)


def test_values_flow_between_steps_in_dependency_order(setup: Setup) -> None:
    result = setup.materialize("+total")
    assert result.success, result.errors
    assert result.value("total") == 45
    steps = {s.step_key: s for s in setup.instance.run_steps(result.run_id)}
    assert set(steps) == {"numbers", "evens", "odds", "total"}
    assert all(s.status is StepStatus.SUCCEEDED for s in steps.values())
    assert steps["numbers"].ended_at <= min(steps["evens"].started_at, steps["odds"].started_at)
    assert max(steps["evens"].ended_at, steps["odds"].ended_at) <= steps["total"].started_at
    run = setup.instance.run(result.run_id)
    assert run.executor == setup.name
    logs = [e.event for e in setup.instance.run_events(result.run_id) if type(e.event).__name__ == "LogMessage"]
    assert any("adding up" in getattr(e, "message", "") for e in logs)


def test_a_failure_skips_its_downstream_and_the_rest_goes_on(setup: Setup) -> None:
    result = setup.materialize("broken+ or numbers")
    assert not result.success
    assert "broken on purpose" in result.errors["broken"].message
    assert result.outcome.skipped == {"after_broken": "upstream step broken failed"}
    assert result.outcome.step_status["numbers"] == "succeeded"


def test_retries_follow_the_assets_policy(setup: Setup) -> None:
    result = setup.materialize("flaky")
    assert result.success, result.errors
    assert result.value("flaky") == 2
    failed = [e.event for e in setup.instance.run_events(result.run_id) if isinstance(e.event, StepFailed)]
    assert [(f.attempt, f.will_retry) for f in failed] == [(1, True)]
    assert "attempt 1 fails" in failed[0].error.message


def test_a_step_past_its_timeout_fails_and_records_nothing_more(setup: Setup) -> None:
    started = time.monotonic()
    result = setup.materialize("hangs or numbers")
    assert time.monotonic() - started < 60  # not the two minutes the step would take
    assert "timed out after 1 s" in result.errors["hangs"].message
    assert result.outcome.step_status["numbers"] == "succeeded"
    [hangs] = [s for s in setup.instance.run_steps(result.run_id) if s.step_key == "hangs"]
    assert hangs.status is StepStatus.FAILED
