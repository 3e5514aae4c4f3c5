"""Column-level lineage of dbt models, from their compiled SQL (with sqlglot).

``column_lineage(project, "fct_orders", "country_name")`` says which upstream columns a
model's column is computed from: ``direct`` (one hop: columns of the model's own inputs)
and ``upstream`` (every column it derives from, through the models in between, down to
seeds and sources). What ``headwater lineage MODEL --column COL`` shows.

How: each model's compiled SQL (from the manifest, else ``target/compiled``, else one
``dbt compile`` of the model and its ancestors) is traced with ``sqlglot.lineage``. The
schema sqlglot needs to resolve ``select *`` and unqualified columns comes from
``target/catalog.json`` when ``dbt docs generate`` wrote one, else from the inputs' own
SQL (their output columns), seeds' CSV headers and sources' declared columns.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.core.keys import AssetKey, CoercibleToKey, to_key
from headwater.errors import DefinitionError, HeadwaterError

if TYPE_CHECKING:
    from headwater.integrations.dbt.project import DbtProject

_DIALECTS = {"sqlserver": "tsql", "synapse": "tsql", "fabric": "tsql", "athena": "athena", "glue": "spark"}
_SNAPSHOT_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")


class LineageError(HeadwaterError):
    """Column lineage could not be computed (unknown column, SQL sqlglot cannot read)."""


@dataclass(frozen=True, slots=True, order=True)
class ColumnRef:
    key: AssetKey
    column: str

    def __str__(self) -> str:
        return f"{self.key}.{self.column}"


@dataclass(frozen=True)
class ColumnLineage:
    """Where one column of one model comes from."""

    key: AssetKey
    column: str
    direct: tuple[ColumnRef, ...]
    upstream: tuple[ColumnRef, ...]
    edges: tuple[tuple[ColumnRef, ColumnRef], ...]  # (column, a column it is computed from)
    # What could not be followed, in words ("web/events.*: the columns of web/events are unknown ...").
    unresolved: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"key": str(self.key), "column": self.column, "direct": [str(r) for r in self.direct],
                "upstream": [str(r) for r in self.upstream],
                "edges": [[str(child), str(parent)] for child, parent in self.edges],
                "unresolved": list(self.unresolved)}

    def render(self) -> str:
        """An indented tree, the column first, each line a column it is computed from."""
        parents: dict[ColumnRef, list[ColumnRef]] = {}
        for child, parent in self.edges:
            parents.setdefault(child, []).append(parent)
        lines: list[str] = []

        def walk(ref: ColumnRef, depth: int, seen: frozenset[ColumnRef]) -> None:
            lines.append("  " * depth + str(ref))
            for p in sorted(parents.get(ref, [])):
                if p not in seen:
                    walk(p, depth + 1, seen | {p})

        root = ColumnRef(self.key, self.column)
        walk(root, 0, frozenset({root}))
        lines.extend(f"  ? {note}" for note in self.unresolved)
        return "\n".join(lines)


def column_lineage(project: DbtProject, model: CoercibleToKey, column: str) -> ColumnLineage:
    """The upstream columns of ``model``'s ``column`` (``model``: an asset key or a dbt name)."""
    tracer = _Tracer(project)
    return _lineage(tracer, tracer.uid(model), column)


def model_lineage(project: DbtProject, model: CoercibleToKey,
                  columns: Sequence[str] | None = None, compile: bool = True) -> list[ColumnLineage]:
    """The lineage of several columns of one model (all of them when ``columns`` is None),
    sharing the compiled SQL and the schemas read for the first. ``compile=False`` never
    runs ``dbt compile`` (a web page must not wait for it): missing SQL is a ``LineageError``."""
    tracer = _Tracer(project, compile)
    uid = tracer.uid(model)
    if columns is None:
        columns = tracer.columns(uid)
        if not columns:
            raise LineageError(f"the columns of {project.asset_key_of(uid)} are unknown (neither its SQL nor "
                               "target/catalog.json says); name one with --column")
    return [_lineage(tracer, uid, c) for c in columns]


