"""A workspace: several code locations joined into one asset graph, each loaded apart.

Every location is loaded by a process of its own interpreter (``location_server``), which
reports its definitions as data; the workspace joins those into one ``Definitions`` whose
functions are stand-ins, so status, selection, lineage and planning work on the whole
graph while no user code is imported here. Steps go back to their location's process
(``LocationExecutor``).

A location that fails to load is *broken*: it is listed with the user's traceback, the
others keep working, and its assets — known from its last good definitions (the cache),
or as what other locations depend on — show as "location unavailable", never as missing.

Loading reads the definitions cache first (``definitions_cache``): a location whose files
have not changed since its process last reported is not started at all.
"""

from __future__ import annotations

import json
import os
import selectors
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec
from headwater.definitions.assets import SourceDefinition
from headwater.definitions.data_codec import RemoteFunction
from headwater.definitions.definitions import Definitions
from headwater.definitions.definitions_cache import DefinitionsCache, file_stats
from headwater.definitions.definitions_data import automation_from_data, parts_from_data
from headwater.definitions.locations_config import LocationConfig, WorkspaceConfig, find_workspace
from headwater.errors import HeadwaterError
from headwater.execution.location_executor import LocationExecutor
from headwater.execution.location_process import LoadReport, LocationProcess

UNAVAILABLE_GROUP = "location_unavailable"
_SKIP = {".venv", "venv", ".headwater", "__pycache__", ".git", "target", "dbt_packages", "logs", "node_modules"}


@dataclass
class LocationState:
    """What the workspace knows of one location now."""

    config: LocationConfig
    ok: bool = False
    data: dict[str, Any] | None = None  # the definitions in use: fresh, or the last good ones
    origin: str = ""  # "process" (read now) or "cache" (files unchanged since)
    error: str = ""
    traceback: str = ""
    loaded_at: float | None = None  # when the definitions in use were read
    seconds: float = 0.0  # how long its process took to report
    # ``data`` decoded (definitions with stand-in functions), kept while ``data`` is the same
    # object: a reload of one location decodes that one only.
    _parts: tuple[Any, Any, Any] | None = field(default=None, repr=False)
    _parts_of: Any = field(default=None, repr=False)

    def parts(self) -> tuple[Any, Any, Any]:
        if self._parts is None or self._parts_of is not self.data:
            assert self.data is not None
            if _names_automation(self.data):
                import headwater.automation.data_types  # noqa: F401 - sensors, schedules, conditions as data
            items, checks = parts_from_data(self.data, self.name)
            self._parts, self._parts_of = (items, checks, automation_from_data(self.data)), self.data
        return self._parts

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def status(self) -> str:
        return "loaded" if self.ok else "broken"

    @property
    def warning(self) -> str:
        if self.ok:
            return ""
        if self.data is not None:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.loaded_at or 0))
            return f"location {self.name} failed to load; showing its last good definitions (read {when})"
        return f"location {self.name} failed to load; its assets are unavailable"

    @property
    def asset_count(self) -> int:
        if self.data is None:
            return 0
        return sum(len(a["specs"]) for a in self.data["assets"]) + len(self.data["sources"])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "source": self.config.source,
                "python": self.config.python or sys.executable, "working_dir": self.config.working_dir,
                "assets": self.asset_count, "origin": self.origin, "loaded_at": self.loaded_at,
                "error": self.error or None, "traceback": self.traceback or None, "warning": self.warning or None}


class WorkspaceDefinitions(Definitions):
    """The joined definitions, knowing which location each asset and step belongs to."""

    workspace: Workspace
    location_of: dict[AssetKey, str]
    unavailable: frozenset[AssetKey]

    def location_of_step(self, step_key: str) -> str:
        return self.location_of[self.definition_for_step(step_key).keys[0]]


@dataclass(frozen=True)
class WorkspaceLocation:
    """Where a queued run of a workspace finds its definitions (recorded with the run)."""

    workspace: str
    working_dir: str
    file: str | None = None
    pyproject: str | None = None

    def to_json(self) -> str:
        return json.dumps({"workspace": self.workspace, "working_dir": self.working_dir})

    def __str__(self) -> str:
        return f"workspace {self.workspace}"


