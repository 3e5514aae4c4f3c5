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
from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec
from headwater.definitions.assets import AssetsDefinition, ParamBinding, ParamKind, SourceDefinition
from headwater.errors import DefinitionError, DuplicateKeyError, UnknownKeyError


class Definitions:
    """The project: assets, sources and resources (later: checks, schedules, sensors)."""

    def __init__(
        self,
        assets: Iterable[AssetsDefinition | SourceDefinition] = (),
        resources: Mapping[str, Any] | None = None,
        value_store: Any = None,
    ) -> None:
        self.resources: dict[str, Any] = dict(resources or {})
        self.value_store = value_store
        items = list(assets)
        for item in items:
            if not isinstance(item, (AssetsDefinition, SourceDefinition)):
                raise DefinitionError(
                    f"Definitions(assets=...) got {item!r}: expected functions decorated with @asset / "
                    "@multi_asset, or source_asset(...)")
        self.sources: dict[AssetKey, SourceDefinition] = {}
        raw: list[AssetsDefinition] = []
        seen: dict[AssetKey, str] = {}
        for item in items:
            keys = item.keys if isinstance(item, AssetsDefinition) else (item.key,)
            specs = item.specs if isinstance(item, AssetsDefinition) else (item.spec,)
            for key, spec in zip(keys, specs):
                if key in seen:
                    raise DuplicateKeyError(str(key), [seen[key], spec.where])
                seen[key] = spec.where
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
        step_names: dict[str, str] = {}
        for d in raw:
            resolved = self._resolve(d, known, by_name)
            if resolved.step_key in step_names:
                raise DefinitionError(
                    f"two multi-assets are both named {resolved.step_key!r} "
                    f"({step_names[resolved.step_key]} and {resolved.specs[0].where}); pass name= to one")
            step_names[resolved.step_key] = resolved.specs[0].where
            self.assets_defs.append(resolved)
            self._by_step[resolved.step_key] = resolved
            for key in resolved.keys:
                self._by_key[key] = resolved
        for key, src in list(self.sources.items()):
            self.sources[key] = replace(src, params=self._resolve_params(
                str(key), src.params, known, by_name, (), allow_assets=False))

        specs: list[AssetSpec] = [s.spec for s in self.sources.values()]
        for d in self.assets_defs:
            specs.extend(d.specs)
        self.graph = AssetGraph(specs)

    # -- resolution ------------------------------------------------------------------------

    def _resolve(self, d: AssetsDefinition, known: set[AssetKey],
                 by_name: dict[str, list[AssetKey]]) -> AssetsDefinition:
        owner = str(d.specs[0].key) if not d.is_multi else d.name
        params = self._resolve_params(owner, d.params, known, by_name, d.specs[0].key.prefix)
        value_deps = tuple(p.key for p in params if p.kind is ParamKind.ASSET and p.key is not None)
        own = set(d.keys)
        for p in params:
            if p.key in own:
                raise DefinitionError(f"asset {owner!r}: parameter {p.name!r} refers to the asset itself")
        specs = tuple(
            replace(s, deps=tuple(dict.fromkeys(value_deps + s.deps))) if value_deps else s for s in d.specs
        )
        return replace(d, specs=specs, params=params,
                       resource_keys=frozenset(p.name for p in params if p.kind is ParamKind.RESOURCE))

    def _resolve_params(self, owner: str, params: tuple[ParamBinding, ...], known: set[AssetKey],
                        by_name: dict[str, list[AssetKey]], prefix: tuple[str, ...],
                        allow_assets: bool = True) -> tuple[ParamBinding, ...]:
        out = []
        for p in params:
            if p.kind is ParamKind.CONTEXT:
                out.append(p)
                continue
            if p.kind is ParamKind.ASSET:
                if p.key not in known:
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
            key = _match_key(p.name, prefix, known, by_name, owner)
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
