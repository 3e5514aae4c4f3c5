"""Load-time checks of everything the daemon acts on, so mistakes surface before it starts."""

from __future__ import annotations

from headwater.core.selection import select
from headwater.definitions.definitions import Definitions
from headwater.errors import DefinitionError, SelectionError


def validate_project(defs: Definitions) -> None:
    from headwater.alerts import validate_rules
    from headwater.automation.schedules import validate_schedules
    from headwater.automation.sensors import validate_sensors

    validate_schedules(defs.schedules, defs.graph)
    validate_sensors(defs.sensors, defs.graph)
    validate_rules(defs.alerts)
    for selection in defs.concurrency_limits:
        try:
            select(defs.graph, selection, {})
        except SelectionError as exc:
            raise DefinitionError(f"concurrency limit {selection!r}: {exc.reason}") from None
    from headwater.automation.conditions import AutomationCondition

    for spec in defs.graph.specs:
        if spec.automation is not None and not isinstance(spec.automation, AutomationCondition):
            raise DefinitionError(f"asset {spec.key}: automation= must be an AutomationCondition, "
                                  f"got {spec.automation!r}")
