"""Headwater: an asset-centric data orchestrator.

Declare the data that should exist and the functions that produce it; Headwater records
every materialization and can say, for any asset, whether it is current and why not.

Every public name is imported on first use (PEP 562): ``import headwater`` alone imports
nothing else, so a command, a worker or a user's definitions file pays only for the part
of Headwater it touches (``hw.asset`` and ``hw.Definitions`` do not import the store, the
web server or dbt).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.automation.conditions import AutomationCondition
    from headwater.automation.run_requests import RunRequest, SkipReason
    from headwater.automation.run_status_sensors import RunStatusContext, run_status_sensor
    from headwater.automation.schedules import schedule
    from headwater.automation.sensors import SensorContext, SensorResult, asset_sensor, sensor
    from headwater.core.checks import CheckState
    from headwater.core.freshness import FreshnessPolicy, FreshnessState
    from headwater.core.health import AssetHealth, Health
    from headwater.core.keys import AssetKey
    from headwater.core.partition_mappings import (
        AllPartitions,
        DimensionMapping,
        IdentityMapping,
        LastPartitions,
        PartitionMapping,
        StaticMapping,
        TimeWindowMapping,
    )
    from headwater.core.partitions import (
        CronPartitions,
        DailyPartitions,
        DynamicPartitions,
        HourlyPartitions,
        MonthlyPartitions,
        MultiPartitions,
        PartitionError,
        PartitionsDefinition,
        StaticPartitions,
        TimeWindow,
        TimeWindowPartitions,
        WeeklyPartitions,
    )
    from headwater.core.specs import AssetSpec, RetryPolicy
    from headwater.core.status import AssetStatus, MaterializationStatus, StaleCauseKind
    from headwater.definitions import builtin_checks as checks
    from headwater.definitions import observers
    from headwater.definitions.checks import CheckContext, CheckResult, check
    from headwater.definitions.context import AssetContext
    from headwater.definitions.decorators import Dep, asset, multi_asset, source_asset
    from headwater.definitions.definitions import Definitions
    from headwater.definitions.outputs import AssetFailure, AssetSkip, MaterializeResult, Observation, Output
    from headwater.errors import (
        CycleError,
        DefinitionError,
        DuplicateKeyError,
        HeadwaterError,
        KeySyntaxError,
        LoadError,
        SelectionError,
        StorageError,
        UnknownKeyError,
    )
    from headwater.integrations import dbt as dbt
    from headwater.service.instance import Instance, RunResult, materialize

# Public name -> the module that defines it. A name mapped to its own module (``checks``,
# ``observers``, ``dbt``) is that module.
_EXPORTS: dict[str, str] = {
    "AutomationCondition": "headwater.automation.conditions",
    "RunRequest": "headwater.automation.run_requests",
    "SkipReason": "headwater.automation.run_requests",
    "RunStatusContext": "headwater.automation.run_status_sensors",
    "run_status_sensor": "headwater.automation.run_status_sensors",
    "schedule": "headwater.automation.schedules",
    "SensorContext": "headwater.automation.sensors",
    "SensorResult": "headwater.automation.sensors",
    "asset_sensor": "headwater.automation.sensors",
    "sensor": "headwater.automation.sensors",
    "CheckState": "headwater.core.checks",
    "FreshnessPolicy": "headwater.core.freshness",
    "FreshnessState": "headwater.core.freshness",
    "AssetHealth": "headwater.core.health",
    "Health": "headwater.core.health",
    "AssetKey": "headwater.core.keys",
    "AllPartitions": "headwater.core.partition_mappings",
    "DimensionMapping": "headwater.core.partition_mappings",
    "IdentityMapping": "headwater.core.partition_mappings",
    "LastPartitions": "headwater.core.partition_mappings",
    "PartitionMapping": "headwater.core.partition_mappings",
    "StaticMapping": "headwater.core.partition_mappings",
    "TimeWindowMapping": "headwater.core.partition_mappings",
    "CronPartitions": "headwater.core.partitions",
    "DailyPartitions": "headwater.core.partitions",
    "DynamicPartitions": "headwater.core.partitions",
    "HourlyPartitions": "headwater.core.partitions",
    "MonthlyPartitions": "headwater.core.partitions",
    "MultiPartitions": "headwater.core.partitions",
    "PartitionError": "headwater.core.partitions",
    "PartitionsDefinition": "headwater.core.partitions",
    "StaticPartitions": "headwater.core.partitions",
    "TimeWindow": "headwater.core.partitions",
    "TimeWindowPartitions": "headwater.core.partitions",
    "WeeklyPartitions": "headwater.core.partitions",
    "AssetSpec": "headwater.core.specs",
    "RetryPolicy": "headwater.core.specs",
    "AssetStatus": "headwater.core.status",
    "MaterializationStatus": "headwater.core.status",
    "StaleCauseKind": "headwater.core.status",
    "CheckContext": "headwater.definitions.checks",
    "CheckResult": "headwater.definitions.checks",
    "check": "headwater.definitions.checks",
    "AssetContext": "headwater.definitions.context",
    "Dep": "headwater.definitions.decorators",
    "asset": "headwater.definitions.decorators",
    "multi_asset": "headwater.definitions.decorators",
    "source_asset": "headwater.definitions.decorators",
    "Definitions": "headwater.definitions.definitions",
    "AssetFailure": "headwater.definitions.outputs",
    "AssetSkip": "headwater.definitions.outputs",
    "MaterializeResult": "headwater.definitions.outputs",
    "Observation": "headwater.definitions.outputs",
    "Output": "headwater.definitions.outputs",
    "CycleError": "headwater.errors",
    "DefinitionError": "headwater.errors",
    "DuplicateKeyError": "headwater.errors",
    "HeadwaterError": "headwater.errors",
    "KeySyntaxError": "headwater.errors",
    "LoadError": "headwater.errors",
    "SelectionError": "headwater.errors",
    "StorageError": "headwater.errors",
    "UnknownKeyError": "headwater.errors",
    "Instance": "headwater.service.instance",
    "RunResult": "headwater.service.instance",
    "materialize": "headwater.service.instance",
    "checks": "headwater.definitions.builtin_checks",
    "observers": "headwater.definitions.observers",
    "dbt": "headwater.integrations.dbt",
}
_MODULES = frozenset({"checks", "observers", "dbt"})


def __getattr__(name: str) -> object:
    """Import the module behind a public name on first use and keep the value as a global
    (the next access is a plain attribute read)."""
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'headwater' has no attribute {name!r}")
    module = import_module(where)
    value = module if name in _MODULES else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "AllPartitions",
    "CronPartitions",
    "DailyPartitions",
    "Dep",
    "DimensionMapping",
    "DynamicPartitions",
    "HourlyPartitions",
    "IdentityMapping",
    "LastPartitions",
    "MonthlyPartitions",
    "MultiPartitions",
    "PartitionError",
    "PartitionMapping",
    "PartitionsDefinition",
    "StaticMapping",
    "StaticPartitions",
    "TimeWindow",
    "TimeWindowMapping",
    "TimeWindowPartitions",
    "WeeklyPartitions",
    "AutomationCondition",
    "RunRequest",
    "SensorContext",
    "SensorResult",
    "SkipReason",
    "asset_sensor",
    "run_status_sensor",
    "RunStatusContext",
    "schedule",
    "sensor",
    "AssetContext",
    "AssetFailure",
    "AssetHealth",
    "CheckContext",
    "CheckResult",
    "CheckState",
    "FreshnessPolicy",
    "FreshnessState",
    "Health",
    "check",
    "checks",
    "observers",
    "AssetKey",
    "AssetSkip",
    "AssetSpec",
    "AssetStatus",
    "CycleError",
    "DefinitionError",
    "Definitions",
    "DuplicateKeyError",
    "HeadwaterError",
    "Instance",
    "KeySyntaxError",
    "LoadError",
    "MaterializationStatus",
    "MaterializeResult",
    "Observation",
    "Output",
    "RetryPolicy",
    "RunResult",
    "SelectionError",
    "StaleCauseKind",
    "StorageError",
    "UnknownKeyError",
    "asset",
    "materialize",
    "multi_asset",
    "source_asset",
]
