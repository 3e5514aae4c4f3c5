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
        return tuple(s.key for s in self.specs)

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


def signature_params(fn: Callable[..., Any], ins: Mapping[str, AssetKey]) -> tuple[ParamBinding, ...]:
    bindings = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in ins:
            bindings.append(ParamBinding(p.name, ParamKind.ASSET, ins[p.name], explicit=True))
        elif p.name == CONTEXT_PARAM:
            bindings.append(ParamBinding(p.name, ParamKind.CONTEXT))
        else:
            bindings.append(ParamBinding(p.name, ParamKind.UNRESOLVED))
    return tuple(bindings)


def location_of(fn: Callable[..., Any]) -> SourceLocation | None:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return None
    return SourceLocation(code.co_filename, code.co_firstlineno)
