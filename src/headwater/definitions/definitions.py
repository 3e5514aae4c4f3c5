"""``Definitions``: everything a project declares, validated as a whole.

Construction resolves every function parameter to an upstream asset, a resource or the
context, fills in the specs' dependencies, and builds the ``AssetGraph`` — so unknown
keys, duplicates and cycles surface here, at load time, naming the culprit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from headwater.core.asset_graph import AssetGraph
from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec, CheckSpec
from headwater.definitions.assets import AssetsDefinition, ParamBinding, ParamKind, SourceDefinition
from headwater.definitions.checks import CheckDefinition
from headwater.definitions.external_deps import external_deps_allowed
from headwater.definitions.flatten import flatten_assets, flatten_checks
from headwater.errors import DefinitionError, DuplicateKeyError, UnknownKeyError


class Definitions:
    """The project: assets, sources, checks, resources and freshness policies.

    ``assets`` takes asset definitions, a loaded project (``hw.dbt.load(...)``, whose checks
    come along), or any nesting of lists and generators of these; ``checks`` likewise.

    A freshness policy applies to an asset from its own ``freshness=``, else from
    ``group_freshness[group]``, else from ``default_freshness`` (sources included).
    """

    def __init__(
        self,
        assets: Iterable[Any] | Any = (),
        resources: Mapping[str, Any] | None = None,
        value_store: Any = None,
        checks: Iterable[Any] | Any = (),
        group_freshness: Mapping[str, FreshnessPolicy] | None = None,
        default_freshness: FreshnessPolicy | None = None,
        alerts: Iterable[Any] = (),
        schedules: Iterable[Any] = (),
        sensors: Iterable[Any] = (),
        max_concurrent_runs: int | None = None,
        concurrency_limits: Mapping[str, int] | None = None,
        step_timeout: float | None = None,
    ) -> None:
        # Alert rules, schedules and sensors belong to layers above this one, which validate
        # them when they load the project (automation.validate_project).
        assets, bundled = flatten_assets(assets)
        checks = [*flatten_checks(checks), *bundled]
        checks = list({id(c): c for c in checks}.values())  # a project's checks passed twice count once
        alerts, schedules, sensors = tuple(alerts), tuple(schedules), tuple(sensors)
        # As given, so that ``extended`` can build the same project with more in it.
        self._given_assets, self._given_checks = assets, checks
        self._given: dict[str, Any] = dict(
            resources=resources, value_store=value_store, group_freshness=group_freshness,
            default_freshness=default_freshness, alerts=alerts, schedules=schedules, sensors=sensors,
            max_concurrent_runs=max_concurrent_runs, concurrency_limits=concurrency_limits,
            step_timeout=step_timeout)
        self.alerts: tuple[Any, ...] = tuple(alerts)
        self.schedules: tuple[Any, ...] = tuple(schedules)
        self.sensors: tuple[Any, ...] = tuple(sensors)
        if max_concurrent_runs is not None and max_concurrent_runs < 1:
            raise DefinitionError("max_concurrent_runs must be at least 1")
        self.max_concurrent_runs = max_concurrent_runs
        self.concurrency_limits: dict[str, int] = dict(concurrency_limits or {})
        for sel, limit in self.concurrency_limits.items():
            if not isinstance(limit, int) or limit < 1:
                raise DefinitionError(f"concurrency limit for {sel!r} must be a positive integer, not {limit!r}")
        self.resources: dict[str, Any] = dict(resources or {})
        self.group_freshness = dict(group_freshness or {})
        self.default_freshness = default_freshness
        for name, policy in [*self.group_freshness.items(), ("default", default_freshness)]:
            if policy is not None and not isinstance(policy, FreshnessPolicy):
                raise DefinitionError(f"freshness policy for {name!r} must be a FreshnessPolicy, got {policy!r}")
        self.value_store = value_store
        if step_timeout is not None and not (isinstance(step_timeout, (int, float)) and step_timeout > 0):
            raise DefinitionError(f"step_timeout must be a positive number of seconds, not {step_timeout!r}")
        # Seconds a step may run when its asset sets no timeout; the loader fills it from
        # ``[tool.headwater] step_timeout`` when the project does not set it here.
        self.step_timeout: float | None = float(step_timeout) if step_timeout is not None else None
        items = assets
        self.sources: dict[AssetKey, SourceDefinition] = {}
        raw: list[AssetsDefinition] = []
        seen: dict[AssetKey, AssetSpec] = {}  # where each key was declared, named only on a clash
        for item in items:
            specs = item.specs if isinstance(item, AssetsDefinition) else (item.spec,)
            for spec in specs:
                key = spec.key
                if key in seen:
                    raise DuplicateKeyError(str(key), [seen[key].where, spec.where])
                seen[key] = spec
            if isinstance(item, SourceDefinition):
                self.sources[item.key] = item
            else:
                raw.append(item)
        known = set(seen)
        by_name: dict[str, list[AssetKey]] = {}
        for key in known:
            by_name.setdefault(key.name, []).append(key)

        self._by_key: dict[AssetKey, AssetsDefinition] = {}
        self._by_step: dict[str, AssetsDefinition] = {}
        self.assets_defs: list[AssetsDefinition] = []
        step_names: dict[str, AssetSpec] = {}
        for d in raw:
            resolved = self._resolve(d, known, by_name)
            step_key = resolved.step_key  # a property: read once, not four times per asset
            if step_key in step_names:
                raise DefinitionError(
                    f"two multi-assets are both named {step_key!r} "
                    f"({step_names[step_key].where} and {resolved.specs[0].where}); pass name= to one")
            step_names[step_key] = resolved.specs[0]
            self.assets_defs.append(resolved)
            self._by_step[step_key] = resolved
            for spec in resolved.specs:
                self._by_key[spec.key] = resolved
        for key, src in list(self.sources.items()):
            self.sources[key] = replace(src, params=self._resolve_params(
                str(key), src.params, known, by_name, (), allow_assets=False))

        for key, src in list(self.sources.items()):
            self.sources[key] = replace(src, spec=self._with_freshness(src.spec))
        if self.group_freshness or self.default_freshness is not None:  # else no spec changes
            self.assets_defs = [replace(d, specs=tuple(self._with_freshness(s) for s in d.specs))
                                for d in self.assets_defs]
            for d in self.assets_defs:
                self._by_step[d.step_key] = d
                for key in d.keys:
                    self._by_key[key] = d
        specs: list[AssetSpec] = [s.spec for s in self.sources.values()]
        for d in self.assets_defs:
            specs.extend(d.specs)
        # Keys another code location defines (only while a workspace location loads alone).
        self.external_keys: frozenset[AssetKey] = frozenset()
        if external_deps_allowed():
            self.external_keys = frozenset(dep for s in specs for dep in s.deps if dep not in known)
            specs.extend(AssetSpec(key, is_source=True, group="external") for key in sorted(self.external_keys, key=str))
        self.graph = AssetGraph(specs)
        unknown_groups = set(self.group_freshness) - set(self.graph.groups())
        if unknown_groups:
            raise DefinitionError(f"group_freshness names unknown group(s): {', '.join(sorted(unknown_groups))}")
        self.checks: dict[AssetKey, tuple[CheckDefinition, ...]] = self._checks(checks)

    def _with_freshness(self, spec: AssetSpec) -> AssetSpec:
        if spec.freshness is not None:
            return spec
        policy = self.group_freshness.get(spec.group, self.default_freshness)
        return replace(spec, freshness=policy) if policy is not None else spec

    def _checks(self, checks: Iterable[CheckDefinition]) -> dict[AssetKey, tuple[CheckDefinition, ...]]:
        out: dict[AssetKey, list[CheckDefinition]] = {}
        for c in checks:
            if not isinstance(c, CheckDefinition):
                raise DefinitionError(f"Definitions(checks=...) got {c!r}: expected functions decorated with @check")
            if c.asset not in self.graph:
                raise UnknownKeyError(str(c.asset), f"check {c.name}", "checks must target a defined asset")
            if any(o.name == c.name for o in out.get(c.asset, [])):
                raise DefinitionError(f"asset {c.asset} has two checks named {c.name!r}")
            for p in c.resource_params:
                if p not in self.resources:
                    raise DefinitionError(
                        f"check {c.name} on {c.asset}: parameter {p!r} is not the asset's value ({c.asset.name!r} "
                        f"or 'value'), 'context' or a resource")
            out.setdefault(c.asset, []).append(c)
        return {k: tuple(v) for k, v in out.items()}

    def extended(self, assets: Iterable[AssetsDefinition | SourceDefinition] = (),
                 checks: Iterable[CheckDefinition] = ()) -> Definitions:
        """The same project with more assets and checks (e.g. a dbt project configured in
        pyproject.toml), validated as a whole again: their keys may meet this project's."""
        return Definitions(assets=[*self._given_assets, *assets], checks=[*self._given_checks, *checks],
                           **self._given)

    @property
    def check_specs(self) -> list[CheckSpec]:
        return [c.spec for cs in self.checks.values() for c in cs]

    def checks_for(self, key: AssetKey) -> tuple[CheckDefinition, ...]:
        return self.checks.get(key, ())

    # -- resolution ------------------------------------------------------------------------

    def _resolve(self, d: AssetsDefinition, known: set[AssetKey],
                 by_name: dict[str, list[AssetKey]]) -> AssetsDefinition:
        if not d.params and not d.resource_keys:
            return d  # no parameters: nothing to resolve (what the general case returns too)
        owner = str(d.specs[0].key) if not d.is_multi else d.name
        params = self._resolve_params(owner, d.params, known, by_name, d.specs[0].key.prefix)
        value_deps = tuple(p.key for p in params if p.kind is ParamKind.ASSET and p.key is not None)
        own = set(d.keys)
        for p in params:
            if p.key in own:
                raise DefinitionError(f"asset {owner!r}: parameter {p.name!r} refers to the asset itself")
        specs = tuple(
            replace(s, deps=tuple(dict.fromkeys(value_deps + s.deps))) if value_deps else s for s in d.specs
        ) if value_deps else d.specs
        resource_keys = frozenset(p.name for p in params if p.kind is ParamKind.RESOURCE)
        if specs is d.specs and params == d.params and resource_keys == d.resource_keys:
            return d  # nothing to resolve (no parameters): a copy would cost a tenth of loading
        return replace(d, specs=specs, params=params, resource_keys=resource_keys)

    def _resolve_params(self, owner: str, params: tuple[ParamBinding, ...], known: set[AssetKey],
                        by_name: dict[str, list[AssetKey]], prefix: tuple[str, ...],
                        allow_assets: bool = True) -> tuple[ParamBinding, ...]:
        out = []
        for p in params:
            if p.kind is ParamKind.CONTEXT:
                out.append(p)
                continue
            if p.kind is ParamKind.ASSET:
                if p.key not in known and not external_deps_allowed():
                    raise UnknownKeyError(str(p.key), owner, f"named by ins= for parameter {p.name!r}")
                out.append(p)
                continue
            if p.name in self.resources:
                out.append(ParamBinding(p.name, ParamKind.RESOURCE))
                continue
            if not allow_assets:
                raise DefinitionError(
                    f"observe function of {owner!r}: parameter {p.name!r} is neither 'context' nor a resource "
                    f"(resources: {', '.join(sorted(self.resources)) or 'none'})")
            try:
                key = _match_key(p.name, prefix, known, by_name, owner)
            except UnknownKeyError:
                if not external_deps_allowed():
                    raise
                key = AssetKey((p.name,))  # an asset of another location: the workspace checks it
            if key in self.sources:
                raise DefinitionError(
                    f"asset {owner!r}: parameter {p.name!r} names source asset {key}, whose value Headwater does "
                    f"not store; declare it with deps=[{str(key)!r}] and read the data yourself")
            out.append(ParamBinding(p.name, ParamKind.ASSET, key))
        return tuple(out)

    # -- lookups ---------------------------------------------------------------------------

    def definition_for(self, key: AssetKey) -> AssetsDefinition:
        return self._by_key[key]

    def definition_for_step(self, step_key: str) -> AssetsDefinition:
        return self._by_step[step_key]

    def source_for(self, key: AssetKey) -> SourceDefinition | None:
        return self.sources.get(key)

    def step_key_for(self, key: AssetKey) -> str:
        return self._by_key[key].step_key

    def __len__(self) -> int:
        return len(self.graph)


def _match_key(name: str, prefix: tuple[str, ...], known: set[AssetKey],
               by_name: dict[str, list[AssetKey]], owner: str) -> AssetKey:
    """A parameter names an asset by exact key, by the owner's own prefix, or by a unique last component."""
    try:
        exact = AssetKey((name,))
    except DefinitionError:
        exact = None
    if exact is not None and exact in known:
        return exact
    if prefix:
        candidate = AssetKey(prefix + (name,))
        if candidate in known:
            return candidate
    same = by_name.get(name, [])
    if len(same) == 1:
        return same[0]
    if len(same) > 1:
        options = ", ".join(sorted(str(k) for k in same))
        raise DefinitionError(
            f"asset {owner!r}: parameter {name!r} could mean any of {options}; map it with ins={{{name!r}: KEY}}")
    raise UnknownKeyError(name, owner, "a parameter must name an upstream asset, a resource or 'context'")
