"""User functions other than steps, run in the process of the location that defines them.

A workspace's daemon evaluates sensors and ``headwater observe`` observes sources with
stand-ins for the user's functions (``definitions/data_codec.RemoteFunction``); a stand-in
bound to a workspace sends the call here, to the location's own interpreter, which holds
the real function (and whatever only its environment can import). Both ends run the same
Headwater, so arguments and results are Headwater's own types, pickled.
"""

from __future__ import annotations

from types import GeneratorType
from typing import Any

from headwater.core.keys import AssetKey
from headwater.errors import HeadwaterError


def run_call(defs: Any, kind: str, target: str, args: tuple[Any, ...]) -> Any:
    """The result of ``kind`` ``target`` called with ``args`` in this location."""
    if kind == "sensor":
        return _sensor(defs, target, args)
    if kind == "observe":
        return _observe(defs, target)
    raise HeadwaterError(f"unknown call kind {kind!r}")


def _sensor(defs: Any, name: str, args: tuple[Any, ...]) -> tuple[Any, str | None, bool]:
    """(what the sensor function returned, the cursor, whether the function set it): the
    caller's context is a copy, so the cursor it set travels back with the result."""
    for sensor in defs.sensors:
        if sensor.name == name:
            result = sensor.fn(*args)
            if isinstance(result, GeneratorType):  # a generator cannot travel: drained here
                result = list(result)
            context = args[0] if args else None
            return result, getattr(context, "cursor", None), bool(getattr(context, "_cursor_updated", False))
    raise HeadwaterError(f"this code location has no sensor named {name!r} (reload the location)")


def _observe(defs: Any, key: str) -> Any:
    """The source's observation as ``hw.Observation`` (the caller records it, as for a local source)."""
    from headwater.definitions.outputs import Observation
    from headwater.execution.observation import observe_source

    source = defs.sources.get(AssetKey.parse(key))
    if source is None or source.observe is None:
        raise HeadwaterError(f"this code location has no observable source {key} (reload the location)")
    observed = observe_source(source, defs.resources, None)
    return Observation(data_version=observed.data_version, data_time=observed.data_time,
                       metadata=dict(observed.metadata))
