"""Automation's definitions as data: conditions, schedules and sensors may travel between
code locations (definitions/data_codec.py). Import this module before encoding or
decoding a location's definitions; it only registers types."""

from __future__ import annotations

import dataclasses
from typing import Any

from headwater.automation import conditions
from headwater.automation.run_status_sensors import RunStatusSensorDefinition
from headwater.automation.schedules import ScheduleDefinition
from headwater.automation.sensors import SensorDefinition
from headwater.core.events import RunStatus
from headwater.definitions.data_codec import register_data_types


def _run_status_sensor(kw: dict[str, Any]) -> RunStatusSensorDefinition:
    statuses = frozenset(RunStatus(s) for s in kw.pop("statuses", ()))
    return RunStatusSensorDefinition(**kw, statuses=statuses)


register_data_types(*(c for c in vars(conditions).values()
                      if isinstance(c, type) and issubclass(c, conditions.AutomationCondition)
                      and c is not conditions.AutomationCondition and dataclasses.is_dataclass(c)))
register_data_types(ScheduleDefinition, SensorDefinition)
register_data_types(RunStatusSensorDefinition, build=_run_status_sensor)
