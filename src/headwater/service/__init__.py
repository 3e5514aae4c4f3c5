"""The one place that wires settings, the store, definitions and executors together.

Its names are imported on first use (PEP 562), so a module of this package that needs
little (``status_snapshot``, ``workspace``) does not import the whole ``Instance``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.service.executor_names import EXECUTORS
    from headwater.service.instance import CLAIM_TIMEOUT, Instance, ObservationError, RunResult, materialize

_EXPORTS: dict[str, str] = {
    "CLAIM_TIMEOUT": "headwater.service.instance",
    "EXECUTORS": "headwater.service.executor_names",
    "Instance": "headwater.service.instance",
    "ObservationError": "headwater.service.instance",
    "RunResult": "headwater.service.instance",
    "materialize": "headwater.service.instance",
}


def __getattr__(name: str) -> object:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'headwater.service' has no attribute {name!r}")
    value = getattr(import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = ["CLAIM_TIMEOUT", "EXECUTORS", "Instance", "ObservationError", "RunResult", "materialize"]
