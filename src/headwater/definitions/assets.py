"""An asset definition: specs (data) plus the function that produces them.

The decorator records parameter names only; which parameter is an upstream asset, a
resource or the context is decided when ``Definitions`` sees the whole project, because
only then are all keys and resources known.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import FunctionType
from typing import Any

from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec, SourceLocation

CONTEXT_PARAM = "context"


class ParamKind(StrEnum):
    ASSET = "asset"
    RESOURCE = "resource"
    CONTEXT = "context"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class ParamBinding:
    name: str
    kind: ParamKind
    key: AssetKey | None = None  # for ASSET
    explicit: bool = False       # named through ``ins=``: must be an asset


@dataclass(frozen=True, slots=True)
class AssetsDefinition:
    """One function producing one asset (``@asset``) or several (``@multi_asset``)."""

    name: str
    specs: tuple[AssetSpec, ...]
    fn: Callable[..., Any] | None
    params: tuple[ParamBinding, ...] = ()
    is_multi: bool = False
    can_subset: bool = False
    resource_keys: frozenset[str] = frozenset()

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        return tuple([s.key for s in self.specs])

    @property
    def step_key(self) -> str:
        """How the planner names this definition's step: the key, or the function for a multi-asset."""
        return str(self.specs[0].key) if not self.is_multi else self.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly, e.g. in a unit test."""
        if self.fn is None:
            raise TypeError(f"{self.name} has no function to call")
        return self.fn(*args, **kwargs)


@dataclass(frozen=True, slots=True)
class SourceDefinition:
    """An asset produced elsewhere; ``observe`` reports its current version and data time."""

    spec: AssetSpec
    observe: Callable[..., Any] | None = None
    params: tuple[ParamBinding, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> AssetKey:
        return self.spec.key


def parameter_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names ``fn`` takes, positional and keyword, without ``*args`` and ``**kwargs``.

    A plain function's are read off its code object: ``inspect.signature`` costs ~25 us a
    call, which was a third of loading 10,000 assets with two checks each. Anything else
    (a partial, a callable object, a function wrapped with ``functools.wraps`` or given a
    ``__signature__``) goes through ``inspect.signature``, which knows how to see through it."""
    if type(fn) is FunctionType and not hasattr(fn, "__wrapped__") and not hasattr(fn, "__signature__"):
        code = fn.__code__
        return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    return tuple(p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def signature_params(fn: Callable[..., Any], ins: Mapping[str, AssetKey]) -> tuple[ParamBinding, ...]:
    bindings = []
    for name in parameter_names(fn):
        if name in ins:
            bindings.append(ParamBinding(name, ParamKind.ASSET, ins[name], explicit=True))
        elif name == CONTEXT_PARAM:
            bindings.append(ParamBinding(name, ParamKind.CONTEXT))
        else:
            bindings.append(ParamBinding(name, ParamKind.UNRESOLVED))
    return tuple(bindings)


def location_of(fn: Callable[..., Any]) -> SourceLocation | None:
    code = getattr(inspect.unwrap(fn) if hasattr(fn, "__wrapped__") else fn, "__code__", None)
    if code is None:
        return None
    location = _new(SourceLocation)  # SourceLocation(file, line), see ``one_asset``
    _SET_FILE(location, code.co_filename)
    _SET_LINE(location, code.co_firstlineno)
    return location


# Built through the slots' own setters: a frozen dataclass's ``__init__`` looks each attribute
# up by name (``object.__setattr__``), three times the cost, and ``@asset`` makes one of each
# per asset (10,000 in a big project, every time a command loads it).
if (tuple(AssetsDefinition.__dataclass_fields__) != ("name", "specs", "fn", "params", "is_multi", "can_subset",
                                                      "resource_keys")
        or tuple(SourceLocation.__dataclass_fields__) != ("file", "line")):  # pragma: no cover
    raise ImportError("AssetsDefinition's or SourceLocation's fields changed: update definitions.assets")
_new = object.__new__
_SET_NAME, _SET_SPECS, _SET_FN, _SET_PARAMS, _SET_MULTI, _SET_SUBSET, _SET_RESOURCES = (
    AssetsDefinition.__dict__[name].__set__ for name in AssetsDefinition.__dataclass_fields__)
_SET_FILE, _SET_LINE = (SourceLocation.__dict__[name].__set__ for name in ("file", "line"))
_NO_RESOURCES: frozenset[str] = frozenset()


def one_asset(name: str, spec: AssetSpec, fn: Callable[..., Any], params: tuple[ParamBinding, ...]
              ) -> AssetsDefinition:
    """``AssetsDefinition(name=name, specs=(spec,), fn=fn, params=params)``."""
    d = _new(AssetsDefinition)
    _SET_NAME(d, name)
    _SET_SPECS(d, (spec,))
    _SET_FN(d, fn)
    _SET_PARAMS(d, params)
    _SET_MULTI(d, False)
    _SET_SUBSET(d, False)
    _SET_RESOURCES(d, _NO_RESOURCES)
    return d
