"""The authoring API: ``@asset``, ``@multi_asset`` and ``source_asset``.

Decorators validate what can be validated locally (key syntax, policy values) so a
mistake is reported at the line that made it; graph-wide checks happen in
``Definitions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey, CoercibleToKey, to_key
from headwater.core.partition_mappings import PartitionMapping
from headwater.core.partitions import PartitionsDefinition
from headwater.core.specs import DEFAULT_GROUP, AssetSpec, RetryPolicy, SourceLocation, asset_spec
from headwater.definitions.assets import (
    AssetsDefinition,
    ParamBinding,
    SourceDefinition,
    location_of,
    one_asset,
    signature_params,
)
from headwater.errors import DefinitionError


def _prefix(key_prefix: str | Sequence[str] | None) -> tuple[str, ...]:
    if key_prefix is None:
        return ()
    if isinstance(key_prefix, str):
        return to_key(key_prefix).path
    return tuple(key_prefix)


@dataclass(frozen=True, slots=True)
class Dep:
    """An upstream asset with how this asset reads its partitions:
    ``hw.Dep("events", mapping=hw.TimeWindowMapping(start_offset=-6))``."""

    key: CoercibleToKey
    mapping: PartitionMapping | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", to_key(self.key))
        if self.mapping is not None and not isinstance(self.mapping, PartitionMapping):
            raise DefinitionError(f"Dep({str(self.key)!r}): mapping must be a partition mapping such as "
                                  f"hw.TimeWindowMapping(...), not {type(self.mapping).__name__}")


def _dep_key(d: CoercibleToKey | Dep) -> AssetKey:
    return d.key if isinstance(d, Dep) else to_key(d)  # type: ignore[return-value]


def _mappings(*groups: Iterable[CoercibleToKey | Dep]) -> dict[AssetKey, PartitionMapping]:
    return {d.key: d.mapping for g in groups for d in g  # type: ignore[misc]
            if isinstance(d, Dep) and d.mapping is not None}


def _ins(ins: Mapping[str, CoercibleToKey | Dep] | None) -> dict[str, AssetKey]:
    return {name: _dep_key(k) for name, k in (ins or {}).items()}


@overload
def asset(fn: Callable[..., Any], /) -> AssetsDefinition: ...
@overload
def asset(*, key: CoercibleToKey | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], AssetsDefinition]: ...


def asset(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    key: CoercibleToKey | None = None,
    key_prefix: str | Sequence[str] | None = None,
    deps: Iterable[CoercibleToKey | Dep] = (),
    ins: Mapping[str, CoercibleToKey | Dep] | None = None,
    group: str | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Iterable[str] = (),
    kinds: Iterable[str] = (),
    description: str | None = None,
    code_version: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
    freshness: FreshnessPolicy | None = None,
    automation: Any = None,
    partitions: PartitionsDefinition | None = None,
    max_partitions_per_run: int | None = 1,
    backfill_policy: str | None = None,
    executor_tags: Mapping[str, str] | None = None,
) -> Any:
    """Declare an asset produced by the decorated function.

    Parameters named after assets receive their values (``ins`` maps a parameter to a key
    explicitly); parameters named after resources receive the resource; ``context`` gets
    the run context. ``deps`` are upstream assets whose value is not passed in.
    ``partitions`` makes it built a slice at a time (``context.partition_key``); a step builds
    ``max_partitions_per_run`` partitions (``backfill_policy="single_run"``: any range, one step).
    """
    if backfill_policy not in (None, "single_run", "multi_run"):
        raise DefinitionError(f"backfill_policy must be 'single_run' or 'multi_run', not {backfill_policy!r}")
    per_run = None if backfill_policy == "single_run" else max_partitions_per_run
    deps = tuple(deps)

    def wrap(f: Callable[..., Any]) -> AssetsDefinition:
        asset_key = to_key(key) if key is not None else AssetKey((f.__name__,))
        asset_key = asset_key.with_prefix(_prefix(key_prefix)) if key_prefix else asset_key
        if tags is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise DefinitionError(f"asset {asset_key}: tags must map strings to strings")
        if executor_tags is not None and not all(isinstance(k, str) and isinstance(v, (str, int, float))
                                                 for k, v in executor_tags.items()):
            raise DefinitionError(f"asset {asset_key}: executor_tags must map strings to strings or numbers")
        spec = asset_spec(  # AssetSpec(key=..., ...) in the order of its fields, built faster: see there
            asset_key,
            tuple([_dep_key(d) for d in deps]),
            group or DEFAULT_GROUP,
            tags or {},
            tuple(owners),
            frozenset(kinds),
            description if description is not None else _doc(f),
            code_version,
            metadata or {},
            retry,
            timeout,
            location_of(f),
            freshness,
            automation,
            partitions,
            _mappings(deps, (ins or {}).values()),
            per_run,
            {k: str(v) for k, v in (executor_tags or {}).items()},
        )
        return one_asset(f.__name__, spec, f, signature_params(f, _ins(ins)))

    return wrap(fn) if fn is not None else wrap


def multi_asset(
    *,
    specs: Sequence[AssetSpec],
    name: str | None = None,
    ins: Mapping[str, CoercibleToKey] | None = None,
    can_subset: bool = False,
    group: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
    partitions: PartitionsDefinition | None = None,
    executor_tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """One function producing several assets (e.g. one dbt invocation building many models).

    The function returns a mapping ``{key: value}``, or returns/yields ``Output`` /
    ``MaterializeResult`` objects naming their key; yielded results are recorded as they
    arrive, so a long step reports each asset the moment it is done. With ``can_subset``
    the function is told ``context.selected_keys`` and may produce only those.
    """
    if not specs:
        raise DefinitionError("multi_asset needs at least one AssetSpec")

    def wrap(f: Callable[..., Any]) -> AssetsDefinition:
        loc = location_of(f)
        fixed = []
        for s in specs:
            if not isinstance(s, AssetSpec):
                raise DefinitionError(f"multi_asset {f.__name__}: specs must be AssetSpec objects, got {s!r}")
            changes: dict[str, Any] = {"location": s.location or loc}
            if group and s.group == DEFAULT_GROUP:
                changes["group"] = group
            if retry and s.retry is None:
                changes["retry"] = retry
            if timeout and s.timeout is None:
                changes["timeout"] = timeout
            if partitions is not None and s.partitions is None:
                changes["partitions"] = partitions
            if executor_tags and not s.executor_tags:
                changes["executor_tags"] = {k: str(v) for k, v in executor_tags.items()}
            fixed.append(_replace(s, **changes))
        return AssetsDefinition(
            name=name or f.__name__, specs=tuple(fixed), fn=f, params=signature_params(f, _ins(ins)),
            is_multi=True, can_subset=can_subset,
        )

    return wrap


def source_asset(
    key: CoercibleToKey,
    *,
    observe: Callable[..., Any] | None = None,
    group: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Iterable[str] = (),
    kinds: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    freshness: FreshnessPolicy | None = None,
    observe_interval: float | None = None,
) -> SourceDefinition:
    """Declare data Headwater does not produce (a landed file, a raw table).

    ``observe``, when given, returns an ``Observation`` (data version, data time) or a
    plain data version string; it may take ``context`` and resources like an asset.
    """
    spec = AssetSpec(
        key=to_key(key), group=group or DEFAULT_GROUP, description=description, tags=tags or {},
        owners=tuple(owners), kinds=frozenset(kinds), metadata=metadata or {}, is_source=True,
        location=location_of(observe) if _users(observe) else _caller_location(),
        freshness=freshness,
        observe_interval=observe_interval,
    )
    if observe_interval is not None and (observe is None or observe_interval <= 0):
        raise DefinitionError(f"source asset {spec.key}: observe_interval needs an observe function and a "
                              "positive number of seconds")
    params: tuple[ParamBinding, ...] = signature_params(observe, {}) if observe else ()
    return SourceDefinition(spec=spec, observe=observe, params=params)


def _users(fn: Callable[..., Any] | None) -> bool:
    """A built-in observer's code lives in Headwater; the user's line is where it was declared."""
    return fn is not None and not (getattr(fn, "__module__", "") or "").startswith("headwater.")


def _doc(f: Callable[..., Any]) -> str | None:
    doc = (f.__doc__ or "").strip()
    return doc or None


def _replace(spec: AssetSpec, **changes: Any) -> AssetSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def _caller_location() -> SourceLocation | None:
    import sys

    frame = sys._getframe(2)
    return SourceLocation(frame.f_code.co_filename, frame.f_lineno) if frame else None
