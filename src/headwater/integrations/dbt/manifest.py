"""Reading dbt's ``manifest.json``: plain, validated records of the parts Headwater uses.

The manifest is dbt's public artifact (https://schemas.getdbt.com/dbt/manifest/v12.json);
reading it — rather than importing dbt's parser — keeps loading fast (a 5,000-model
project loads in well under a second) and independent of the installed dbt version.
Only the fields Headwater relies on are validated; a missing or mistyped one is a
``DefinitionError`` that names the file and the field's path, e.g.
``nodes["model.shop.orders"].depends_on.nodes``. Every record keeps its raw manifest entry
(``raw``) so a translator can read anything else it needs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from headwater.errors import DefinitionError

# Oldest manifest schema with everything we read (``attached_node``, groups): dbt 1.5.
MIN_SCHEMA_VERSION = 9
ASSET_TYPES = ("model", "seed", "snapshot")
_SCHEMA_RE = re.compile(r"/manifest/v(\d+)\.json$")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DbtNode:
    """A model, seed or snapshot: something ``dbt build`` materializes."""

    unique_id: str
    resource_type: str
    name: str
    package_name: str
    path: str
    original_file_path: str
    fqn: tuple[str, ...]
    materialized: str
    tags: tuple[str, ...]
    meta: Mapping[str, Any]
    group: str | None
    description: str
    checksum: str
    depends_on: tuple[str, ...]
    relation_name: str | None
    version: str | None
    columns: Mapping[str, str]  # name -> description, in declared order
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def is_ephemeral(self) -> bool:
        return self.materialized == "ephemeral"

    @property
    def selector(self) -> str:
        """A ``--select`` term naming exactly this node."""
        return "fqn:" + ".".join(self.fqn)


@dataclass(frozen=True, slots=True)
class FreshnessRule:
    """A dbt source freshness config, in seconds (``None``: not set)."""

    warn_after: float | None
    error_after: float | None


@dataclass(frozen=True, slots=True)
class DbtSource:
    unique_id: str
    source_name: str
    name: str
    identifier: str
    package_name: str
    original_file_path: str
    fqn: tuple[str, ...]
    description: str
    tags: tuple[str, ...]
    meta: Mapping[str, Any]
    loaded_at_field: str | None
    loaded_at_query: str | None
    freshness: FreshnessRule | None
    relation_name: str | None
    columns: Mapping[str, str]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def selector(self) -> str:
        return f"source:{self.package_name}.{self.source_name}.{self.name}"

    @property
    def has_freshness(self) -> bool:
        """dbt can compute freshness for it: a rule and a way to find max(loaded_at)."""
        return self.freshness is not None and bool(self.loaded_at_field or self.loaded_at_query)


@dataclass(frozen=True, slots=True)
class DbtTest:
    unique_id: str
    name: str
    package_name: str
    original_file_path: str
    fqn: tuple[str, ...]
    test_name: str | None          # generic test ('unique', 'relationships', ...); None: singular
    attached_node: str | None      # the model/source a generic test is declared on
    depends_on: tuple[str, ...]
    column_name: str | None
    severity: str                  # 'warn' or 'error'
    description: str
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def selector(self) -> str:
        return "fqn:" + ".".join(self.fqn)


@dataclass(frozen=True, slots=True)
class DbtExposure:
    """A downstream use of the project's models declared in dbt (a dashboard, a notebook,
    an application): dbt neither builds nor runs it."""

    unique_id: str
    name: str
    label: str | None
    type: str
    package_name: str
    original_file_path: str
    fqn: tuple[str, ...]
    description: str
    url: str | None
    maturity: str | None
    owner_name: str | None
    owner_email: str | None
    tags: tuple[str, ...]
    meta: Mapping[str, Any]
    depends_on: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class DbtUnitTest:
    """A dbt unit test: the SQL logic of one model on fixed input rows (dbt >= 1.8)."""

    unique_id: str
    name: str
    model: str | None              # the unique id of the model it tests
    original_file_path: str
    fqn: tuple[str, ...] = ()
    description: str = ""
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def selector(self) -> str:
        return "fqn:" + ".".join(self.fqn) if self.fqn else f"unit_test:{self.name}"


@dataclass(frozen=True, slots=True)
class DbtGroup:
    name: str
    owner_name: str | None
    owner_email: str | None


@dataclass(frozen=True)
class Manifest:
    path: Path
    project_name: str
    dbt_version: str
    schema_version: int
    adapter_type: str | None
    nodes: Mapping[str, DbtNode]      # models, seeds, snapshots (ephemeral models included)
    sources: Mapping[str, DbtSource]
    tests: Mapping[str, DbtTest]
    groups: Mapping[str, DbtGroup]
    exposures: Mapping[str, DbtExposure] = field(default_factory=dict)
    unit_tests: Mapping[str, DbtUnitTest] = field(default_factory=dict)


# --- reading -----------------------------------------------------------------------------


class _Reader:
    """Typed access to the JSON, with errors that name the file and the field's path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> DefinitionError:
        return DefinitionError(f"dbt manifest {self.path}: {where} {problem}. The manifest is malformed or was "
                               "written by an incompatible dbt version; run `dbt parse` with dbt-core >= 1.5 to "
                               "rewrite it")

    def obj(self, d: Mapping[str, Any], key: str, where: str, optional: bool = False) -> Mapping[str, Any]:
        v = d.get(key)
        if v is None and optional:
            return _EMPTY
        if not isinstance(v, dict):
            raise self.fail(f"{where}.{key}" if where else key, _expected("an object", v, key in d))
        return v

    def text(self, d: Mapping[str, Any], key: str, where: str, optional: bool = False) -> str | None:
        v = d.get(key)
        if v is None and optional:
            return None
        if not isinstance(v, str):
            raise self.fail(f"{where}.{key}", _expected("a string", v, key in d))
        return v

    def strings(self, d: Mapping[str, Any], key: str, where: str, optional: bool = False) -> tuple[str, ...]:
        v = d.get(key)
        if v is None and optional:
            return ()
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(f"{where}.{key}", _expected("a list of strings", v, key in d))
        return tuple(v)