def _lineage(tracer: _Tracer, uid: str, column: str) -> ColumnLineage:
    project = tracer.project
    root = ColumnRef(project.asset_key_of(uid), column)
    direct = tuple(ColumnRef(project.asset_key_of(u), c) for u, c in tracer.direct(uid, column))
    edges: list[tuple[ColumnRef, ColumnRef]] = []
    upstream: dict[ColumnRef, None] = {}
    todo = [(uid, column)]
    seen = {(uid, column)}
    while todo:
        u, c = todo.pop()
        here = ColumnRef(project.asset_key_of(u), c)
        for pu, pc in tracer.direct(u, c):
            ref = ColumnRef(project.asset_key_of(pu), pc)
            edges.append((here, ref))
            upstream[ref] = None
            if (pu, pc) not in seen:
                seen.add((pu, pc))
                todo.append((pu, pc))
    notes = [n for (u, c) in sorted(seen) for n in tracer.notes.get((u, c), ())]
    return ColumnLineage(root.key, column, direct, tuple(upstream), tuple(edges), tuple(dict.fromkeys(notes)))


def dbt_projects(defs: Any) -> list[DbtProject]:
    """The dbt projects whose assets are in ``defs`` (a ``Definitions``)."""
    found: dict[int, DbtProject] = {}
    for d in defs.assets_defs:
        project = getattr(d.fn, "dbt_project", None)
        if project is not None:
            found[id(project)] = project
    return list(found.values())


def find_model(defs: Any, model: str) -> tuple[DbtProject, str]:
    """The project and unique id of a model named by asset key or by dbt name, or an error
    that says what ``model`` is instead."""
    projects = dbt_projects(defs)
    if not projects:
        raise LineageError("these definitions hold no dbt project; column lineage is traced through dbt models")
    try:
        key: AssetKey | None = to_key(model)
    except HeadwaterError:
        key = None
    if key is not None and key in defs.graph:
        for project in projects:
            try:
                uid = project.unique_id_for(key)
            except DefinitionError:
                continue
            if uid not in project.manifest.nodes:
                kind = "source" if uid in project.manifest.sources else "exposure"
                raise LineageError(f"{key} is a dbt {kind}, not a model: column lineage is traced through the "
                                   "compiled SQL of models, seeds and snapshots")
            return project, uid
        raise LineageError(f"asset {key} does not come from dbt: column lineage is traced through dbt models")
    hits = []
    for project in projects:
        try:
            hits.append((project, project.unique_id_for(project.key_for(model))))
        except DefinitionError:
            continue
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise LineageError(f"dbt name {model!r} names a model in several projects; give its asset key")
    raise LineageError(f"no asset and no dbt model is named {model!r}")


