"""What ``Definitions(assets=..., checks=...)`` accepts: the shapes users pass, made flat.

Users hand over what integrations give them as they get it: ``hw.dbt.load(...)`` (a bundle
with ``assets`` and ``checks``), a list, a generator, lists of lists. Flattening here keeps
``Definitions`` about validation, and keeps the definitions layer ignorant of integrations
(a bundle is anything with ``assets`` and ``checks`` attributes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from headwater.definitions.assets import AssetsDefinition, SourceDefinition
from headwater.definitions.checks import CheckDefinition
from headwater.errors import DefinitionError

_ASSETS_HINT = ("pass @asset / @multi_asset functions, source_asset(...), a loaded project such as "
                "hw.dbt.load(...), or a list of these")
_CHECKS_HINT = "pass @check functions, a loaded project such as hw.dbt.load(...), or a list of these"


def flatten_assets(given: Any) -> tuple[list[AssetsDefinition | SourceDefinition], list[CheckDefinition]]:
    """The asset definitions in ``given``, and the checks that came with bundles in it."""
    assets: list[AssetsDefinition | SourceDefinition] = []
    checks: list[CheckDefinition] = []
    _walk(given, assets, checks, "assets")
    return assets, checks


def flatten_checks(given: Any) -> list[CheckDefinition]:
    assets: list[AssetsDefinition | SourceDefinition] = []
    checks: list[CheckDefinition] = []
    _walk(given, assets, checks, "checks")
    if assets:
        raise DefinitionError(f"Definitions(checks=...) got asset {_describe(assets[0])}: assets go in assets=")
    return checks


def _walk(item: Any, assets: list, checks: list, where: str, depth: int = 0) -> None:
    if isinstance(item, (AssetsDefinition, SourceDefinition)):
        if where == "checks":
            raise DefinitionError(f"Definitions(checks=...) got asset {_describe(item)}: assets go in assets=")
        assets.append(item)
    elif isinstance(item, CheckDefinition):
        if where == "assets":
            raise DefinitionError(f"Definitions(assets=...) got check {_describe(item)}: checks go in checks=")
        checks.append(item)
    elif _is_bundle(item):
        _walk(item.assets, assets, checks, "assets", depth + 1)
        _walk(item.checks, assets, checks, "checks", depth + 1)
    elif isinstance(item, Iterable) and not isinstance(item, (str, bytes, Mapping)) and depth < 20:
        for sub in item:
            _walk(sub, assets, checks, where, depth + 1)
    else:
        hint = _ASSETS_HINT if where == "assets" else _CHECKS_HINT
        raise DefinitionError(f"Definitions({where}=...) got {_describe(item)}: {hint}")


def _is_bundle(item: Any) -> bool:
    return not isinstance(item, type) and hasattr(item, "assets") and hasattr(item, "checks")


def _describe(item: Any) -> str:
    text = repr(item)
    if len(text) > 60:
        text = text[:57] + "..."
    name = getattr(item, "__name__", None)
    if callable(item) and name and not isinstance(item, (AssetsDefinition, SourceDefinition, CheckDefinition)):
        return f"function {name!r} (not decorated with @asset?)"
    return f"{text} ({type(item).__name__})"
