"""The in-process executor stores the outcomes of the steps it ran together in one
transaction (``held_writes.py``): nothing is reported before it is stored, a step that runs
long does not keep the ones before it unstored, Ctrl-C keeps what ended before it, and a
killed process loses only steps nobody had been told of."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import headwater as hw
from headwater.core.events import AssetMaterialized, RunStatus, StepStarted, StepSucceeded
from headwater.core.records import AttemptStatus, StepStatus
from headwater.errors import StorageError
from headwater.execution.held_writes import HeldWrites

K = hw.AssetKey.parse


def _roots(*names: str, behaviour=None) -> hw.Definitions:  # type: ignore[no-untyped-def]
    """Independent no-op assets (all ready at once: one group); ``behaviour[name]`` runs instead."""
    behaviour = behaviour or {}

    def make(name: str):  # type: ignore[no-untyped-def]
        def fn():  # type: ignore[no-untyped-def]
            if name in behaviour:
                behaviour[name]()
            return None

        return hw.asset(key=name)(fn)

    return hw.Definitions(assets=[make(n) for n in names])


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None: the home's SQLite file; else a fresh PostgreSQL schema."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")


def test_a_long_step_has_what_was_held_before_it_stored_while_it_runs(tmp_path: Path, database_url: str | None):
    home = tmp_path / "home"
    seen: list[bool] = []

    def wait_until_a_is_stored() -> None:
        with hw.Instance(home=home, database_url=database_url) as other:  # another connection: sees the committed
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                facts = other.store.latest_facts([K("a_quick")])
                if K("a_quick") in facts and facts[K("a_quick")].last_materialization is not None:
                    seen.append(True)
                    return
                time.sleep(0.005)
        raise AssertionError("a_quick's outcome stayed held while b_waits ran")

    with hw.Instance(home=home, database_url=database_url) as instance:
        result = instance.materialize(_roots("a_quick", "b_waits", behaviour={"b_waits": wait_until_a_is_stored}))
        assert result.success, result.errors
    assert seen == [True]


def test_ctrl_c_in_a_step_keeps_the_steps_that_ended_before_it(tmp_path: Path, database_url: str | None):
    def interrupt() -> None:
        raise KeyboardInterrupt

    defs = _roots("a_done", "b_interrupted", "c_never", behaviour={"b_interrupted": interrupt})
    with hw.Instance(home=tmp_path / "home", database_url=database_url) as instance, \
            pytest.raises(KeyboardInterrupt):
        instance.materialize(defs)
    with hw.Instance(home=tmp_path / "home", database_url=database_url) as instance:  # what was committed
        check_interrupted(instance)


def check_interrupted(instance: hw.Instance) -> None:
    [run] = instance.store.list_runs()
    assert run.status is RunStatus.CANCELED
    steps = {s.step_key: s for s in instance.run_steps(run.run_id)}
    assert steps["a_done"].status is StepStatus.SUCCEEDED  # not turned into canceled by the cancel
    facts = instance.store.latest_facts([K("a_done"), K("c_never")])
    assert facts[K("a_done")].last_materialization is not None
    assert facts[K("a_done")].last_attempt_status is AttemptStatus.SUCCEEDED
    assert K("c_never") not in facts or facts[K("c_never")].last_materialization is None
    assert steps["c_never"].status is not StepStatus.SUCCEEDED


def test_held_events_go_first_and_a_failed_write_keeps_them(instance):  # type: ignore[no-untyped-def]
    held = HeldWrites(instance.store)
    a = StepStarted(run_id="r", timestamp=1.0, step_key="a")
    b = StepStarted(run_id="r", timestamp=2.0, step_key="b")
    held.hold([a])
    assert instance.store.run_events("r") == []  # held, not stored
    with pytest.raises(StorageError):
        held.write(["not an event"])  # type: ignore[list-item]
    assert instance.store.run_events("r") == [] and held.held == 1  # nothing stored, nothing lost
    held.write([b])
    assert [e.event.step_key for e in instance.store.run_events("r")] == ["a", "b"]  # type: ignore[attr-defined]
    held.flush()
    assert held.held == 0 and len(instance.store.run_events("r")) == 2


KILLED = """
import os, signal, sys
from pathlib import Path
import headwater as hw

home, log, where, name = Path(sys.argv[1]), open(sys.argv[2], "a", buffering=1), sys.argv[3], sys.argv[4]

def kill():
    os.kill(os.getpid(), signal.SIGKILL)

@hw.asset
def root():
    return None

def child(i):
    def fn():
        if where == "step" and name == f"c{i}":
            kill()
        return None
    return hw.asset(key=f"c{i}", deps=["root"])(fn)

def progress(event, step, detail):
    log.write(f"{event} {step.key}\\n")
    if where == "report" and event == "succeeded" and step.key == name:
        kill()

defs = hw.Definitions(assets=[root, *[child(i) for i in range(10)]])
hw.Instance(home=home).materialize(defs, progress=progress)
"""


@pytest.mark.parametrize("where, name", [("step", "c5"), ("report", "root"), ("report", "c2")])
def test_a_killed_run_stored_every_step_it_reported_done(tmp_path: Path, where: str, name: str):
    """SIGKILL in the middle of a group of steps, or right after the run reported a step done:
    each step the run reported as succeeded is stored as succeeded with its materialization;
    what is stored is whole (no success without its materialization); steps of a group that
    ended before the kill may be lost, as nothing was told of them."""
    script, log, home = tmp_path / "killed.py", tmp_path / "progress.log", tmp_path / "home"
    script.write_text(textwrap.dedent(KILLED))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, str(script), str(home), str(log), where, name], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    reported = {line.split()[1] for line in log.read_text().splitlines() if line.startswith("succeeded ")}
    assert "root" in reported  # its readers ran (or the kill came as it was reported)
    with hw.Instance(home=home) as instance:
        [run] = instance.store.list_runs()
        events = [e.event for e in instance.run_events(run.run_id)]
        steps = {s.step_key: s for s in instance.run_steps(run.run_id)}
    succeeded = {e.step_key for e in events if isinstance(e, StepSucceeded)}
    made = {str(e.key) for e in events if isinstance(e, AssetMaterialized)}
    assert reported <= succeeded, (reported, succeeded)
    assert all(steps[k].status is StepStatus.SUCCEEDED for k in reported)
    assert succeeded <= made, "a step stored as succeeded without its materialization"
    if where == "step":
        assert name not in succeeded
    order = [e.key for e in events if isinstance(e, AssetMaterialized)]
    assert order[0] == K("root")  # the children's records come after their input's
