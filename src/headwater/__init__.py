"""Headwater: an asset-centric data orchestrator.

Declare the data that should exist and the functions that produce it; Headwater records
every materialization and can say, for any asset, whether it is current and why not.
"""

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
from headwater.service import Instance, RunResult, materialize


def __getattr__(name: str) -> object:
    # ``hw.dbt``: the dbt integration, imported on first use so ``import headwater`` stays light.
    if name == "dbt":
        import headwater.integrations.dbt as dbt

        return dbt
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")


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