def _expected(what: str, got: Any, present: bool) -> str:
    if not present:
        return f"is missing (expected {what})"
    return f"must be {what}, not {type(got).__name__} {_short(got)}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def read_manifest(path: str | Path) -> Manifest:
    """Read and validate ``manifest.json``; errors name the file and the offending field."""
    path = Path(path)
    for attempt in range(3):
        try:
            data = json.loads(path.read_bytes())
            break
        except FileNotFoundError:
            raise DefinitionError(f"dbt manifest {path} does not exist; run `dbt parse` in the project") from None
        except (OSError, ValueError) as exc:
            if attempt == 2:
                raise DefinitionError(f"dbt manifest {path} cannot be read as JSON: {exc}") from None
            time.sleep(0.2)  # dbt may be rewriting it right now (a build writes it too)
    return parse_manifest(data, path)


def parse_manifest(data: Any, path: str | Path = "manifest.json") -> Manifest:
    r = _Reader(Path(path))
    if not isinstance(data, dict):
        raise r.fail("the top level", _expected("an object", data, True))
    meta = r.obj(data, "metadata", "")
    schema = r.text(meta, "dbt_schema_version", "metadata") or ""
    m = _SCHEMA_RE.search(schema)
    if m is None:
        raise r.fail("metadata.dbt_schema_version", f"is {schema!r}, not a dbt manifest schema URL")
    version = int(m.group(1))
    if version < MIN_SCHEMA_VERSION:
        raise r.fail("metadata.dbt_schema_version",
                     f"is v{version}; Headwater reads manifests v{MIN_SCHEMA_VERSION} and later (dbt-core >= 1.5)")
    project_name = r.text(meta, "project_name", "metadata", optional=True) or ""
    nodes: dict[str, DbtNode] = {}
    tests: dict[str, DbtTest] = {}
    raw_nodes = r.obj(data, "nodes", "")
    for uid, n in raw_nodes.items():
        where = f"nodes[{uid!r}]"
        if not isinstance(n, dict):
            raise r.fail(where, _expected("an object", n, True))
        rtype = n.get("resource_type")
        if rtype in ASSET_TYPES:
            nodes[uid] = _node(r, uid, n, where)
        elif rtype == "test":
            tests[uid] = _test(r, uid, n, where)
        elif not isinstance(rtype, str):
            raise r.fail(f"{where}.resource_type", _expected("a string", rtype, "resource_type" in n))
    sources = {uid: _source(r, uid, s, f"sources[{uid!r}]") for uid, s in r.obj(data, "sources", "").items()}
    groups: dict[str, DbtGroup] = {}
    for uid, g in r.obj(data, "groups", "", optional=True).items():
        where = f"groups[{uid!r}]"
        name = r.text(g, "name", where) or ""
        owner = r.obj(g, "owner", where, optional=True)
        groups[name] = DbtGroup(name, owner.get("name") or None, owner.get("email") or None)
    exposures = {uid: _exposure(r, uid, e, f"exposures[{uid!r}]")
                 for uid, e in r.obj(data, "exposures", "", optional=True).items()}
    unit_tests = {uid: _unit_test(r, uid, u, f"unit_tests[{uid!r}]")
                  for uid, u in r.obj(data, "unit_tests", "", optional=True).items()}
    return Manifest(path=Path(path), project_name=project_name,
                    dbt_version=str(meta.get("dbt_version") or "unknown"), schema_version=version,
                    adapter_type=meta.get("adapter_type"), nodes=nodes, sources=sources, tests=tests,
                    groups=groups, exposures=exposures, unit_tests=unit_tests)


