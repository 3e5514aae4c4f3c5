"""``[tool.headwater.dbt]``: a dbt project as definitions, configured in pyproject.toml.

An analytics engineer whose project is only dbt should not have to write Python to get it
orchestrated::

    [tool.headwater.dbt]
    project_dir = "analytics"            # the folder holding dbt_project.yml (relative to pyproject.toml)
    profiles_dir = "analytics"           # optional; as hw.dbt.load
    target = "dev"                       # optional

The other keys are those of ``hw.dbt.load`` (``target_path``, ``parse``, ``name``, ``vars``)
and of ``DbtTranslator`` (``key_prefix``, ``source_key_prefix``, ``produced_elsewhere``,
``link_sources``, ``source_assets``: a table from ``source_name.table`` to the asset key
that produces it, e.g. ``source_assets = { "ecom.raw_orders" = "raw_orders" }``, and
``partitions``: a table from a selection to how its models are partitioned, e.g.
``partitions = { fct_events = { daily = "2026-01-01" } }``, see ``partitions.py``).
Several projects: ``[[tool.headwater.dbt]]`` tables. With ``file``/``module`` in
``[tool.headwater]`` as well, the module's assets join the dbt project's (see
``definitions/loader.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headwater.errors import DefinitionError, KeySyntaxError
from headwater.integrations.dbt.partitions import from_config
from headwater.integrations.dbt.project import DbtProject, load
from headwater.integrations.dbt.translator import DbtTranslator

_TEXT = ("project_dir", "profiles_dir", "target", "target_path", "parse", "name")
_PREFIXES = ("key_prefix", "source_key_prefix")
_KNOWN = (*_TEXT, "vars", *_PREFIXES, "produced_elsewhere", "source_assets", "link_sources", "partitions")


def load_from_config(table: Any, base_dir: Path, where: str) -> list[DbtProject]:
    """The dbt project(s) a ``[tool.headwater.dbt]`` table (or array of tables) names."""
    tables = table if isinstance(table, list) else [table]
    projects = []
    for i, t in enumerate(tables):
        here = f"{where} (table {i + 1})" if isinstance(table, list) else where
        projects.append(_one(t, base_dir, here))
    return projects


def _one(table: Any, base_dir: Path, where: str) -> DbtProject:
    if not isinstance(table, Mapping):
        raise DefinitionError(f"{where} must be a table of settings, not {type(table).__name__}")
    unknown = sorted(set(table) - set(_KNOWN))
    if unknown:
        raise DefinitionError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_KNOWN)})")
    for key in _TEXT:
        if key in table and not isinstance(table[key], str):
            raise DefinitionError(f"{where}: {key} must be a string, not {table[key]!r}")
    if "project_dir" not in table:
        raise DefinitionError(f"{where} needs project_dir = \"...\" (the folder holding dbt_project.yml)")
    if "vars" in table and not isinstance(table["vars"], Mapping):
        raise DefinitionError(f"{where}: vars must be a table, not {table['vars']!r}")
    for key in _PREFIXES:
        value = table.get(key)
        if value is not None and not isinstance(value, str) and not (
                isinstance(value, list) and all(isinstance(p, str) for p in value)):
            raise DefinitionError(f"{where}: {key} must be a string or a list of strings, not {value!r}")
    elsewhere = table.get("produced_elsewhere", [])
    if not isinstance(elsewhere, list) or not all(isinstance(k, str) for k in elsewhere):
        raise DefinitionError(f"{where}: produced_elsewhere must be a list of asset keys, not {elsewhere!r}")
    mapping = table.get("source_assets", {})
    if not isinstance(mapping, Mapping) or not all(isinstance(v, str) for v in mapping.values()):
        raise DefinitionError(f"{where}: source_assets must be a table of \"source.table\" = \"asset key\", "
                              f"not {mapping!r}")
    bad = [name for name in mapping if name.count(".") != 1]
    if bad:
        raise DefinitionError(f"{where}: source_assets key {bad[0]!r} must be source_name.table_name")
    link = table.get("link_sources", True)
    if not isinstance(link, bool):
        raise DefinitionError(f"{where}: link_sources must be true or false, not {link!r}")
    partitions = from_config(table["partitions"], where) if "partitions" in table else None
    try:
        translator = DbtTranslator(key_prefix=table.get("key_prefix"), source_key_prefix=table.get("source_key_prefix"),
                                   produced_elsewhere=elsewhere, source_assets=mapping, link_sources=link,
                                   partitions=partitions)
    except KeySyntaxError as exc:
        raise DefinitionError(f"{where}: {exc}") from None

    def path(key: str) -> Path | None:
        return (base_dir / table[key]).resolve() if key in table else None

    try:
        return load(path("project_dir"), profiles_dir=path("profiles_dir"), target=table.get("target"),
                    vars=table.get("vars"), translator=translator, name=table.get("name"),
                    target_path=table.get("target_path"), parse=table.get("parse", "auto"))
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc}") from None


__all__ = ["load_from_config"]
