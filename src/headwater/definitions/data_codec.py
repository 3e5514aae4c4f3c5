"""Plain JSON-able data from the frozen dataclasses that describe a project, and back.

Definitions travel between processes as data (docs/design.md §5): a code location's own
interpreter encodes them, the UI, the daemon and the status pass decode them without ever
importing the user's code. Only types registered here by name may be encoded or decoded:
a type name, never a class path, so that no data can make a reader import anything.

The encoding is compact on purpose (a field equal to its default is left out): a location
of thousands of assets is decoded by every CLI process that answers from the cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any

from headwater.core.cron import Cron
from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey
from headwater.core.partition_mappings import (
    AllPartitions,
    DimensionMapping,
    IdentityMapping,
    LastPartitions,
    MultiIdentityMapping,
    StaticMapping,
    TimeWindowMapping,
)
from headwater.core.partitions import (
    DynamicPartitions,
    MultiPartitions,
    StaticPartitions,
    TimeWindowPartitions,
)
from headwater.core.specs import RetryPolicy, SourceLocation
from headwater.errors import DefinitionError

# name -> (class, fields to encode, how to build it from decoded fields)
_TYPES: dict[str, tuple[type, tuple[str, ...], Callable[[dict[str, Any]], Any]]] = {}
_NAMES: dict[type, str] = {}
_DEFAULTS: dict[type, dict[str, Any]] = {}


def register_data_types(*classes: type, build: Callable[[dict[str, Any]], Any] | None = None,
                        fields: tuple[str, ...] | None = None) -> None:
    """Allow these frozen dataclasses to travel as data. A layer above this one registers its
    own (automation conditions, schedules, sensors) when it is imported."""
    for cls in classes:
        names = fields or tuple(f.name for f in dataclasses.fields(cls) if f.init)
        defaults = {f.name: f.default for f in dataclasses.fields(cls)
                    if f.init and f.default is not dataclasses.MISSING}
        _TYPES[cls.__name__] = (cls, names, build or (lambda kw, cls=cls: cls(**kw)))
        _NAMES[cls] = cls.__name__
        _DEFAULTS[cls] = defaults


class RemoteFunction:
    """Stands in for a user's function that lives in another interpreter: the graph, status
    and planning never call it; a step that reaches it is sent to its location instead.

    A sensor's or an observe function's stand-in names what it stands for (``target``:
    ``("sensor", name)`` or ``("observe", key)``); a workspace binds ``caller`` to it, and
    calling it then runs the real function in the location's process."""

    def __init__(self, location: str, what: str, runs_in_child_process: bool = False, name: str = "",
                 target: tuple[str, str] | None = None) -> None:
        self.__qualname__ = name or what  # what encode() records, as it would the real function's
        self.location = location
        self.what = what
        self.runs_in_child_process = runs_in_child_process
        self.target = target
        self.caller: Callable[[RemoteFunction, tuple[Any, ...]], Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.caller is not None and self.target is not None and not kwargs:
            return self.caller(self, args)
        from headwater.errors import HeadwaterError

        raise HeadwaterError(f"{self.what} runs in code location {self.location!r}, not in this process")

    def __repr__(self) -> str:
        return f"RemoteFunction({self.location!r}, {self.what!r})"


def encode(value: Any, lenient: bool = False) -> Any:
    """``value`` as JSON-able data; a callable becomes ``{"$fn": name}`` (the function stays home).
    ``lenient`` (for free-form metadata) writes what it cannot describe as its text."""
    if value is None or type(value) in (str, bool, int, float):
        return value
    if type(value) is AssetKey:
        return {"$k": list(value.path)}
    if isinstance(value, (tuple, list)):
        return [encode(v, lenient) for v in value]
    if isinstance(value, (frozenset, set)):
        return {"$s": sorted((encode(v, lenient) for v in value), key=repr)}
    if isinstance(value, (Mapping, MappingProxyType)):
        return {"$m": [[encode(k, lenient), encode(v, lenient)] for k, v in value.items()]}
    if isinstance(value, Enum):
        return encode(value.value, lenient)
    name = _NAMES.get(type(value))
    if name is not None:
        _cls, names, _build = _TYPES[name]
        defaults = _DEFAULTS[type(value)]
        out: dict[str, Any] = {"$t": name}
        for f in names:
            v = getattr(value, f)
            if f in defaults and _same(v, defaults[f]):
                continue
            out[f] = encode(v, lenient)
        return out
    if callable(value):
        return {"$fn": getattr(value, "__qualname__", None) or type(value).__name__}
    if lenient:
        return str(value)
    raise DefinitionError(f"cannot describe {type(value).__name__} {value!r} as data: only plain values and "
                          "Headwater's own definition types travel between code locations")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - an odd __eq__ just means "encode it"
        return False


def decode(data: Any, function: Callable[[str], Any] | None = None) -> Any:
    """The value ``encode`` described; ``function(name)`` stands in for each function (None by default)."""
    if data is None or type(data) in (str, bool, int, float):
        return data
    if type(data) is list:
        return tuple(decode(v, function) for v in data)
    if type(data) is dict:
        if "$k" in data:
            return AssetKey(tuple(data["$k"]))
        if "$t" in data:
            entry = _TYPES.get(data["$t"])
            if entry is None:
                raise DefinitionError(f"definitions data names an unknown type {data['$t']!r} (written by a newer "
                                      "Headwater, or by a layer not loaded here)")
            _cls, _names, build = entry
            return build({k: decode(v, function) for k, v in data.items() if k != "$t"})
        if "$m" in data:
            return {decode(k, function): decode(v, function) for k, v in data["$m"]}
        if "$s" in data:
            return frozenset(decode(v, function) for v in data["$s"])
        if "$fn" in data:
            return function(data["$fn"]) if function is not None else None
    raise DefinitionError(f"not definitions data: {str(data)[:80]!r}")


register_data_types(Cron, FreshnessPolicy, RetryPolicy, SourceLocation, TimeWindowPartitions, DynamicPartitions,
                    IdentityMapping, TimeWindowMapping, AllPartitions, LastPartitions, DimensionMapping,
                    MultiIdentityMapping)
register_data_types(StaticPartitions, fields=("keys_",), build=lambda kw: StaticPartitions(kw["keys_"]))
register_data_types(StaticMapping, fields=("mapping",), build=lambda kw: StaticMapping(dict(kw["mapping"])))
register_data_types(MultiPartitions, fields=("dims",), build=lambda kw: MultiPartitions(dict(kw["dims"])))
