"""``DbtTranslator``: the one place that decides how dbt things become Headwater things.

Every choice — an asset's key, group, owners, tags, kinds, code version; a source's
freshness policy; a test's check name and severity — is a method here, so a project that
wants different keys (a prefix, a rename) or different groups subclasses this class and
overrides only that method::

    class MyTranslator(hw.dbt.DbtTranslator):
        def asset_key(self, node):
            return hw.AssetKey(("warehouse", node.name))

    project = hw.dbt.load("analytics", translator=MyTranslator())

The common cases need no subclass: ``DbtTranslator(key_prefix="warehouse")`` prefixes
every key, ``source_key_prefix`` every source's, and ``produced_elsewhere=["shop/orders"]``
says those dbt sources are produced by assets declared elsewhere in the project (a Python
ingest asset), so no source asset is declared for them and the models depend on that asset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey, CoercibleToKey, to_key
from headwater.core.partition_mappings import PartitionMapping
from headwater.core.partitions import PartitionsDefinition
from headwater.integrations.dbt.manifest import DbtExposure, DbtGroup, DbtNode, DbtSource, DbtTest
from headwater.integrations.dbt.partitions import DbtPartitions, as_dbt_partitions


def _prefix(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p for p in value.split("/") if p)
    return tuple(value)


class DbtTranslator:
    """Turns manifest records into keys, specs and checks; subclass to change any one choice."""

    def __init__(self, key_prefix: str | Iterable[str] | None = None,
                 source_key_prefix: str | Iterable[str] | None = None,
                 produced_elsewhere: Iterable[CoercibleToKey] = (),
                 source_assets: Mapping[str, CoercibleToKey] | None = None,
                 link_sources: bool = True,
                 partitions: Mapping[str, PartitionsDefinition | DbtPartitions] | None = None) -> None:
        self.key_prefix = _prefix(key_prefix)
        self.source_key_prefix = _prefix(source_key_prefix)
        self.produced_elsewhere = frozenset(to_key(k) for k in produced_elsewhere)
        self.source_assets = {name: to_key(k) for name, k in (source_assets or {}).items()}
        self.link_sources = link_sources
        # selection -> how the models it selects are partitioned (resolved by the project).
        self.partition_rules = {str(sel): as_dbt_partitions(p, f"DbtTranslator(partitions={{{sel!r}: ...}})")
                                for sel, p in (partitions or {}).items()}

    # -- keys --------------------------------------------------------------------------------

    def asset_key(self, node: DbtNode) -> AssetKey:
        """A model, seed or snapshot's key: its name (``name_v2`` for a versioned model).

        The folder is left out on purpose, so moving a file keeps the asset's history."""
        name = node.name if node.version is None else f"{node.name}_v{node.version}"
        return AssetKey(self.key_prefix + (name,))

    def source_key(self, source: DbtSource) -> AssetKey:
        """A source table's key: ``source_name/table_name``, as ``source('shop', 'orders')`` reads;
        or the key ``source_assets`` maps ``source_name.table_name`` to. A key that is also a
        seed's, model's or snapshot's makes the source that node (see ``source_links.py``)."""
        mapped = self.source_assets.get(f"{source.source_name}.{source.name}")
        if mapped is not None:
            return mapped
        return AssetKey(self.source_key_prefix + (source.source_name, source.name))

    def is_mapped(self, source: DbtSource) -> bool:
        """True when ``source_assets`` names this source's asset explicitly."""
        return f"{source.source_name}.{source.name}" in self.source_assets

    def link_by_relation(self, source: DbtSource) -> bool:
        """Whether a source that reads the very relation a seed, model or snapshot of the project
        writes becomes that asset (``link_sources=False`` turns it off for every source)."""
        return self.link_sources

    def exposure_key(self, exposure: DbtExposure) -> AssetKey:
        """An exposure's key: its name, beside the models (``key_prefix`` applies)."""
        return AssetKey(self.key_prefix + (exposure.name,))

    def is_produced_elsewhere(self, source: DbtSource) -> bool:
        """True when another asset of the project produces this source's table: no source
        asset is declared for it, and the models that read it depend on that asset. A source
        ``source_assets`` maps to a key no dbt node has is produced elsewhere too."""
        return self.is_mapped(source) or self.source_key(source) in self.produced_elsewhere

    # -- asset attributes --------------------------------------------------------------------

    def group(self, node: DbtNode) -> str:
        """The dbt group; else the first folder under the resource's path (``staging``,
        ``marts``); else the resource type (``seeds``, ``snapshots``, ``models``)."""
        if node.group:
            return node.group
        folder, sep, _ = node.path.partition("/")
        return folder if sep and folder else f"{node.resource_type}s"

    def source_group(self, source: DbtSource) -> str:
        return "sources"

    def owners(self, node: DbtNode, group: DbtGroup | None) -> tuple[str, ...]:
        """``meta.owner`` (a string or a list), else the owner of the node's dbt group."""
        return _owners(node.meta) or _group_owner(group)

    def source_owners(self, source: DbtSource) -> tuple[str, ...]:
        return _owners(source.meta)

    def tags(self, node: DbtNode | DbtSource | DbtExposure) -> Mapping[str, str]:
        """dbt tags become valueless Headwater tags, so ``tag:nightly`` selects them."""
        return {t: "" for t in node.tags}

    def kinds(self, node: DbtNode) -> frozenset[str]:
        """``dbt`` plus the materialization (``table``, ``view``, ``incremental``, ``seed``...)."""
        return frozenset(("dbt", node.materialized)) if node.materialized else frozenset(("dbt",))

    def description(self, node: DbtNode | DbtSource | DbtExposure) -> str | None:
        return node.description or None

    def code_version(self, node: DbtNode) -> str | None:
        """The checksum dbt keeps of the node's file: editing the SQL (or the seed's CSV)
        changes it, which makes the asset ``code_changed``-stale."""
        return node.checksum or None

    def metadata(self, node: DbtNode) -> Mapping[str, Any]:
        meta: dict[str, Any] = {"dbt/unique_id": node.unique_id, "dbt/path": node.original_file_path}
        if node.relation_name:
            meta["dbt/relation"] = node.relation_name
        return meta

    def source_metadata(self, source: DbtSource) -> Mapping[str, Any]:
        meta: dict[str, Any] = {"dbt/unique_id": source.unique_id}
        if source.relation_name:
            meta["dbt/relation"] = source.relation_name
        if source.loaded_at_field:
            meta["dbt/loaded_at_field"] = source.loaded_at_field
        return meta

    def freshness(self, source: DbtSource) -> FreshnessPolicy | None:
        """dbt's ``error_after`` is the allowed lag and ``warn_after`` the warning; with only
        ``warn_after``, that is the allowed lag (Headwater has no warn-only policy)."""
        rule = source.freshness
        if rule is None:
            return None
        if rule.error_after is None:
            return FreshnessPolicy.within(rule.warn_after or 0.0)
        warn = rule.warn_after if rule.warn_after is not None and rule.warn_after < rule.error_after else None
        return FreshnessPolicy.within(rule.error_after, warn)

    # -- partitions --------------------------------------------------------------------------

    def partitions(self, node: DbtNode) -> PartitionsDefinition | DbtPartitions | None:
        """How a model is partitioned; None leaves it to the ``partitions`` selections given to
        the constructor (or ``[tool.headwater.dbt.partitions]``). A bare definition gets the
        default var names (``start``, ``end``, ``partition_key``); ``DbtPartitions`` names them."""
        return None

    def partition_mapping(self, node: DbtNode, parent: AssetKey) -> PartitionMapping | None:
        """Which partitions of ``parent`` a partition of ``node`` reads (None: the default, as for
        a Python asset: the same window, the windows it overlaps, or all of them)."""
        return None

    # -- exposures ---------------------------------------------------------------------------

    def exposure_group(self, exposure: DbtExposure) -> str:
        return "exposures"

    def exposure_owners(self, exposure: DbtExposure) -> tuple[str, ...]:
        """``meta.owner``, else the exposure's own owner (email, else name)."""
        owner = exposure.owner_email or exposure.owner_name
        return _owners(exposure.meta) or ((owner,) if owner else ())

    def exposure_kinds(self, exposure: DbtExposure) -> frozenset[str]:
        """``dbt``, ``exposure`` and its type (``dashboard``, ``notebook``, ``ml``...)."""
        return frozenset(("dbt", "exposure", exposure.type))

    def exposure_metadata(self, exposure: DbtExposure) -> Mapping[str, Any]:
        meta: dict[str, Any] = {"dbt/unique_id": exposure.unique_id, "dbt/exposure_type": exposure.type}
        for name, value in (("url", exposure.url), ("maturity", exposure.maturity), ("label", exposure.label)):
            if value:
                meta[f"dbt/{name}"] = value
        return meta

    # -- tests as checks ---------------------------------------------------------------------

    def check_name(self, test: DbtTest) -> str:
        return test.name

    def check_severity(self, test: DbtTest) -> str:
        return test.severity

    def check_blocking(self, test: DbtTest) -> bool:
        """As in ``dbt build``: a failing error-severity test stops what is downstream."""
        return test.severity == "error"

    def check_description(self, test: DbtTest) -> str | None:
        if test.description:
            return test.description
        if test.test_name:
            column = f" on column {test.column_name}" if test.column_name else ""
            return f"dbt test {test.test_name}{column}"
        return f"dbt singular test {test.original_file_path}"


def _owners(meta: Mapping[str, Any]) -> tuple[str, ...]:
    owner = meta.get("owner")
    if isinstance(owner, str) and owner:
        return (owner,)
    if isinstance(owner, list):
        return tuple(o for o in owner if isinstance(o, str) and o)
    return ()


def _group_owner(group: DbtGroup | None) -> tuple[str, ...]:
    if group is None:
        return ()
    owner = group.owner_email or group.owner_name
    return (owner,) if owner else ()

