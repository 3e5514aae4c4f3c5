"""Partitioned dbt models: an incremental model built one time window (or key) at a time.

A model is partitioned by the ``partitions`` of ``[tool.headwater.dbt]`` (a table from a
selection to a definition) or ``DbtTranslator(partitions={...})``, or by the translator's
``partitions(node)``. Each step that builds it runs ``dbt build --select <its models>
--vars '{"start": ..., "end": ...}'``: the model's SQL filters on ``var('start')`` and
``var('end')`` (names configurable), so exactly that window's rows are written.

The models of a project are split into multi-assets by their partitions, so that a step
(one ``dbt build``) holds models that are built for the same window: one multi-asset per
partitions definition, and, so that steps can be ordered, one more per "layer" where a
model reads a model of another definition (an unpartitioned summary over a daily model is
built after it, in a later ``dbt build``). A project without partitions stays one
multi-asset, as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.partition_mappings import default_mapping
from headwater.core.partitions import (
    CronPartitions,
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
    WeeklyPartitions,
)
from headwater.core.selection import select
from headwater.core.specs import AssetSpec
from headwater.errors import DefinitionError, HeadwaterError, SelectionError

_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERIODS = {"hourly": HourlyPartitions, "daily": DailyPartitions, "weekly": WeeklyPartitions,
            "monthly": MonthlyPartitions}
_KINDS = (*_PERIODS, "cron", "static", "dynamic")
_OPTIONS = ("start", "timezone", "end", "end_offset", "start_var", "end_var", "key_var", "backfill",
            "max_partitions_per_run")


@dataclass(frozen=True, slots=True)
class DbtPartitions:
    """How a dbt model is partitioned, and the dbt vars that tell it what to build.

    A step over time windows passes ``start_var`` and ``end_var`` (the first window's start
    and the last window's end, ISO 8601 in the definition's time zone); every step passes
    ``key_var`` (the partition key, or a list of keys when a step builds several).
    ``max_partitions_per_run`` is how many partitions one ``dbt build`` may build (1: one per
    window; None: any range in one run, ``backfill="single_run"`` in pyproject.toml).
    """

    partitions: PartitionsDefinition
    start_var: str = "start"
    end_var: str = "end"
    key_var: str = "partition_key"
    max_partitions_per_run: int | None = 1

    def __post_init__(self) -> None:
        if not isinstance(self.partitions, PartitionsDefinition):
            raise DefinitionError(f"DbtPartitions(partitions=...) must be a partitions definition such as "
                                  f"hw.DailyPartitions(...), not {type(self.partitions).__name__}")
        names = {"start_var": self.start_var, "end_var": self.end_var, "key_var": self.key_var}
        for what, name in names.items():
            if not isinstance(name, str) or not _VAR_NAME.match(name):
                raise DefinitionError(f"{what} {name!r} is not a dbt var name (letters, digits and '_', "
                                      "not starting with a digit)")
        if len(set(names.values())) < 3:
            raise DefinitionError(f"start_var, end_var and key_var must differ, not {self.start_var!r}, "
                                  f"{self.end_var!r}, {self.key_var!r}")
        per_run = self.max_partitions_per_run
        if per_run is not None and (not isinstance(per_run, int) or isinstance(per_run, bool) or per_run < 1):
            raise DefinitionError(f"max_partitions_per_run must be a positive integer (or None for any range), "
                                  f"not {per_run!r}")

    def vars_for(self, keys: Sequence[str], window: Any) -> dict[str, Any]:
        """The dbt vars of a step building ``keys`` (whose time span is ``window``)."""
        out: dict[str, Any] = {self.key_var: keys[0] if len(keys) == 1 else list(keys)}
        zone = _time_zone(self.partitions)
        if window is not None and zone is not None:
            out[self.start_var] = datetime.fromtimestamp(window.start, zone).isoformat()
            out[self.end_var] = datetime.fromtimestamp(window.end, zone).isoformat()
        return out


def _time_zone(d: PartitionsDefinition) -> ZoneInfo | None:
    for _name, sub in d.dimensions:
        if isinstance(sub, TimeWindowPartitions):
            return sub.zone
    return None


def as_dbt_partitions(value: Any, where: str) -> DbtPartitions:
    """A ``DbtPartitions``, or a bare partitions definition with the default var names."""
    if isinstance(value, DbtPartitions):
        return value
    if isinstance(value, PartitionsDefinition):
        return DbtPartitions(value)
    raise DefinitionError(f"{where} must be a partitions definition (hw.DailyPartitions(...)) or "
                          f"hw.dbt.DbtPartitions(...), not {type(value).__name__}")


def from_config(table: Any, where: str) -> dict[str, DbtPartitions]:
    """``[tool.headwater.dbt.partitions]``: selection -> ``{ daily = "2026-01-01", ... }``."""
    if not isinstance(table, Mapping):
        raise DefinitionError(f"{where}: partitions must be a table of \"selection\" = {{ daily = \"2026-01-01\" }}, "
                              f"not {table!r}")
    return {str(sel): _rule(spec, f"{where}: partitions[{sel!r}]") for sel, spec in table.items()}


def _rule(spec: Any, where: str) -> DbtPartitions:
    if not isinstance(spec, Mapping):
        raise DefinitionError(f"{where} must be a table such as {{ daily = \"2026-01-01\" }}, not {spec!r}")
    kinds = [k for k in _KINDS if k in spec]
    unknown = sorted(set(spec) - set(_KINDS) - set(_OPTIONS))
    if unknown:
        raise DefinitionError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join((*_KINDS, *_OPTIONS))})")
    if len(kinds) != 1:
        raise DefinitionError(f"{where} needs exactly one of {', '.join(_KINDS)}, not "
                              f"{', '.join(kinds) or 'none'}")
    kind = kinds[0]
    value = spec[kind]
    try:
        tz = _text(spec.get("timezone", "UTC"), "timezone", where)
        window = {"end": spec.get("end"), "end_offset": spec.get("end_offset", 0)}
        if window["end"] is not None:
            _text(window["end"], "end", where)
        if not isinstance(window["end_offset"], int) or isinstance(window["end_offset"], bool):
            raise DefinitionError(f"{where}: end_offset must be a whole number of windows, not {window['end_offset']!r}")
        if kind in _PERIODS:
            _text(value, f"{kind} (the first window's start, e.g. \"2026-01-01\")", where)
            d: PartitionsDefinition = _PERIODS[kind](value, tz, **window)
        elif kind == "cron":
            _text(value, "cron", where)
            d = CronPartitions(value, _text(spec.get("start"), "start (cron needs one)", where), tz, **window)
        elif kind == "static":
            if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
                raise DefinitionError(f"{where}: static must be a list of keys, not {value!r}")
            d = StaticPartitions(value)
        else:
            d = DynamicPartitions(_text(value, "dynamic (the name of the dynamic partitions)", where))
        backfill = spec.get("backfill")
        if backfill not in (None, "single_run", "multi_run"):
            raise DefinitionError(f"backfill must be \"single_run\" or \"multi_run\", not {backfill!r}")
        per_run = None if backfill == "single_run" else spec.get("max_partitions_per_run", 1)
        names = {k: spec[k] for k in ("start_var", "end_var", "key_var") if k in spec}
        return DbtPartitions(d, max_partitions_per_run=per_run, **names)
    except (DefinitionError, TypeError, ValueError) as exc:
        text = str(exc)
        raise DefinitionError(text if text.startswith(where) else f"{where}: {text}") from None


def _text(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise DefinitionError(f"{where}: {what} must be a string, not {value!r}")
    return value


def resolve_rules(rules: Mapping[str, DbtPartitions], specs: Sequence[AssetSpec],
                  others: Sequence[AssetSpec], project: str) -> dict[AssetKey, DbtPartitions]:
    """The partitioning of each model the selections name: a selection that names nothing,
    or a model two selections partition differently, is an error naming them."""
    if not rules:
        return {}
    known = {s.key for s in specs}
    everything = [*specs, *others]
    have = {s.key for s in everything}
    # Keys produced outside dbt (a Python ingest) are not here: stand-ins keep the graph whole.
    missing = {d for s in everything for d in s.deps if d not in have}
    graph = AssetGraph([*everything, *(AssetSpec(k, is_source=True) for k in missing)])
    out: dict[AssetKey, DbtPartitions] = {}
    chosen_by: dict[AssetKey, str] = {}
    for text, rule in rules.items():
        try:
            keys = [k for k in select(graph, text) if k in known]
        except SelectionError as exc:
            raise DefinitionError(f"dbt partitions selection {text!r}: {exc.reason}") from None
        except HeadwaterError as exc:
            raise DefinitionError(f"dbt partitions selection {text!r}: {exc}") from None
        if not keys:
            raise DefinitionError(f"dbt partitions selection {text!r} selects no model, seed or snapshot of dbt "
                                  f"project {project!r}")
        for k in keys:
            prior = out.get(k)
            if prior is not None and prior != rule:
                raise DefinitionError(f"dbt model {k} is partitioned by two selections that disagree: "
                                      f"{chosen_by[k]!r} ({prior.partitions.describe()}) and {text!r} "
                                      f"({rule.partitions.describe()})")
            out[k] = rule
            chosen_by[k] = text
    return out


def label(d: PartitionsDefinition | None) -> str:
    """A short name for a multi-asset of models partitioned by ``d`` (``daily``, ``static``)."""
    if d is None:
        return "unpartitioned"
    if isinstance(d, TimeWindowPartitions):
        period = {"0 * * * *": "hourly", "0 0 * * 1": "weekly", "0 0 1 * *": "monthly"}.get(d.cron)
        if period is None and d.cron.startswith("0 ") and d.cron.endswith(" * * *"):
            period = "daily"
        return period or "cron"
    if isinstance(d, DynamicPartitions):
        return re.sub(r"[^A-Za-z0-9_]", "_", d.name)
    if isinstance(d, MultiPartitions):
        return "_".join(n for n, _ in d.dims)
    return "static"


def layers(order: Sequence[AssetKey], parents: Mapping[AssetKey, Sequence[AssetKey]],
           partitions: Mapping[AssetKey, PartitionsDefinition | None]) -> list[list[AssetKey]]:
    """The models grouped into multi-assets: same partitions and same layer.

    A model's layer is the number of times the partitions change on the way down to it
    (its parents' greatest layer, plus one when it reads a model partitioned otherwise), so
    every edge between two groups points to a later layer and the steps can be ordered."""
    layer: dict[AssetKey, int] = {}
    groups: dict[tuple[int, PartitionsDefinition | None], list[AssetKey]] = {}
    for key in order:  # upstream first
        own = partitions.get(key)
        layer[key] = max((layer[p] + (partitions.get(p) != own) for p in parents.get(key, ()) if p in layer),
                         default=0)
        groups.setdefault((layer[key], own), []).append(key)
    return [groups[g] for g in sorted(groups, key=lambda g: (g[0], g[1] is not None))]


def step_vars(rules: Sequence[DbtPartitions], keys: Sequence[str], window: Any) -> dict[str, Any]:
    """The vars of one step: every partitioned model's names, for the same partitions."""
    out: dict[str, Any] = {}
    for rule in dict.fromkeys(rules):
        out.update(rule.vars_for(keys, window))
    return out




def partition_specs(specs: Sequence[AssetSpec], others: Sequence[AssetSpec], translator: Any,
                    node_of: Any, project: str) -> tuple[list[AssetSpec], dict[AssetKey, DbtPartitions]]:
    """The specs with their partitions (translator first, then the selections) and partition
    mappings, and the partitioning of each partitioned model."""
    from dataclasses import replace

    by_rule = resolve_rules(translator.partition_rules, specs, others, project)
    out: list[AssetSpec] = []
    chosen: dict[AssetKey, DbtPartitions] = {}
    for spec in specs:
        node = node_of(spec.key)
        own = translator.partitions(node)
        rule = (as_dbt_partitions(own, f"DbtTranslator.partitions() of dbt {node.unique_id}")
                if own is not None else by_rule.get(spec.key))
        mappings = {d: m for d in spec.deps if (m := translator.partition_mapping(node, d)) is not None}
        if rule is None and not mappings:
            out.append(spec)
            continue
        changes: dict[str, Any] = {"dep_mappings": mappings}
        if rule is not None:
            chosen[spec.key] = rule
            changes.update(partitions=rule.partitions, max_partitions_per_run=rule.max_partitions_per_run)
        out.append(replace(spec, **changes))
    if chosen:
        _check_mappings(out)
    return out, chosen


def _check_mappings(specs: Sequence[AssetSpec]) -> None:
    """A model reading a model whose partitions do not fit it is an error now, with the dbt way
    out (``hw.Dep`` is not how a dbt model declares a mapping)."""
    by_key = {s.key: s for s in specs}
    for spec in specs:
        for dep in spec.deps:
            parent = by_key.get(dep)
            if parent is None or (spec.partitions is None and parent.partitions is None):
                continue
            declared = spec.dep_mappings.get(dep)
            mapping = declared if declared is not None else default_mapping(spec.partitions, parent.partitions)
            problem = "no partition mapping fits" if mapping is None else mapping.validate(spec.partitions,
                                                                                            parent.partitions)
            if problem:
                def what(s: AssetSpec) -> str:
                    return s.partitions.describe() if s.partitions is not None else "unpartitioned"

                raise DefinitionError(
                    f"dbt model {spec.key} ({what(spec)}) reads {dep} ({what(parent)}): {problem}; partition it "
                    f"like {dep}, or return a mapping from DbtTranslator.partition_mapping(node, parent)")


__all__ = ["DbtPartitions", "as_dbt_partitions", "from_config", "layers", "partition_specs", "resolve_rules",
           "step_vars"]
