"""The one place that wires settings, the store, definitions and executors together."""

from headwater.service.executors import EXECUTORS
from headwater.service.instance import (
    CLAIM_TIMEOUT,
    Instance,
    ObservationError,
    RunResult,
    materialize,
)

__all__ = ["CLAIM_TIMEOUT", "EXECUTORS", "Instance", "ObservationError", "RunResult", "materialize"]