class _Tracer:
    def __init__(self, project: DbtProject, compile: bool = True) -> None:
        self.project = project
        self.manifest = project.manifest
        adapter = (self.manifest.adapter_type or "").lower()
        self.dialect: str | None = _DIALECTS.get(adapter, adapter or None)
        self._sql: dict[str, str | None] = {}
        self._columns: dict[str, tuple[str, ...]] = {}
        self._catalog = self._read_catalog()
        self._compiled_once = not compile
        self.notes: dict[tuple[str, str], list[str]] = {}  # (uid, column) -> what could not be followed
        # Every tail of every relation name ("db"."schema"."t", "schema"."t", "t") -> its node,
        # unless two relations share that tail.
        owners: dict[tuple[str, ...], set[str]] = {}
        relations = [(u, n.relation_name) for u, n in self.manifest.nodes.items()]
        relations += [(u, s.relation_name) for u, s in self.manifest.sources.items()]
        for uid, relation in relations:
            if relation:
                uid = project.source_producer.get(uid, uid)  # a source a seed writes is that seed
                for suffix in _suffixes(self._table_parts(relation)):
                    owners.setdefault(suffix, set()).add(uid)
        self._relations = {suffix: next(iter(uids)) for suffix, uids in owners.items() if len(uids) == 1}

    # -- naming ------------------------------------------------------------------------------

    def uid(self, model: CoercibleToKey) -> str:
        if isinstance(model, str) and model in self.manifest.nodes:
            return model
        try:
            return self.project.unique_id_for(to_key(model))
        except DefinitionError:
            if isinstance(model, str):
                return self.project.unique_id_for(self.project.key_for(model))
            raise

    def _table_parts(self, relation: str) -> tuple[str, ...]:
        from sqlglot import exp

        table = exp.to_table(relation, dialect=self.dialect)
        return tuple(p.lower() for p in (table.catalog, table.db, table.name) if p)

    def _resolve(self, table: Any) -> str | None:
        parts = tuple(p.lower() for p in (table.catalog, table.db, table.name) if p)
        for suffix in _suffixes(parts):
            if suffix in self._relations:
                return self._relations[suffix]
        return None

    # -- tracing -----------------------------------------------------------------------------

    def direct(self, uid: str, column: str) -> list[tuple[str, str]]:
        """(unique id, column) pairs of the inputs ``uid``'s ``column`` is computed from."""
        from sqlglot.errors import SqlglotError
        from sqlglot.lineage import lineage

        sql = self.sql(uid)
        if sql is None:
            return []  # a seed or a source: where lineage starts
        try:
            node = lineage(column, sql, schema=self.schema_for(uid), dialect=self.dialect)
        except SqlglotError as exc:
            known = ", ".join(self.columns(uid)) or "unknown"
            raise LineageError(f"cannot trace column {column!r} of {self.project.asset_key_of(uid)}: {exc} "
                               f"(its columns: {known})") from None
        out: dict[tuple[str, str], None] = {}
        notes: list[str] = []
        from sqlglot import exp

        for leaf in _leaves(node):
            if not isinstance(leaf.source, exp.Table):
                continue
            parent = self._resolve(leaf.source)
            name = leaf.name.rsplit(".", 1)[-1]
            if parent is None:
                notes.append(f"{column} reads {leaf.source.sql(dialect=self.dialect)}, which is no model, seed or "
                             "source of the project")
            elif parent == uid:
                continue
            elif name == "*":
                key = self.project.asset_key_of(parent)
                notes.append(f"{key}.*: the columns of {key} are unknown (declare them in its YAML, or run "
                             "`dbt docs generate` to write target/catalog.json)")
            else:
                out[(parent, name)] = None
        if not out and not notes and self.project.asset_parents(uid):
            notes.append(f"{self.project.asset_key_of(uid)}.{column} is computed from no upstream column "
                         "(a constant, or a function of none)")
        if notes:
            self.notes[(uid, column)] = notes
        return list(out)

    def schema_for(self, uid: str) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        for parent in self.project.asset_parents(uid):
            thing = self.manifest.nodes.get(parent) or self.manifest.sources.get(parent)
            cols = self.columns(parent)
            if thing is None or not thing.relation_name or not cols:
                continue
            level = schema
            parts = self._table_parts(thing.relation_name)
            for part in parts[:-1]:
                level = level.setdefault(part, {})
            level[parts[-1]] = {c: "unknown" for c in cols}
        depth = {len(self._table_parts(t.relation_name)) for p in self.project.asset_parents(uid)
                 if (t := self.manifest.nodes.get(p) or self.manifest.sources.get(p)) and t.relation_name}
        return schema if len(depth) <= 1 else {}  # sqlglot wants one nesting depth throughout

    def columns(self, uid: str) -> tuple[str, ...]:
        if uid in self._columns:
            return self._columns[uid]
        self._columns[uid] = ()  # guards against cycles while computing
        cols = self._catalog.get(uid) or self._derive_columns(uid)
        self._columns[uid] = cols
        return cols

    def _derive_columns(self, uid: str) -> tuple[str, ...]:
        node = self.manifest.nodes.get(uid)
        if node is None:
            source = self.manifest.sources.get(uid)
            return tuple(source.columns) if source is not None else ()
        if node.resource_type == "seed":
            return _csv_header(self._root(node.package_name) / node.original_file_path) or tuple(node.columns)
        sql = self.sql(uid)
        if sql is None:
            return tuple(node.columns)
        import sqlglot
        from sqlglot.errors import SqlglotError
        from sqlglot.optimizer.qualify import qualify

        try:
            expression = qualify(sqlglot.parse_one(sql, dialect=self.dialect), schema=self.schema_for(uid),
                                 dialect=self.dialect, validate_qualify_columns=False)
            cols = tuple(getattr(expression, "named_selects", ()))
        except SqlglotError:
            cols = tuple(node.columns)
        if node.resource_type == "snapshot":
            cols += tuple(c for c in _SNAPSHOT_COLUMNS if c not in cols)
        return cols

    # -- compiled SQL --------------------------------------------------------------------------

    def _root(self, package: str) -> Path:
        root = self.project.project_dir
        return root if package == self.manifest.project_name else root / "dbt_packages" / package

    def sql(self, uid: str) -> str | None:
        if uid in self._sql:
            return self._sql[uid]
        node = self.manifest.nodes.get(uid)
        if node is None or node.resource_type == "seed":
            self._sql[uid] = None
            return None
        text = self._compiled_file(uid)
        if text is None:
            code = node.raw.get("compiled_code")
            text = code if isinstance(code, str) and code.strip() and not self._source_newer(uid, None) else None
        if text is None and not self._compiled_once:
            self._compile(uid)
            text = self._compiled_file(uid)
        if text is None:
            raise LineageError(f"no compiled SQL for {self.project.asset_key_of(uid)}; run `dbt compile`")
        self._sql[uid] = text
        return text

    def _compiled_path(self, uid: str) -> Path:
        node = self.manifest.nodes[uid]
        return self.project.paths.target_dir / "compiled" / node.package_name / node.original_file_path

    def _source_newer(self, uid: str, than: float | None) -> bool:
        node = self.manifest.nodes[uid]
        source = self._root(node.package_name) / node.original_file_path
        reference = than if than is not None else self.manifest.path.stat().st_mtime
        try:
            return source.stat().st_mtime > reference
        except OSError:
            return False

    def _compiled_file(self, uid: str) -> str | None:
        path = self._compiled_path(uid)
        try:
            written = path.stat().st_mtime
        except OSError:
            return None
        if self._source_newer(uid, written):
            return None
        return path.read_text()

    def _compile(self, uid: str) -> None:
        """One ``dbt compile`` of the model and everything upstream of it."""
        self._compiled_once = True
        node = self.manifest.nodes[uid]
        opts = self.project.options
        with self.project.invocation(["compile", "--select", "+" + node.selector, *opts.global_args()],
                                     opts) as inv:
            code = inv.wait()
        if code != 0:
            raise inv.failure(f"could not compile {self.project.asset_key_of(uid)} for column lineage")

    def _read_catalog(self) -> dict[str, tuple[str, ...]]:
        path = self.project.paths.target_dir / "catalog.json"
        try:
            written = path.stat().st_mtime
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        out: dict[str, tuple[str, ...]] = {}
        for section in ("nodes", "sources"):
            for uid, entry in (data.get(section) or {}).items():
                if uid in self.manifest.nodes and self._source_newer(uid, written):
                    continue  # the model was edited since: its catalog columns may be gone
                cols = entry.get("columns") or {}
                ordered = sorted(cols.values(), key=lambda c: c.get("index", 0))
                out[uid] = tuple(c["name"] for c in ordered if isinstance(c, dict) and "name" in c)
        return out


def _suffixes(parts: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for i in range(len(parts)):
        yield parts[i:]


def _leaves(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.downstream:
            stack.extend(n.downstream)
        else:
            yield n


def _csv_header(path: Path) -> tuple[str, ...]:
    try:
        with path.open(newline="") as f:
            return tuple(h.strip() for h in next(csv.reader(f), []))
    except OSError:
        return ()


__all__ = ["ColumnLineage", "ColumnRef", "LineageError", "column_lineage", "dbt_projects", "find_model",
           "model_lineage"]