def _exposure(r: _Reader, uid: str, e: Any, where: str) -> DbtExposure:
    if not isinstance(e, dict):
        raise r.fail(where, _expected("an object", e, True))
    owner = r.obj(e, "owner", where, optional=True)
    config = r.obj(e, "config", where, optional=True)
    return DbtExposure(
        unique_id=uid,
        name=r.text(e, "name", where) or "",
        label=r.text(e, "label", where, optional=True),
        type=r.text(e, "type", where, optional=True) or "exposure",
        package_name=r.text(e, "package_name", where) or "",
        original_file_path=r.text(e, "original_file_path", where, optional=True) or "",
        fqn=r.strings(e, "fqn", where),
        description=r.text(e, "description", where, optional=True) or "",
        url=r.text(e, "url", where, optional=True),
        maturity=r.text(e, "maturity", where, optional=True),
        owner_name=r.text(owner, "name", f"{where}.owner", optional=True),
        owner_email=r.text(owner, "email", f"{where}.owner", optional=True),
        tags=r.strings(e, "tags", where, optional=True),
        meta={**r.obj(config, "meta", f"{where}.config", optional=True), **r.obj(e, "meta", where, optional=True)},
        depends_on=r.strings(r.obj(e, "depends_on", where), "nodes", f"{where}.depends_on", optional=True),
        raw=e,
    )


def _unit_test(r: _Reader, uid: str, u: Any, where: str) -> DbtUnitTest:
    if not isinstance(u, dict):
        raise r.fail(where, _expected("an object", u, True))
    depends = r.strings(r.obj(u, "depends_on", where, optional=True), "nodes", f"{where}.depends_on", optional=True)
    return DbtUnitTest(unique_id=uid, name=r.text(u, "name", where) or "",
                       model=next((d for d in depends if d.startswith("model.")), None),
                       original_file_path=r.text(u, "original_file_path", where, optional=True) or "",
                       fqn=r.strings(u, "fqn", where, optional=True),
                       description=r.text(u, "description", where, optional=True) or "", raw=u)


def _columns(r: _Reader, d: Mapping[str, Any], where: str) -> Mapping[str, str]:
    cols = r.obj(d, "columns", where, optional=True)
    return {name: (c.get("description") or "") if isinstance(c, dict) else "" for name, c in cols.items()}


def _node(r: _Reader, uid: str, n: Mapping[str, Any], where: str) -> DbtNode:
    config = r.obj(n, "config", where)
    materialized = r.text(config, "materialized", f"{where}.config") or ""
    checksum = r.obj(n, "checksum", where)
    depends = r.obj(n, "depends_on", where)
    version = n.get("version")
    return DbtNode(
        unique_id=uid,
        resource_type=n["resource_type"],
        name=r.text(n, "name", where) or "",
        package_name=r.text(n, "package_name", where) or "",
        path=r.text(n, "path", where) or "",
        original_file_path=r.text(n, "original_file_path", where) or "",
        fqn=r.strings(n, "fqn", where),
        materialized=materialized,
        tags=r.strings(n, "tags", where, optional=True),
        meta={**r.obj(config, "meta", f"{where}.config", optional=True), **r.obj(n, "meta", where, optional=True)},
        group=r.text(n, "group", where, optional=True) or r.text(config, "group", f"{where}.config", optional=True),
        description=r.text(n, "description", where, optional=True) or "",
        checksum=r.text(checksum, "checksum", f"{where}.checksum") or "",
        depends_on=r.strings(depends, "nodes", f"{where}.depends_on", optional=True),
        relation_name=r.text(n, "relation_name", where, optional=True),
        version=None if version is None else str(version),
        columns=_columns(r, n, where),
        raw=n,
    )


