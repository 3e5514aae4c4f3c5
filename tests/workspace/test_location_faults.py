"""Faults in a location's own interpreter: a step past its timeout fails as with every executor,
the location's process is replaced for the steps after it, and what else it ran is kept."""

import os
import textwrap
import time

import headwater as hw
from headwater.core.events import StepFailed, StepStarted
from headwater.definitions.locations_config import find_workspace
from headwater.service.workspace import Workspace

PIPELINE = '''
import os
import threading
import time
import headwater as hw

@hw.asset(timeout=1, retry=hw.RetryPolicy(max_retries=1, delay=0))
def hangs():
    threading.Event().wait()               # never returns

@hw.asset
def beside(context):
    """Runs in the same process as hangs; ends once the run has given hangs up."""
    with hw.Instance(home=os.environ["HEADWATER_HOME"]) as instance:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(s.step_key == "hangs" and s.status.value == "failed" for s in instance.run_steps(context.run_id)):
                return os.getpid()
            time.sleep(0.05)
    raise RuntimeError("hangs was never given up")

@hw.asset
def after(beside):
    return os.getpid()
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_hanging_step_times_out_and_its_location_process_is_replaced(tmp_path, venvs, monkeypatch):
    folder = tmp_path / "ws"
    (folder / "team").mkdir(parents=True)
    (folder / "team" / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    (folder / "headwater.toml").write_text(f'[[locations]]\nname = "team"\nfile = "team/pipeline.py"\n'
                                           f'python = "{venvs["ingest"]}/bin/python"\n')
    home = folder / ".headwater"
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    ws = Workspace(find_workspace(folder), home).load()
    try:
        with hw.Instance(home=home) as instance:
            started = time.monotonic()
            result = instance.materialize(ws.definitions(), "*")
            assert time.monotonic() - started < 30
            assert not result.success
            message = result.errors["hangs"].message
            assert message.startswith("step hangs timed out after 1 s") and "did not return" in message
            failed = [e.event for e in instance.run_events(result.run_id) if isinstance(e.event, StepFailed)]
            assert [(f.step_key, f.attempt, f.will_retry) for f in failed] == [("hangs", 1, True), ("hangs", 2, False)]
            assert all("timed out after 1 s" in f.error.message for f in failed)
            # What ran beside the hanging step in the same process is kept; what came after ran
            # in a new process of the same interpreter.
            assert result.outcome.step_status == {"hangs": "failed", "beside": "succeeded", "after": "succeeded"}
            first = result.value("beside")
            pids = {e.event.step_key + str(e.event.attempt): e.event.pid
                    for e in instance.run_events(result.run_id) if isinstance(e.event, StepStarted)}
            assert pids["hangs1"] == first and pids["after1"] == result.value("after") != first
            assert pids["hangs2"] != first  # the retry went to a fresh process too
            deadline = time.monotonic() + 30
            while _alive(first) or _alive(pids["hangs2"]):  # both retired, killed once idle
                assert time.monotonic() < deadline, "a retired location process was never ended"
                time.sleep(0.05)
            assert instance.statuses(ws.definitions())[hw.AssetKey.parse("beside")].last_materialization is not None
            # The location keeps working: a new run goes to its live process.
            again = instance.materialize(ws.definitions(), "after")
            assert again.success and again.value("after") == pids["after1"]
    finally:
        ws.close()


def test_a_locations_step_timeout_is_carried_by_its_assets_in_the_workspace():
    from headwater.definitions.definitions_data import definitions_to_data, parts_from_data

    @hw.asset
    def plain():
        return 1

    @hw.asset(timeout=2)
    def own():
        return 1

    data = definitions_to_data(hw.Definitions(assets=[plain, own], step_timeout=30), "team")
    items, _ = parts_from_data(data, "team")
    assert {str(s.key): s.timeout for i in items for s in i.specs} == {"plain": 30, "own": 2}