class Workspace:
    def __init__(self, config: WorkspaceConfig, home: str | os.PathLike[str], clock: Any = time.time) -> None:
        self.config = config
        self.clock = clock
        self.cache = DefinitionsCache(Path(home) / "locations")
        self.failures = DefinitionsCache(Path(home) / "locations" / "failed")
        self.states: dict[str, LocationState] = {c.name: LocationState(c) for c in config.locations}
        self.processes: dict[str, LocationProcess] = {}
        self._retired: list[LocationProcess] = []  # gave up a step (timeout); still running others
        self._defs: WorkspaceDefinitions | None = None
        self._lock = threading.RLock()
        # A command stops the processes it started once its run ends; the UI and the daemon
        # keep them to run the next steps at once.
        self.keep_processes = True

    @staticmethod
    def find(home: str | os.PathLike[str], cwd: str | None = None) -> Workspace | None:
        config = find_workspace(cwd)
        return Workspace(config, home) if config is not None else None

    @property
    def location(self) -> WorkspaceLocation:
        return WorkspaceLocation(self.config.path, str(Path(self.config.path).parent))

    # -- loading ---------------------------------------------------------------------------

    def load(self, use_cache: bool = True, fresh: Iterable[str] = ()) -> Workspace:
        """Every location's definitions: from the cache where its files are unchanged, else
        from its process (started in parallel, kept for running steps). The locations named in
        ``fresh`` (a reload) are read from a new process whatever the cache says: they start
        first, and the others are read from the cache and decoded while they load."""
        fresh = list(fresh)
        for n in fresh:
            self.config.location(n)  # an unknown name is an error naming the workspace's locations
        started = self._spawn_all(fresh)
        todo = []
        for cfg in self.config.locations:
            if cfg.name in started:
                continue
            state = self.states[cfg.name]
            entry = self.cache.fresh(cfg.name, _identity(cfg)) if use_cache else None
            failed = self.failures.fresh(cfg.name, _identity(cfg)) if use_cache and entry is None else None
            if entry is not None:
                state.ok, state.data, state.origin, state.loaded_at = True, entry.data, "cache", entry.written_at
            elif failed is not None:  # broken, and nothing changed since: no need to try again
                self._broken(state, failed.data["error"], failed.data["traceback"])
            else:
                todo.append(cfg.name)
        started.update(self._spawn_all(todo))
        self._collect(started)
        self._defs = None
        return self

    def reload(self, name: str | None = None) -> list[LocationState]:
        """Read ``name`` (every location when None) again from a new process; the others are untouched."""
        names = [name] if name is not None else [c.name for c in self.config.locations]
        for n in names:
            self.config.location(n)  # an unknown name is an error naming the workspace's locations
        with self._lock:
            old = [p for p in (self.processes.pop(n, None) for n in names) if p is not None]
            for process in old:
                process.ask_to_stop()  # it ends (its running steps first) while the new one loads
            started = self._spawn_all(names)
            for process in old:
                process.stop()
            self._collect(started)
            self._defs = None
        return [self.states[n] for n in names]

    def changed(self) -> list[str]:
        """Locations whose files changed since their definitions were read (what the daemon reloads)."""
        out = []
        for cfg in self.config.locations:
            state = self.states[cfg.name]
            if state.ok and self.cache.fresh(cfg.name, _identity(cfg)) is None:
                out.append(cfg.name)
            elif not state.ok and self.failures.fresh(cfg.name, _identity(cfg)) is None:
                out.append(cfg.name)
        return out

    def reload_changed(self) -> list[LocationState]:
        return [s for n in self.changed() for s in self.reload(n)]

    def _spawn_all(self, names: Iterable[str]) -> dict[str, LocationProcess | LoadReport]:
        return {n: self._spawn(self.states[n].config) for n in names}

    def _collect(self, started: dict[str, LocationProcess | LoadReport]) -> None:
        """Record each started location's report as it arrives, whatever the order. While
        the processes load (all at once), what is already known — the locations read from
        the cache, those that have reported — is decoded, so the join that follows finds
        only the last one left to decode."""
        waiting: dict[str, LocationProcess] = {}
        for n, process in started.items():
            if isinstance(process, LocationProcess):
                waiting[n] = process
            else:
                self._record(self.states[n], process, process)
        if not waiting:
            return
        known = [s for s in self.states.values() if s.data is not None and s.name not in waiting]
        with selectors.DefaultSelector() as selector:
            for n, process in waiting.items():
                selector.register(process.fileno(), selectors.EVENT_READ, n)
            while waiting:
                ready = selector.select(timeout=0 if known else None)
                if not ready:
                    _decode_early(known.pop(0))
                    continue
                for key, _events in ready:
                    selector.unregister(key.fileobj)
                    process = waiting.pop(key.data)
                    state = self.states[key.data]
                    self._record(state, process, process.wait_loaded())
                    if state.data is not None:
                        known.append(state)

    def _spawn(self, cfg: LocationConfig) -> LocationProcess | LoadReport:
        python = cfg.python or sys.executable
        if not Path(python).exists():
            return LoadReport(False, error=f"its interpreter {python} does not exist")
        try:
            return LocationProcess(cfg.name, python, cfg.to_dict(), cfg.working_dir)
        except HeadwaterError as exc:
            return LoadReport(False, error=str(exc))

    def _record(self, state: LocationState, process: Any, report: LoadReport) -> None:
        cfg = state.config
        state.seconds = report.seconds
        if report.ok and report.data is not None:
            now = self.clock()
            files = report.files + file_stats([self.config.path])
            self.cache.write(cfg.name, _identity(cfg), files, report.data, now)
            self.failures.forget(cfg.name)
            state.ok, state.data, state.origin, state.loaded_at = True, report.data, "process", now
            state.error = state.traceback = ""
            self.processes[cfg.name] = process
            return
        self.failures.write(cfg.name, _identity(cfg), _watched_files(cfg, self.config.path),
                            {"error": report.error, "traceback": report.traceback}, self.clock())
        self._broken(state, report.error, report.traceback)

    def _broken(self, state: LocationState, error: str, tb: str) -> None:
        state.ok, state.error, state.traceback = False, error, tb
        if state.data is None:  # keep what this process showed before; else the last good on disk
            last = self.cache.read(state.name)
            if last is not None:
                state.data, state.origin, state.loaded_at = last.data, "cache", last.written_at

    # -- the joined graph ------------------------------------------------------------------

    def definitions(self) -> WorkspaceDefinitions:
        with self._lock:
            if self._defs is None:
                self._defs = self._join()
            return self._defs

    def _join(self) -> WorkspaceDefinitions:
        items: list[Any] = []
        checks: list[Any] = []
        schedules: list[Any] = []
        sensors: list[Any] = []
        owner: dict[AssetKey, str] = {}
        unavailable: set[AssetKey] = set()
        external: dict[AssetKey, str] = {}
        # What each location produces: a source another location declares with one of these keys
        # (a dbt source over the table a Python ingest writes) is that asset, read across locations.
        produced: dict[AssetKey, str] = {}
        for cfg in self.config.locations:
            state = self.states[cfg.name]
            if state.data is not None:
                for item in state.parts()[0]:
                    if not isinstance(item, SourceDefinition):
                        produced.update(dict.fromkeys(item.keys, cfg.name))
        for cfg in self.config.locations:
            state = self.states[cfg.name]
            if state.data is None:
                continue
            parts, cs, (s, n) = state.parts()
            parts = [i for i in parts
                     if not (isinstance(i, SourceDefinition) and produced.get(i.key, cfg.name) != cfg.name)]
            for item in parts:
                for key in _keys(item):
                    if key in owner:
                        raise HeadwaterError(f"asset {key} is defined in two code locations: {owner[key]!r} and "
                                             f"{cfg.name!r}; rename one or remove it from one location")
                    owner[key] = cfg.name
                    if not state.ok:
                        unavailable.add(key)
            items.extend(parts)
            checks.extend(cs)
            schedules.extend(s)
            sensors.extend(n)
            for fn in [x.fn for x in n] + [i.observe for i in parts if isinstance(i, SourceDefinition)]:
                if isinstance(fn, RemoteFunction):
                    fn.caller = self._call  # sensors and observations run in the location's process
            for text in state.data.get("external", ()):
                external.setdefault(AssetKey.parse(text), cfg.name)
        broken = [s.name for s in self.states.values() if not s.ok and s.data is None]
        for key, needed_by in sorted(external.items(), key=lambda kv: str(kv[0])):
            if key in owner:
                continue
            if not broken:
                raise HeadwaterError(f"location {needed_by!r} depends on asset {key}, which no code location "
                                     "defines")
            owner[key] = broken[0] if len(broken) == 1 else "?"
            items.append(SourceDefinition(AssetSpec(key, is_source=True, group=UNAVAILABLE_GROUP,
                                                    code_location=owner[key],
                                                    description=f"defined by an unavailable location "
                                                                f"({', '.join(broken)})")))
            unavailable.add(key)
        defs = WorkspaceDefinitions(assets=items, checks=checks, schedules=schedules, sensors=sensors)
        defs.workspace, defs.location_of, defs.unavailable = self, owner, frozenset(unavailable)
        return defs

    # -- running steps ---------------------------------------------------------------------

    def process_for(self, name: str) -> LocationProcess:
        """The running process of ``name``, started now if the definitions came from the cache."""
        with self._lock:
            process = self.processes.get(name)
            if process is not None and process.usable():
                return process
            self._retired = [p for p in self._retired if p.alive()]
            if process is not None and process.alive():  # retiring: killed once idle, or at close
                self._retired.append(process)
            state = self.states[name]
            spawned = self._spawn(state.config)
            report = spawned.wait_loaded() if isinstance(spawned, LocationProcess) else spawned
            self._record(state, spawned, report)
            if not state.ok:
                raise HeadwaterError(f"code location {name!r} is unavailable: {state.error}")
            return self.processes[name]

    def _call(self, fn: RemoteFunction, args: tuple[Any, ...]) -> Any:
        """A sensor's or an observe function's stand-in, called: run the real one where it lives."""
        assert fn.target is not None
        kind, target = fn.target
        result = self.process_for(fn.location).call(kind, target, args)
        if kind != "sensor":
            return result
        value, cursor, cursor_set = result
        if cursor_set and args and hasattr(args[0], "update_cursor"):
            args[0].update_cursor(cursor)  # the function set the cursor of its copy of the context
        return value

    def executor(self, store_url: str, values: dict[str, Any]) -> LocationExecutor:
        defs = self.definitions()
        return LocationExecutor(self.process_for, defs.location_of_step, store_url, values,
                                on_close=None if self.keep_processes else self.close)

    def ask_to_stop(self) -> None:
        """Tell every location's process to end, without waiting (``close`` reaps them): a
        command that only read the definitions lets them end while it joins them."""
        with self._lock:
            for process in self.processes.values():
                process.ask_to_stop()

    def close(self) -> None:
        with self._lock:
            for process in self.processes.values():
                process.ask_to_stop()  # all end at once; then each is waited for
            for process in self.processes.values():
                process.stop()
            self.processes.clear()
            for process in self._retired:
                process.kill()
                process.stop()
            self._retired.clear()


