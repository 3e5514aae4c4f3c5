"""Finding and importing the user's definitions: the only module that imports user code.

A location is plain data (a file or a module, an optional attribute, the pyproject.toml
whose ``[tool.headwater]`` named it) so that worker processes can load the very same
definitions. Import errors are shown with the user's own traceback; our import machinery
frames are cut off.

``[tool.headwater]`` may also configure integrations (``[tool.headwater.dbt]``), which
declare assets without any Python: alone, or added to the module's definitions.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from headwater.definitions.assets import AssetsDefinition, SourceDefinition
from headwater.definitions.checks import CheckDefinition
from headwater.definitions.definitions import Definitions
from headwater.definitions.error_sites import annotate
from headwater.definitions.project_settings import KEYS as SETTINGS_KEYS
from headwater.definitions.project_settings import find_settings
from headwater.errors import DefinitionError, HeadwaterError, LoadError
from headwater.gc_pause import paused_gc

# Integrations configurable in [tool.headwater] live in layers above this one: they are
# found by name, like plugins, and imported only when a project's pyproject.toml names them
# (so ``import headwater`` stays light). Each takes (its table, the pyproject's folder, a
# description of where the table is, for errors) and returns things with ``assets`` and
# ``checks`` (one, or a list).
INTEGRATIONS = {"dbt": "headwater.integrations.dbt.config:load_from_config"}
# ``dask`` configures the Dask executor (``execution/dask_cluster.py`` reads it), not definitions.
_KEYS = ("file", "module", "attribute", "dask", *INTEGRATIONS, *SETTINGS_KEYS, "locations")


@dataclass(frozen=True)
class DefinitionsLocation:
    file: str | None = None
    module: str | None = None
    attribute: str | None = None
    working_dir: str = "."
    # The pyproject.toml whose [tool.headwater] gave this location; its integration tables
    # (``[tool.headwater.dbt]``) are loaded with, or instead of, the file or module.
    pyproject: str | None = None

    def __str__(self) -> str:
        if not self.file and not self.module:
            return f"[tool.headwater] in {self.pyproject}"
        target = f"file {self.file}" if self.file else f"module {self.module}"
        return target + (f" (attribute {self.attribute})" if self.attribute else "")

    def to_dict(self) -> dict[str, str | None]:
        return {"file": self.file, "module": self.module, "attribute": self.attribute,
                "working_dir": self.working_dir, "pyproject": self.pyproject}

    def to_json(self) -> str:
        """How a queued run remembers where its definitions live, for the worker that runs it."""
        import json

        return json.dumps(self.to_dict(), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> DefinitionsLocation:
        import json

        try:
            data = json.loads(text)
            return DefinitionsLocation(file=data.get("file"), module=data.get("module"),
                                       attribute=data.get("attribute"), working_dir=data.get("working_dir") or ".",
                                       pyproject=data.get("pyproject"))
        except (ValueError, AttributeError) as exc:
            raise HeadwaterError(f"not a definitions location: {text!r}") from exc


def find_location(file: str | None = None, module: str | None = None, attribute: str | None = None,
                  cwd: str | os.PathLike[str] | None = None) -> DefinitionsLocation:
    """From explicit arguments, else from ``[tool.headwater]`` in the nearest pyproject.toml."""
    base = Path(cwd or os.getcwd()).resolve()
    if file and module:
        raise HeadwaterError("give either -f/--file or -m/--module, not both")
    if file:
        return DefinitionsLocation(file=str((base / file).resolve()), attribute=attribute, working_dir=str(base))
    if module:
        return DefinitionsLocation(module=module, attribute=attribute, working_dir=str(base))
    for folder in (base, *base.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            config = _tool_config(pyproject)
            if config:
                unknown = sorted(set(config) - set(_KEYS))
                if unknown:
                    raise HeadwaterError(f"[tool.headwater] in {pyproject}: unknown key(s) {', '.join(unknown)} "
                                         f"(known: {', '.join(_KEYS)})")
                if "locations" in config:
                    raise HeadwaterError(f"{pyproject} declares a workspace of several code locations "
                                         "([[tool.headwater.locations]]): load it as a workspace")
                # Recorded only when an integration is configured, so a plain project's
                # location (and its queued runs) stay as they were.
                source = str(pyproject) if any(k in config for k in INTEGRATIONS) else None
                if config.get("file"):
                    return DefinitionsLocation(file=str((folder / config["file"]).resolve()),
                                               attribute=attribute or config.get("attribute"),
                                               working_dir=str(folder), pyproject=source)
                if config.get("module"):
                    return DefinitionsLocation(module=config["module"],
                                               attribute=attribute or config.get("attribute"),
                                               working_dir=str(folder), pyproject=source)
                if source is not None:
                    return DefinitionsLocation(working_dir=str(folder), pyproject=source)
                raise HeadwaterError(f"[tool.headwater] in {pyproject} needs file = ..., module = ... or a "
                                     "[tool.headwater.dbt] table")
    raise HeadwaterError(
        "no definitions to load: pass -f pipeline.py or -m package.module, or add [tool.headwater] "
        "with file = \"...\" or module = \"...\" (or a [tool.headwater.dbt] table) to pyproject.toml")


def _tool_config(pyproject: Path) -> dict[str, Any]:
    try:
        config = tomllib.loads(pyproject.read_text()).get("tool", {}).get("headwater")
    except tomllib.TOMLDecodeError as exc:
        raise HeadwaterError(f"{pyproject} is not valid TOML: {exc}") from exc
    if config is not None and not isinstance(config, dict):
        raise HeadwaterError(f"[tool.headwater] in {pyproject} must be a table")
    return config or {}


def load_definitions(location: DefinitionsLocation) -> Definitions:
    # A project's definitions are hundreds of thousands of small objects that all stay
    # alive: the cyclic collector rescanning them while they are built freed nothing and
    # was more than half the load of 100,000 assets (3 of 5.3 s of CPU).
    with paused_gc():
        defs = _load(location)
    if defs.step_timeout is None:  # the project's default for assets that set no timeout
        near = Path(location.file).parent if location.file else Path(location.working_dir)
        defs.step_timeout = find_settings(near).step_timeout
    return defs


def _load(location: DefinitionsLocation) -> Definitions:
    integrations = _integrations(location)
    if not location.file and not location.module:
        if not integrations:
            raise LoadError(str(location), "it names no file, no module and no integration")
        return Definitions(assets=[a for i in integrations for a in i.assets],
                           checks=[c for i in integrations for c in i.checks])
    module = _import(location)
    if not integrations:
        return _find_definitions(module, location)
    assets = [a for i in integrations for a in i.assets]
    checks = [c for i in integrations for c in i.checks]
    if location.attribute or any(isinstance(v, Definitions) for v in vars(module).values()):
        return _find_definitions(module, location).extended(assets=assets, checks=checks)
    # No Definitions object: the module's own assets and checks join the integration's, so
    # they may depend on its assets (a Python asset reading a dbt mart) and test them.
    own = [v for v in vars(module).values() if isinstance(v, (AssetsDefinition, SourceDefinition))]
    own_checks = [v for v in vars(module).values() if isinstance(v, CheckDefinition)]
    return Definitions(assets=[*assets, *own], checks=[*checks, *own_checks])


def _integrations(location: DefinitionsLocation) -> list[Any]:
    """What the integration tables of the location's [tool.headwater] declare."""
    if location.pyproject is None:
        return []
    path = Path(location.pyproject)
    config = _tool_config(path)
    out: list[Any] = []
    for name, target in INTEGRATIONS.items():
        table = config.get(name)
        if table is None:
            continue
        module_name, _, function = target.partition(":")
        load = getattr(importlib.import_module(module_name), function)
        loaded = load(table, path.parent, f"[tool.headwater.{name}] in {path}")
        out.extend(loaded if isinstance(loaded, list) else [loaded])
    return out


