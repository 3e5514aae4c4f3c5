"""Multiprocess workers hold steps sent ahead and store the outcomes of consecutive steps in one
transaction (``execution/worker_steps.py``): fewer transactions per run, nothing reported
before it is stored, a long step holds up none of the steps sent behind it, and a worker
killed while holding outcomes leaves no step started and the run a one-line error."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

import headwater as hw
from headwater.core.events import StepSucceeded
from headwater.core.records import StepStatus

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the assets here are made in memory: forked workers")

K = hw.AssetKey.parse
STEPS = 60


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None: the home's SQLite file; else a fresh PostgreSQL schema."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")


@pytest.fixture(autouse=True)
def forked_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_WORKER_START", "fork")


def _roots(n: int, behaviour: dict | None = None) -> list:  # type: ignore[type-arg]
    behaviour = behaviour or {}

    def make(name: str):  # type: ignore[no-untyped-def]
        def fn():  # type: ignore[no-untyped-def]
            if name in behaviour:
                behaviour[name]()
            return None

        return hw.asset(key=name)(fn)

    return [make(f"s{i:02d}") for i in range(n)]


class _SqliteCommits:
    """Every ``COMMIT`` run on a SQLite connection opened while installed, in any process forked
    meanwhile, appended to ``path`` with its process id (the connection's own trace callback)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> _SqliteCommits:
        event.listen(Engine, "connect", self._on_connect)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        if not hasattr(dbapi_connection, "set_trace_callback"):
            return
        path = str(self.path)

        def trace(sql: str) -> None:
            if sql.strip().upper() == "COMMIT":
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                try:
                    os.write(fd, f"{os.getpid()}\n".encode())
                finally:
                    os.close(fd)

        dbapi_connection.set_trace_callback(trace)

    def by_others(self) -> int:
        """Commits by processes other than this one (the workers)."""
        if not self.path.exists():
            return 0
        return sum(1 for line in self.path.read_text().split() if int(line) != os.getpid())


def test_workers_store_consecutive_steps_in_fewer_transactions_sqlite(tmp_path: Path):
    """Before: one transaction per step (its start deferred into it), so ``STEPS`` commits."""
    with _SqliteCommits(tmp_path / "commits.log") as commits, hw.Instance(home=tmp_path / "home") as instance:
        result = instance.materialize(hw.Definitions(assets=_roots(STEPS)), "*", executor="multiprocess", workers=2)
        assert result.success, result.errors
        steps = instance.run_steps(result.run_id)
    assert len(steps) == STEPS and all(s.status is StepStatus.SUCCEEDED for s in steps)
    worker_commits = commits.by_others()
    assert 0 < worker_commits <= STEPS // 2, worker_commits


def test_workers_store_consecutive_steps_in_fewer_transactions_postgresql(tmp_path: Path, pg_schema_url: str):
    """Counted by PostgreSQL itself: the distinct transaction ids (``xmin``) of the run's rows."""
    import psycopg

    with hw.Instance(home=tmp_path / "home", database_url=pg_schema_url) as instance:
        result = instance.materialize(hw.Definitions(assets=_roots(STEPS)), "*", executor="multiprocess", workers=2)
        assert result.success, result.errors
    with psycopg.connect(pg_schema_url) as conn:
        [(transactions,)] = conn.execute(
            "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM run_events WHERE run_id = %s "
            "UNION ALL SELECT xmin::text FROM asset_events WHERE run_id = %s) t",
            (result.run_id, result.run_id)).fetchall()
    # The run's start and end are the coordinator's: two more.
    assert 2 < transactions <= STEPS // 2 + 2, transactions


def test_a_long_step_gives_back_the_steps_sent_behind_it(tmp_path: Path, database_url: str | None):
    """The long step waits until every quick step is stored: some were sent ahead to its own
    worker, so they must have been given back and run by the other one (else it waits in
    vain and fails)."""
    home = tmp_path / "home"
    quick = [f"s{i:02d}" for i in range(1, 12)]

    def wait_for_the_quick_ones() -> None:
        with hw.Instance(home=home, database_url=database_url) as other:  # another connection: the committed
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                facts = other.store.latest_facts([K(q) for q in quick])
                if all(K(q) in facts and facts[K(q)].last_materialization is not None for q in quick):
                    return
                time.sleep(0.01)
        raise AssertionError("the quick steps stayed behind the long one")

    defs = hw.Definitions(assets=_roots(12, {"s00": wait_for_the_quick_ones}))
    with hw.Instance(home=home, database_url=database_url) as instance:
        result = instance.materialize(defs, "*", executor="multiprocess", workers=2)
        assert result.success, result.errors


def test_a_worker_killed_while_holding_outcomes_reports_only_what_is_stored(tmp_path: Path,
                                                                             database_url: str | None):
    """One worker, a step that SIGKILLs it among quick ones: the steps ended before it in its
    group had their outcomes held, not stored. Each step reported done was stored when it was
    reported; the killer fails with a one-line error naming it; every other step ends
    succeeded (run again if its end was lost), once per attempt; none is left started."""
    home = tmp_path / "home"
    unstored: list[str] = []
    reported: list[str] = []
    other: list[hw.Instance] = []

    def kill_my_worker() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def check_stored(what: str, step, detail: str) -> None:  # type: ignore[no-untyped-def]
        if what != "succeeded":
            return
        if not other:
            other.append(hw.Instance(home=home, database_url=database_url))
        reader = other[0]
        [run] = reader.store.list_runs()
        status = {s.step_key: s.status for s in reader.run_steps(run.run_id)}
        reported.append(step.key)
        if status.get(step.key) is not StepStatus.SUCCEEDED:
            unstored.append(step.key)

    defs = hw.Definitions(assets=_roots(30, {"s05": kill_my_worker}))
    try:
        with hw.Instance(home=home, database_url=database_url) as instance:
            result = instance.materialize(defs, "*", executor="multiprocess", workers=1, progress=check_stored)
            run = instance.run(result.run_id)
            steps = {s.step_key: s for s in instance.run_steps(result.run_id)}
            events = [e.event for e in instance.run_events(result.run_id)]
    finally:
        for reader in other:
            reader.close()
    assert unstored == [], f"reported before stored: {unstored}"
    assert len(reported) == 29
    assert set(result.errors) == {"s05"}
    message = result.errors["s05"].message
    assert "the worker process running step s05 died (exit code -9)" in message and "\n" not in message
    assert run is not None and run.status.value == "failed"
    assert steps["s05"].status is StepStatus.FAILED
    assert all(s.status is StepStatus.SUCCEEDED for k, s in steps.items() if k != "s05"), steps
    assert len(steps) == 30  # none left out, none left started
    succeeded = [(e.step_key, e.attempt) for e in events if isinstance(e, StepSucceeded)]
    assert len(succeeded) == len(set(succeeded)) == 29  # no step succeeded twice in one attempt


def test_steps_with_a_timeout_are_grouped_too_and_one_past_it_fails_alone(tmp_path: Path):
    """A project-wide ``step_timeout`` gives every step a timeout: they are still sent ahead
    and stored in groups; the step that hangs is failed as timed out (its worker killed), the
    steps held behind it run on the worker that replaces it."""

    def hang() -> None:
        time.sleep(60)

    defs = hw.Definitions(assets=_roots(40, {"s20": hang}), step_timeout=0.5)
    with _SqliteCommits(tmp_path / "commits.log") as commits, hw.Instance(home=tmp_path / "home") as instance:
        result = instance.materialize(defs, "*", executor="multiprocess", workers=1)
        steps = {s.step_key: s for s in instance.run_steps(result.run_id)}
    assert set(result.errors) == {"s20"}
    assert "step s20 timed out after 0.5 s" in result.errors["s20"].message
    assert steps["s20"].status is StepStatus.FAILED
    assert all(s.status is StepStatus.SUCCEEDED for k, s in steps.items() if k != "s20") and len(steps) == 40
    assert 0 < commits.by_others() <= 20, commits.by_others()