_NONE: dict[str, Any] = {}


def location_fields(defs: Any, key: AssetKey) -> dict[str, Any]:
    """What a status row adds in a workspace: the asset's location, and whether that location
    is unavailable now (broken). Nothing for a single-location project."""
    where = getattr(defs, "location_of", None)
    if where is None:
        return _NONE
    if key in defs.unavailable:
        return {"location": where.get(key), "location_status": "unavailable"}
    return {"location": where.get(key), "location_status": "loaded"}


def _decode_early(state: LocationState) -> None:
    """Decode ``state``'s definitions now, while processes load; a failure is left for the
    join to report (it decodes them again)."""
    try:
        state.parts()
    except Exception:  # noqa: BLE001, S110 - the join decodes them again and raises it there
        pass


def _names_automation(data: dict[str, Any]) -> bool:
    """Whether ``data`` holds sensors, schedules or automation conditions (decoding them needs
    the automation layer's types, which a status pass over other projects never loads)."""
    return bool(data.get("sensors") or data.get("schedules")) or any(
        "automation" in spec for a in data["assets"] for spec in a["specs"])


def _keys(item: Any) -> tuple[AssetKey, ...]:
    return item.keys if hasattr(item, "keys") and not isinstance(item, SourceDefinition) else (item.key,)


def _identity(cfg: LocationConfig) -> str:
    """The configuration a cache entry was read under, and the interpreter it was read with."""
    python = cfg.python or sys.executable
    stat = file_stats([python])[0]
    return json.dumps([cfg.to_dict(), stat[1:]], sort_keys=True)


def _watched_files(cfg: LocationConfig, config_path: str) -> list[list[Any]]:
    """For a location that failed to load (no list of imported files): its Python files and
    dbt project files, so that fixing any of them makes the workspace try again."""
    roots = [Path(cfg.working_dir)] + ([Path(cfg.file).parent] if cfg.file else []) + \
        ([Path(cfg.dbt)] if cfg.dbt else [])
    paths: set[str] = {config_path} | ({cfg.file} if cfg.file else set())
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _SKIP and not d.startswith(".")]
            paths.update(str(Path(folder) / f) for f in files if f.endswith((".py", ".sql", ".yml", ".yaml")))
            if len(paths) > 5000:  # a huge tree: watch what was found; a reload picks up the rest
                break
    return file_stats(sorted(paths))
