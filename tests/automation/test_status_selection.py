"""status: selections in schedules, sensors, alert rules and run requests: validated by name
when the project loads, resolved against the state when a run is requested."""

from __future__ import annotations

import pytest

import headwater as hw
from headwater.automation.validation import validate_project


@hw.asset
def good() -> int:
    return 1


@hw.asset
def bad(good: int) -> int:
    raise RuntimeError("red")


@hw.asset
def after(bad: int) -> int:
    return bad


def project(selection: str) -> hw.Definitions:
    return hw.Definitions(
        assets=[good, bad, after],
        schedules=[hw.schedule("red_again", "*/5 * * * *", selection)],
        sensors=[hw.asset_sensor("on_red", watch=selection, target=selection)],
    )


def test_status_selections_load_in_schedules_and_sensors_and_typos_do_not() -> None:
    validate_project(project("status:failed+"))
    with pytest.raises(hw.DefinitionError, match="schedule 'red_again'.*unknown state 'faild'"):
        validate_project(project("status:faild+"))


def test_a_run_requested_with_a_status_selection_takes_the_state_at_request_time(tmp_path) -> None:
    defs = project("status:failed+")
    with hw.Instance(home=tmp_path) as instance:
        first, _ = instance.enqueue(defs, "status:missing")
        assert {str(k) for k in first.asset_keys} == {"good", "bad", "after"}
        instance.materialize(defs, "*")
        again, _ = instance.enqueue(defs, defs.schedules[0].selection, origin="schedule")
        assert [str(k) for k in again.asset_keys] == ["bad", "after"]
        assert {str(k) for k in instance.select(defs, "status:skipped")} == {"after"}
