"""The one place that wires settings, the store, definitions and executors together."""

from headwater.service.instance import (
    CLAIM_TIMEOUT,
    EXECUTORS,
    Instance,
    ObservationError,
    RunResult,
    materialize,
)

__all__ = ["CLAIM_TIMEOUT", "EXECUTORS", "Instance", "ObservationError", "RunResult", "materialize"]