def _test(r: _Reader, uid: str, n: Mapping[str, Any], where: str) -> DbtTest:
    config = r.obj(n, "config", where)
    severity = (r.text(config, "severity", f"{where}.config", optional=True) or "error").lower()
    if severity not in ("warn", "error"):
        raise r.fail(f"{where}.config.severity", f"is {severity!r}; dbt knows 'warn' and 'error'")
    meta = r.obj(n, "test_metadata", where, optional=True)
    return DbtTest(
        unique_id=uid,
        name=r.text(n, "name", where) or "",
        package_name=r.text(n, "package_name", where) or "",
        original_file_path=r.text(n, "original_file_path", where) or "",
        fqn=r.strings(n, "fqn", where),
        test_name=r.text(meta, "name", f"{where}.test_metadata", optional=True) if meta else None,
        attached_node=r.text(n, "attached_node", where, optional=True),
        depends_on=r.strings(r.obj(n, "depends_on", where), "nodes", f"{where}.depends_on", optional=True),
        column_name=r.text(n, "column_name", where, optional=True),
        severity=severity,
        description=r.text(n, "description", where, optional=True) or "",
        raw=n,
    )


_PERIODS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


def _after(r: _Reader, d: Mapping[str, Any], key: str, where: str) -> float | None:
    rule = d.get(key)
    if rule is None:
        return None
    if not isinstance(rule, dict):
        raise r.fail(f"{where}.{key}", _expected("an object", rule, True))
    count, period = rule.get("count"), rule.get("period")
    if count is None or period is None:
        return None
    if not isinstance(count, (int, float)) or period not in _PERIODS:
        raise r.fail(f"{where}.{key}", f"must have a numeric count and a period of minute/hour/day, "
                                       f"not {_short(rule)}")
    return float(count) * _PERIODS[period]


def _freshness(r: _Reader, s: Mapping[str, Any], where: str) -> FreshnessRule | None:
    config = r.obj(s, "config", where, optional=True)
    fresh = config.get("freshness") if config.get("freshness") is not None else s.get("freshness")
    sub = f"{where}.config.freshness" if config.get("freshness") is not None else f"{where}.freshness"
    if fresh is None:
        return None
    if not isinstance(fresh, dict):
        raise r.fail(sub, _expected("an object", fresh, True))
    rule = FreshnessRule(_after(r, fresh, "warn_after", sub), _after(r, fresh, "error_after", sub))
    return rule if rule.warn_after is not None or rule.error_after is not None else None


def _source(r: _Reader, uid: str, s: Any, where: str) -> DbtSource:
    if not isinstance(s, dict):
        raise r.fail(where, _expected("an object", s, True))
    config = r.obj(s, "config", where, optional=True)
    return DbtSource(
        unique_id=uid,
        source_name=r.text(s, "source_name", where) or "",
        name=r.text(s, "name", where) or "",
        identifier=r.text(s, "identifier", where, optional=True) or str(s.get("name")),
        package_name=r.text(s, "package_name", where) or "",
        original_file_path=r.text(s, "original_file_path", where, optional=True) or "",
        fqn=r.strings(s, "fqn", where),
        description=r.text(s, "description", where, optional=True) or "",
        tags=r.strings(s, "tags", where, optional=True),
        meta={**r.obj(s, "source_meta", where, optional=True), **r.obj(s, "meta", where, optional=True)},
        loaded_at_field=(r.text(config, "loaded_at_field", f"{where}.config", optional=True)
                         or r.text(s, "loaded_at_field", where, optional=True)),
        loaded_at_query=(r.text(config, "loaded_at_query", f"{where}.config", optional=True)
                         or r.text(s, "loaded_at_query", where, optional=True)),
        freshness=_freshness(r, s, where),
        relation_name=r.text(s, "relation_name", where, optional=True),
        columns=_columns(r, s, where),
        raw=s,
    )