def _distrust_same_second_bytecode(source: Path) -> None:
    """Python trusts a cached ``.pyc`` while the source's size and whole-second mtime match
    the ones it was compiled from: an edit that keeps the size, saved in the same second as
    the last load (a script, an editor's quick fix of one character), would load the old
    definitions. A ``.pyc`` written no later than that second may predate the edit: removed,
    so this load compiles the source (and writes a ``.pyc`` that is trusted next time)."""
    try:
        cached = Path(importlib.util.cache_from_source(str(source)))
        if int(cached.stat().st_mtime) <= int(source.stat().st_mtime):
            cached.unlink(missing_ok=True)
    except (OSError, NotImplementedError, ValueError):
        pass  # no cache (or none possible): the source is compiled anyway


def _import(location: DefinitionsLocation) -> ModuleType:
    if location.working_dir not in sys.path:
        sys.path.insert(0, location.working_dir)
    try:
        if location.file:
            path = Path(location.file)
            if not path.is_file():
                raise LoadError(str(location), f"no such file: {path}")
            folder = str(path.parent)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            name = "headwater_user_" + path.stem
            _distrust_same_second_bytecode(path)
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise LoadError(str(location), f"cannot import {path}")
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
            return mod
        assert location.module
        if location.module not in sys.modules:
            found = importlib.util.find_spec(location.module)
            if found is not None and found.origin and found.origin.endswith(".py"):
                _distrust_same_second_bytecode(Path(found.origin))
        return importlib.import_module(location.module)
    except HeadwaterError as exc:
        if isinstance(exc, DefinitionError) and not isinstance(exc, LoadError):
            annotate(exc, location.file or getattr(sys.modules.get(location.module or ""), "__file__", None))
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LoadError(str(location), f"{type(exc).__name__}: {exc}", _user_traceback(exc)) from None


def _find_definitions(module: ModuleType, location: DefinitionsLocation) -> Definitions:
    if location.attribute:
        value = getattr(module, location.attribute, None)
        if not isinstance(value, Definitions):
            raise LoadError(str(location), f"{location.attribute!r} is not a Definitions object")
        return value
    found = [v for v in vars(module).values() if isinstance(v, Definitions)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = [k for k, v in vars(module).items() if isinstance(v, Definitions)]
        raise LoadError(str(location), f"several Definitions objects ({', '.join(names)}); choose one with "
                                       "--attribute or attribute = ... in [tool.headwater]")
    assets = [v for v in vars(module).values() if isinstance(v, (AssetsDefinition, SourceDefinition))]
    if not assets:
        raise LoadError(str(location), "it defines no Definitions object and no assets")
    return Definitions(assets=assets)


def _user_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    # Drop our frames and importlib's until the first frame of user code.
    while tb is not None and (tb.tb_frame.f_code.co_filename == __file__
                              or "importlib" in tb.tb_frame.f_code.co_filename
                              or tb.tb_frame.f_code.co_filename.startswith("<frozen")):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
