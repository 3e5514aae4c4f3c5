"""``hw.dbt.load``: a dbt project as Headwater definitions.

One ``@multi_asset`` (subsettable) holds every model, seed and snapshot, so materializing
any selection of them is one ``dbt build``; every dbt source becomes a source asset (with a
freshness observer when dbt can compute its freshness); every dbt test becomes a check.
Ephemeral models are not tables, so they are not assets: their consumers depend on what
they read. The manifest is re-parsed (``dbt parse``) when it is missing or older than any
project file, so editing a model's SQL shows up as a new code version on the next load.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from headwater.core.keys import AssetKey, CoercibleToKey, to_key
from headwater.core.specs import AssetSpec, CheckSpec, SourceLocation
from headwater.definitions.assets import AssetsDefinition, SourceDefinition, signature_params
from headwater.definitions.checks import CheckDefinition
from headwater.definitions.context import AssetContext
from headwater.definitions.decorators import multi_asset, source_asset
from headwater.definitions.definitions import Definitions
from headwater.definitions.outputs import AssetFailure, AssetSkip, MaterializeResult
from headwater.errors import DefinitionError, KeySyntaxError
from headwater.gc_pause import paused_gc
from headwater.integrations.dbt.build import DbtTestResults, run_build, test_check
from headwater.integrations.dbt.invocation import DbtInvocation, prewarm, run_dbt
from headwater.integrations.dbt.manifest import (
    DbtExposure,
    DbtNode,
    DbtSource,
    DbtTest,
    Manifest,
    read_manifest,
)
from headwater.integrations.dbt.options import DbtOptions, effective, from_tags
from headwater.integrations.dbt.partitions import label, layers, partition_specs
from headwater.integrations.dbt.seed_versions import SeedVersions, has_path_checksum
from headwater.integrations.dbt.source_links import SourceLinks
from headwater.integrations.dbt.source_probe import SourceProbe
from headwater.integrations.dbt.sources import FreshnessObserver
from headwater.integrations.dbt.translator import DbtTranslator

PARSE_MODES = ("auto", "always", "never", "background")
PREWARM_ENV = "HEADWATER_DBT_PREWARM"
PARSE_ENV = "HEADWATER_DBT_PARSE"  # overrides parse="auto" (`headwater status` sets "background")
_WATCHED_SUFFIXES = frozenset((".sql", ".yml", ".yaml", ".csv", ".py", ".md", ".jinja", ".json"))
_SKIPPED_DIRS = frozenset(("dbt_packages", "logs", "node_modules", "__pycache__", "venv"))


def load(
    project_dir: str | os.PathLike[str] = ".",
    *,
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    vars: Mapping[str, Any] | None = None,
    translator: DbtTranslator | None = None,
    name: str | None = None,
    target_path: str | os.PathLike[str] | None = None,
    parse: str = "auto",
) -> DbtProject:
    """Read a dbt project into definitions: ``project.assets`` and ``project.checks``.

    ``profiles_dir`` defaults to the project folder when it holds a ``profiles.yml`` (else
    dbt's own default); ``target`` and ``vars`` apply to every dbt command Headwater runs.
    ``parse="auto"`` runs ``dbt parse`` when ``target/manifest.json`` is missing or older
    than the project's files; ``"never"`` only reads it (e.g. a manifest built in CI);
    ``"background"`` reads the last manifest at once (``project.outdated`` says why it is
    outdated; edited files' code versions are read from the files), while ``dbt parse``
    brings it up to date in the background for the next load.
    """
    if parse == "auto" and os.environ.get(PARSE_ENV) in PARSE_MODES:
        parse = os.environ[PARSE_ENV]
    if parse not in PARSE_MODES:
        raise DefinitionError(f"hw.dbt.load(parse=...) must be one of {', '.join(PARSE_MODES)}, not {parse!r}")
    folder = Path(project_dir).resolve()
    if not (folder / "dbt_project.yml").is_file():
        raise DefinitionError(f"{folder} is not a dbt project: it has no dbt_project.yml")
    if os.environ.pop(PREWARM_ENV, None) == "1":  # `headwater materialize` is about to run dbt
        prewarm(folder)
    profiles = Path(profiles_dir).resolve() if profiles_dir is not None else (
        folder if (folder / "profiles.yml").is_file() else None)
    target_dir = (folder / target_path) if target_path is not None else folder / "target"
    options = DbtOptions(target=target, vars=vars)
    project = DbtPaths(folder, profiles, target_dir, target_path is not None)
    with paused_gc():  # tens of thousands of small objects: collections would only slow this down
        outdated = None
        if parse == "background":
            manifest, outdated = background_manifest(project, options)
            if manifest is None:
                manifest = _current_manifest(project, options, "auto")
        else:
            manifest = _current_manifest(project, options, parse)
        return DbtProject(manifest, project, translator or DbtTranslator(), options, name, outdated)


def background_manifest(paths: DbtPaths, options: DbtOptions) -> tuple[Manifest | None, str | None]:
    """The last manifest and why it is outdated, starting ``dbt parse`` in the background
    when it is; (None, None) when there is no manifest yet (the caller parses now)."""
    manifest_path = paths.target_dir / "manifest.json"
    # No lock: a parse holds it for seconds, which is what this mode must not wait for. A
    # manifest caught half-written is read again (read_manifest retries).
    why = stale_manifest_reason(paths.project_dir, manifest_path, paths.target_dir)
    if why is not None and not manifest_path.exists():
        return None, None
    manifest = read_manifest(manifest_path)
    if why is not None:
        parse_in_background(paths, options)
    return manifest, why


def parse_in_background(paths: DbtPaths, options: DbtOptions) -> None:
    """Start ``dbt parse`` detached, holding the target folder's lock while it runs, unless
    a parse (or a build) holds it already."""
    import subprocess
    import sys
    import threading

    from headwater.integrations.dbt.invocation import CHILD, dbt_environment

    lock = paths.target_dir / LOCK_FILE
    try:
        import fcntl

        with open(lock, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on close: only a probe
    except ImportError:
        pass
    except OSError:
        return  # busy: someone is parsing or building right now
    args = ["parse", *paths.args(), *effective(options, {}).global_args()]
    script = ("import fcntl, os, subprocess, sys\n"
              "h = open(sys.argv[1], 'a+b'); fcntl.flock(h.fileno(), fcntl.LOCK_EX)\n"
              "fd = os.open(os.devnull, os.O_WRONLY); os.environ['HEADWATER_DBT_EVENT_FD'] = str(fd)\n"
              "sys.exit(subprocess.call([sys.executable, *sys.argv[2:]], pass_fds=(fd,)))\n")
    try:
        proc = subprocess.Popen([sys.executable, "-c", script, str(lock), CHILD, *args], cwd=paths.project_dir,
                                env=dbt_environment(options.env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return
    # Reaped the moment it ends, by a thread that only waits: a long-lived caller (a notebook,
    # a server) is left no zombie, and no Popen is collected unwaited (a ResourceWarning). The
    # thread holds the Popen; a process that exits first leaves the parse to finish on its own.
    threading.Thread(target=proc.wait, name="headwater-dbt-parse-reaper", daemon=True).start()


def _current_manifest(paths: DbtPaths, options: DbtOptions, parse: str) -> Manifest:
    """The manifest, parsed first if it is stale.

    Every worker of a run loads the project when it starts, all at once: without a lock
    each would find the same stale manifest and run ``dbt parse`` into the same target
    folder concurrently, overwriting each other's files. A shared lock while reading and an
    exclusive one to parse (deciding again once it is held: another process may just have
    parsed) makes it one parse, and no reader sees a half-written manifest."""
    manifest_path = paths.target_dir / "manifest.json"

    def reason() -> str | None:
        if parse == "never":
            return None
        if parse == "always":
            return "asked to"
        return stale_manifest_reason(paths.project_dir, manifest_path, paths.target_dir)

    if parse != "always":
        with _target_lock(paths.target_dir, exclusive=False):
            if reason() is None:
                return read_manifest(manifest_path)
    with _target_lock(paths.target_dir, exclusive=True):
        why = reason()
        if why:
            inv, _ = run_dbt(["parse", *paths.args(), *effective(options, {}).global_args()], paths.project_dir)
            if inv.returncode != 0:
                raise inv.failure(f"could not parse the dbt project in {paths.project_dir} ({why})")
        return read_manifest(manifest_path)


LOCK_FILE = ".headwater.lock"
WINDOW_LOCK_FILE = ".headwater.windows.lock"


@contextmanager
def _target_lock(target_dir: Path, exclusive: bool, name: str = LOCK_FILE) -> Iterator[None]:
    """An advisory lock on ``target_dir`` between processes (none where fcntl is missing, or
    the folder is read-only, e.g. a manifest built in CI: nobody parses there)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        handle = open(target_dir / name, "a+b")  # held across the yield
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        handle.close()  # releases the lock


def stale_manifest_reason(project_dir: Path, manifest_path: Path, target_dir: Path) -> str | None:
    """Why the manifest must be re-parsed (missing, or a project file is newer), or None."""
    try:
        written = manifest_path.stat().st_mtime
    except FileNotFoundError:
        return f"{manifest_path} does not exist"
    skip = {target_dir.resolve()}
    for root, dirs, files in os.walk(project_dir):
        here = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS
                   and (here / d).resolve() not in skip]
        for f in files:
            if not f.startswith(".") and os.path.splitext(f)[1] in _WATCHED_SUFFIXES:
                path = here / f
                if path.stat().st_mtime > written:
                    return f"{path.relative_to(project_dir)} changed after the manifest was written"
    return None


@dataclass(frozen=True, slots=True)
class DbtPaths:
    """Where the project, its profiles and its artifacts are; ``args()`` tells dbt."""

    project_dir: Path
    profiles_dir: Path | None
    target_dir: Path
    custom_target: bool

    def args(self) -> list[str]:
        args = ["--project-dir", str(self.project_dir)]
        if self.profiles_dir is not None:
            args += ["--profiles-dir", str(self.profiles_dir)]
        if self.custom_target:
            args += ["--target-path", str(self.target_dir)]
        return args


class DbtProject:
    """A loaded dbt project: its definitions, and how to run dbt for them.

    ``assets`` (the multi-asset and the source assets) and ``checks`` go into
    ``hw.Definitions``; ``key_for("stg_orders")`` finds a node's key, ``node_for(key)`` the
    manifest record behind a key.
    """

    def __init__(self, manifest: Manifest, paths: DbtPaths, translator: DbtTranslator, options: DbtOptions,
                 name: str | None = None, outdated: str | None = None) -> None:
        self.manifest = manifest
        # Why the manifest read is older than the project (parse="background"), else None.
        self.outdated = outdated
        self.paths = paths
        self.translator = translator
        self.options = options
        self.name = name or f"dbt_{manifest.project_name or 'project'}".replace("-", "_")
        self.results = DbtTestResults()
        self._root = str(paths.project_dir)
        self._key: dict[str, AssetKey] = {}
        self._uid: dict[AssetKey, str] = {}
        self._parents: dict[str, tuple[str, ...]] = {}
        # A dbt source whose table a seed or model of this project writes -> that node's unique id.
        self.source_producer: dict[str, str] = {}
        self._map_keys()
        self.topo_index = self._topological_index()
        self.tests_by_asset: dict[str, list[str]] = {}
        self.check_target: dict[str, str] = {}
        self.check_names: dict[str, str] = {}  # dbt test / unit test unique id -> its check's name
        self.skipped_tests: dict[str, str] = {}
        self.unit_tests_by_model: dict[str, list[str]] = {}
        self._freshness = FreshnessObserver(self)
        self._probe = SourceProbe(self)
        self.specs = self._specs()
        self.sources = self._sources()
        self.exposures = self._exposures()
        # Partitioned models (partitions.py): their specs carry the partitions, and each model's
        # DbtPartitions says which dbt vars tell it its window.
        self.specs, self.partitioning = partition_specs(
            self.specs, [d.spec for d in (*self.sources, *self.exposures)], translator,
            lambda k: self.manifest.nodes[self._uid[k]], manifest.project_name)
        self.checks: list[CheckDefinition] = self._checks()
        self.multi_assets = self._multi_assets()
        self.multi_asset = self.multi_assets[0] if self.multi_assets else None
        self.assets: list[AssetsDefinition | SourceDefinition] = [*self.multi_assets, *self.sources, *self.exposures]

    # -- public --------------------------------------------------------------------------------

    @property
    def project_dir(self) -> Path:
        return self.paths.project_dir

    def definitions(self, assets: Iterable[Any] = (), checks: Iterable[CheckDefinition] = (),
                    **kwargs: Any) -> Definitions:
        """``hw.Definitions`` of this project plus any other ``assets`` and ``checks``."""
        return Definitions(assets=[*self.assets, *assets], checks=[*self.checks, *checks], **kwargs)

    def key_for(self, name: str) -> AssetKey:
        """The key of a node, by unique id, by name, or (sources) by ``source_name.table``."""
        if name in self._key:
            return self._key[name]
        hits = [uid for uid, n in self.manifest.nodes.items() if n.name == name and uid in self._key]
        hits += [uid for uid, s in self.manifest.sources.items() if f"{s.source_name}.{s.name}" == name]
        hits += [uid for uid, e in self.manifest.exposures.items() if e.name == name]
        if len(hits) == 1:
            return self._key[hits[0]]
        if hits:
            raise DefinitionError(f"dbt name {name!r} is ambiguous: {', '.join(sorted(hits))}")
        raise DefinitionError(f"dbt project {self.manifest.project_name!r} has no model, seed, snapshot, source "
                              f"or exposure named {name!r}")

    def unique_id_for(self, key: CoercibleToKey) -> str:
        k = to_key(key)
        try:
            return self._uid[k]
        except KeyError:
            raise DefinitionError(f"asset {k} does not come from dbt project {self.manifest.project_name!r}") from None

    def asset_key_of(self, uid: str) -> AssetKey:
        """The asset key of a manifest unique id (a model, seed, snapshot or source)."""
        return self._key[uid]

    def node_for(self, key: CoercibleToKey) -> DbtNode | DbtSource | DbtExposure:
        uid = self.unique_id_for(key)
        return self.manifest.nodes.get(uid) or self.manifest.sources.get(uid) or self.manifest.exposures[uid]

    def asset_parents(self, uid: str) -> tuple[str, ...]:
        """Unique ids of the assets (nodes and sources) a node reads, through ephemeral models."""
        return self._parents.get(uid, ())

    def invocation(self, args: list[str], options: DbtOptions, wanted: Iterable[str] = ()) -> DbtInvocation:
        """A dbt command on this project (``args`` start with the subcommand), not yet started."""
        return DbtInvocation([*args, *self.paths.args()], self.project_dir, env=options.env, wanted=wanted)

    def window_lock(self) -> Any:
        """Held while a step builds partitions: the windows of one run may be steps on several
        workers at once, and two dbt builds in one target folder (and, on duckdb, one database
        file) overwrite each other's artifacts; they take turns instead."""
        return _target_lock(self.paths.target_dir, exclusive=True, name=WINDOW_LOCK_FILE)

    def run_options(self, resources: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> DbtOptions:
        return effective(self.options, resources, [from_tags(tags)] if tags else [])

    def build(self, context: AssetContext) -> Iterator[MaterializeResult | AssetFailure | AssetSkip]:
        """Run one ``dbt build`` for ``context.selected_keys``, yielding each model as it is done."""
        return run_build(self, context)

    # -- building the definitions ----------------------------------------------------------------

    def _map_keys(self) -> None:
        """Key every model, seed, snapshot, source and exposure; a source whose table a seed or
        a model of the project writes becomes that asset (see ``source_links.py``)."""
        t = self.translator
        seen: dict[AssetKey, str] = {}
        things: list[tuple[str, Any]] = [(uid, n) for uid, n in self.manifest.nodes.items() if not n.is_ephemeral]
        things += list(self.manifest.exposures.items())
        for uid, thing in things:
            try:
                key = to_key(t.asset_key(thing) if isinstance(thing, DbtNode) else t.exposure_key(thing))
            except KeySyntaxError as exc:
                raise DefinitionError(f"dbt {uid}: the translator gave an invalid key: {exc}") from None
            self._claim(seen, key, uid)
        links = SourceLinks(self.manifest, t, {u: k for k, u in seen.items()})
        for uid, src in self.manifest.sources.items():
            try:
                key, producer = links.resolve(src)
            except KeySyntaxError as exc:
                raise DefinitionError(f"dbt {uid}: the translator gave an invalid key: {exc}") from None
            if producer is not None:
                self._key[uid] = key  # the same key as its producer; the key still names the producer
                self.source_producer[uid] = producer
                continue
            self._claim(seen, key, uid)
        self.source_links = links
        names = {f"{s.source_name}.{s.name}" for s in self.manifest.sources.values()}
        unknown = sorted(set(t.source_assets) - names)
        if unknown:
            raise DefinitionError(f"source_assets names {unknown[0]!r}, which is no source of dbt project "
                                  f"{self.manifest.project_name!r} (its sources: {', '.join(sorted(names)) or 'none'})")
        nodes = self.manifest.nodes
        ephemeral_parents: dict[str, tuple[str, ...]] = {}

        def parents(uid: str, trail: tuple[str, ...] = ()) -> tuple[str, ...]:
            node = nodes.get(uid)
            if node is None:
                return ()
            out: list[str] = []
            for dep in node.depends_on:
                dep = self.source_producer.get(dep, dep)
                if dep in self._key:
                    out.append(dep)
                elif dep in nodes and nodes[dep].is_ephemeral and dep not in trail:
                    if dep not in ephemeral_parents:
                        ephemeral_parents[dep] = parents(dep, (*trail, uid))
                    out.extend(ephemeral_parents[dep])
            return tuple(dict.fromkeys(out))

        for uid, node in nodes.items():
            if node.is_ephemeral:
                ephemeral_parents.setdefault(uid, parents(uid))
            else:
                self._parents[uid] = parents(uid)
        self._ephemeral_parents = ephemeral_parents

    def _claim(self, seen: dict[AssetKey, str], key: AssetKey, uid: str) -> None:
        if key in seen:
            raise DefinitionError(
                f"dbt {seen[key]} and {uid} both map to asset key {key}; give them distinct keys in "
                "DbtTranslator.asset_key / source_key / exposure_key (e.g. include the package or folder)")
        seen[key] = uid
        self._key[uid] = key
        self._uid[key] = uid

    def _topological_index(self) -> dict[str, int]:
        order: dict[str, int] = {}
        state: dict[str, int] = {}
        for start in sorted(self._parents):
            if start in order:
                continue
            stack = [(start, iter(self._parents[start]))]
            state[start] = 1
            while stack:
                uid, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    order[uid] = len(order)
                    continue
                if nxt in self._parents and nxt not in order and state.get(nxt) != 1:
                    state[nxt] = 1
                    stack.append((nxt, iter(self._parents[nxt])))
        return order

    def _location(self, package: str, path: str) -> SourceLocation | None:
        if not path:
            return None
        root = self._root if package == self.manifest.project_name else f"{self._root}/dbt_packages/{package}"
        return SourceLocation(f"{root}/{path}", 1)

    def _specs(self) -> list[AssetSpec]:
        t = self.translator
        groups = self.manifest.groups
        specs = []
        seeds = SeedVersions(self.paths.target_dir)
        for uid, node in self.manifest.nodes.items():
            if node.is_ephemeral:
                continue
            if node.resource_type == "seed" and has_path_checksum(node.raw):
                # dbt's checksum of a seed over 1 MiB is its path: version its content instead.
                version = seeds.version(self._root_of(node.package_name) / node.original_file_path)
                node = replace(node, checksum=version or node.checksum)
            elif self.outdated is not None:
                node = replace(node, checksum=self._edited_checksum(node) or node.checksum)
            group = groups.get(node.group) if node.group else None
            specs.append(AssetSpec(
                key=self._key[uid], deps=tuple(self._key[p] for p in self._parents[uid]), group=t.group(node),
                tags=t.tags(node), owners=t.owners(node, group), kinds=t.kinds(node), description=t.description(node),
                code_version=t.code_version(node), metadata=t.metadata(node),
                location=self._location(node.package_name, node.original_file_path)))
        seeds.save()
        specs.sort(key=lambda s: self.topo_index[self._uid[s.key]])
        return specs

    def _edited_checksum(self, node: DbtNode) -> str | None:
        """dbt's checksum of a file edited since the manifest was written (sha256 of its
        stripped text, as dbt computes it), so an edit shows before the parse catches up."""
        path = self._root_of(node.package_name) / node.original_file_path
        try:
            if path.stat().st_mtime <= self.manifest.path.stat().st_mtime:
                return None
            import hashlib

            return hashlib.sha256(path.read_text().strip().encode()).hexdigest()
        except (OSError, UnicodeDecodeError):
            return None

    def _root_of(self, package: str) -> Path:
        root = self.paths.project_dir
        return root if package == self.manifest.project_name else root / "dbt_packages" / package

    def _sources(self) -> list[SourceDefinition]:
        t = self.translator
        out = []
        for uid, src in self.manifest.sources.items():
            if uid in self.source_producer or self.source_links.produced_elsewhere(src):
                continue
            observe = self._freshness.observer_for(src) if src.has_freshness else self._probe.observer_for(src)
            definition = source_asset(
                self._key[uid], observe=observe, group=t.source_group(src), description=t.description(src),
                tags=t.tags(src), owners=t.source_owners(src), kinds=("dbt", "source"),
                metadata=t.source_metadata(src), freshness=t.freshness(src))
            location = self._location(src.package_name, src.original_file_path)
            out.append(replace(definition, spec=replace(definition.spec, location=location)))
        return out

    def _exposures(self) -> list[SourceDefinition]:
        """Each exposure as an asset Headwater neither builds nor observes, downstream of what
        it reads: the dashboard shows in the graph, in lineage and in selections, so
        ``materialize '+weekly_revenue'`` builds everything it needs (the exposure itself is
        not run, as a source is not)."""
        t = self.translator
        out = []
        for uid, exposure in self.manifest.exposures.items():
            deps = [self._key[d] for d in exposure.depends_on if d in self._key]
            for d in exposure.depends_on:
                if d in self._ephemeral_parents:
                    deps.extend(self._key[p] for p in self._ephemeral_parents[d])
            definition = source_asset(
                self._key[uid], group=t.exposure_group(exposure), description=t.description(exposure),
                tags=t.tags(exposure), owners=t.exposure_owners(exposure), kinds=t.exposure_kinds(exposure),
                metadata=t.exposure_metadata(exposure))
            spec = replace(definition.spec, deps=tuple(dict.fromkeys(deps)),
                           location=self._location(exposure.package_name, exposure.original_file_path))
            out.append(replace(definition, spec=spec))
        return out

    def _test_target(self, test: DbtTest) -> str | None:
        if test.attached_node:
            uid = self.source_producer.get(test.attached_node, test.attached_node)
            if uid in self._key:
                return uid
            if uid in self._ephemeral_parents:
                return None
        candidates = [self.source_producer.get(d, d) for d in test.depends_on if d in self._key]
        for d in test.depends_on:
            if d in self._ephemeral_parents:
                candidates.extend(self._ephemeral_parents[d])
        if not candidates:
            return None
        # A singular test reading several models tests the most downstream of them.
        return max(dict.fromkeys(candidates), key=lambda u: self.topo_index.get(u, -1))

    def _checks(self) -> list[CheckDefinition]:
        t = self.translator
        checks = []
        names: dict[tuple[str, str], str] = {}
        for uid, unit in self.manifest.unit_tests.items():
            # A unit test checks the model's SQL on rows of its own, before dbt builds the model:
            # a blocking check of the model, as in ``dbt build`` (a failing one skips the model).
            if unit.model is None or unit.model not in self._key:
                self.skipped_tests[uid] = "it tests no model Headwater tracks"
                continue
            name = unit.name if (unit.model, unit.name) not in names else f"{unit.name}_unit"
            names[(unit.model, name)] = uid
            self.check_target[uid] = unit.model
            self.check_names[uid] = name
            self.tests_by_asset.setdefault(unit.model, []).append(uid)
            self.unit_tests_by_model.setdefault(unit.model, []).append(uid)
            spec = CheckSpec(self._key[unit.model], name, "error", True,
                             unit.description or f"dbt unit test {unit.name} (the model's SQL on fixed rows)",
                             self._location(self.manifest.project_name, unit.original_file_path))
            checks.append(CheckDefinition(spec, test_check(self, uid), value_param=None, context_param=True))
        for uid, test in self.manifest.tests.items():
            target = self._test_target(test)
            if target is None:
                self.skipped_tests[uid] = "it tests no model, seed, snapshot or source Headwater tracks"
                continue
            name = t.check_name(test)
            if (target, name) in names:
                name = f"{name}_{uid.rsplit('.', 1)[-1]}"
            names[(target, name)] = uid
            self.check_target[uid] = target
            self.check_names[uid] = name
            self.tests_by_asset.setdefault(target, []).append(uid)
            try:
                spec = CheckSpec(self._key[target], name, t.check_severity(test), t.check_blocking(test),
                                 t.check_description(test), self._location(test.package_name, test.original_file_path))
            except ValueError as exc:
                raise DefinitionError(f"dbt {uid}: {exc}") from None
            # The function takes only ``context`` (a CheckContext); built directly, as make_check
            # would, without inspecting 10,000 identical signatures.
            checks.append(CheckDefinition(spec, test_check(self, uid), value_param=None, context_param=True))
        return checks

    def _multi_assets(self) -> list[AssetsDefinition]:
        """One multi-asset (one step, one ``dbt build``) per partitions and layer: a project
        without partitioned models is one, named after the project (see ``partitions.py``)."""
        if not self.specs:
            return []
        if not self.partitioning and not any(s.partitions for s in self.specs):
            return [self._multi_asset(self.name, self.specs)]
        by_key = {s.key: s for s in self.specs}
        groups = layers([s.key for s in self.specs], {s.key: s.deps for s in self.specs},
                        {s.key: s.partitions for s in self.specs})
        out, names = [], set()
        for i, keys in enumerate(groups):
            d = by_key[keys[0]].partitions
            name = self.name if i == 0 and d is None else f"{self.name}_{label(d)}"
            n = 2
            while name in names:
                name, n = f"{self.name}_{label(d)}_{n}", n + 1
            names.add(name)
            out.append(self._multi_asset(name, [by_key[k] for k in keys]))
        return out

    def _multi_asset(self, name: str, specs: list[AssetSpec]) -> AssetsDefinition:
        """A subsettable multi-asset over models, seeds and snapshots: one step, one dbt build."""
        project = self

        def dbt_build(context: AssetContext) -> Iterator[MaterializeResult | AssetFailure | AssetSkip]:
            yield from run_build(project, context)

        dbt_build.__doc__ = f"dbt build of project {self.manifest.project_name!r}"
        dbt_build.dbt_project = self  # type: ignore[attr-defined]  # how tools find the project (lineage)
        # dbt runs in a child process of its own (invocation.py): no worker process is needed
        # around it, so a run of dbt steps only skips a worker's start-up (Instance.materialize).
        dbt_build.runs_in_child_process = True  # type: ignore[attr-defined]
        if len(specs) < 50:
            return multi_asset(specs=specs, name=name, can_subset=True)(dbt_build)
        # What @multi_asset builds, without copying thousands of specs that already carry their location.
        return AssetsDefinition(name=name, specs=tuple(specs), fn=dbt_build,
                                params=signature_params(dbt_build, {}), is_multi=True, can_subset=True)
