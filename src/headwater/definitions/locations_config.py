"""Declaring a workspace: several code locations, each with its own source and interpreter.

In ``pyproject.toml``::

    [[tool.headwater.locations]]
    name = "ingest"
    file = "ingest/pipeline.py"          # or module = "...", or dbt = "analytics" (a dbt project folder)
    python = "ingest/.venv/bin/python"   # optional: the location's own interpreter
    working_dir = "ingest"               # optional: where its code runs (default: the config's folder)

or the same ``[[locations]]`` tables in a ``headwater.toml``. Paths are relative to the
file that declares them. A project without ``locations`` is the single location it always
was (``[tool.headwater] file = ...``); nothing here applies to it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.definitions.loader import DefinitionsLocation
from headwater.errors import HeadwaterError

WORKSPACE_FILE = "headwater.toml"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
_KEYS = ("name", "file", "module", "attribute", "dbt", "python", "working_dir")


@dataclass(frozen=True)
class LocationConfig:
    """One code location as declared: where its definitions are, and which Python loads them."""

    name: str
    working_dir: str
    file: str | None = None
    module: str | None = None
    attribute: str | None = None
    dbt: str | None = None  # a dbt project folder
    python: str | None = None  # None: the interpreter running Headwater

    @property
    def source(self) -> str:
        if self.file:
            return f"file {self.file}"
        if self.module:
            return f"module {self.module}"
        return f"dbt project {self.dbt}"

    def definitions_location(self) -> DefinitionsLocation:
        """What the loader imports in the location's own process (dbt projects are loaded apart)."""
        return DefinitionsLocation(file=self.file, module=self.module, attribute=self.attribute,
                                   working_dir=self.working_dir)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "working_dir", "file", "module", "attribute", "dbt", "python")}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LocationConfig:
        return LocationConfig(**{k: data.get(k) for k in ("name", "working_dir", "file", "module", "attribute",
                                                           "dbt", "python")})


@dataclass(frozen=True)
class WorkspaceConfig:
    """Every location of a workspace, and the file that declared them."""

    path: str
    locations: tuple[LocationConfig, ...]

    def location(self, name: str) -> LocationConfig:
        for loc in self.locations:
            if loc.name == name:
                return loc
        raise HeadwaterError(f"unknown code location {name!r}; the workspace in {self.path} has "
                             + ", ".join(loc.name for loc in self.locations))


def find_workspace(cwd: str | os.PathLike[str] | None = None) -> WorkspaceConfig | None:
    """The workspace declared in the nearest ``headwater.toml`` or ``pyproject.toml`` (with
    ``[[tool.headwater.locations]]``), or None: then the project is a single location."""
    base = Path(cwd or os.getcwd()).resolve()
    for folder in (base, *base.parents):
        ws = folder / WORKSPACE_FILE
        if ws.is_file():
            tables = _read(ws).get("locations")
            if tables is None:
                raise HeadwaterError(f"{ws} declares no [[locations]]")
            return parse_workspace(tables, ws)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            config = _read(pyproject).get("tool", {}).get("headwater")
            if isinstance(config, dict) and "locations" in config:
                others = sorted(k for k in config if k in ("file", "module", "dbt"))
                if others:
                    raise HeadwaterError(f"[tool.headwater] in {pyproject}: declare the project either as "
                                         f"locations or with {', '.join(others)}, not both")
                return parse_workspace(config["locations"], pyproject)
            if config is not None:
                return None  # the nearest project is a single location
    return None


def parse_workspace(tables: Any, path: Path) -> WorkspaceConfig:
    where = f"[tool.headwater.locations] in {path}" if path.name == "pyproject.toml" else f"[[locations]] in {path}"
    if not isinstance(tables, list) or not tables:
        raise HeadwaterError(f"{where} must be a non-empty array of tables ([[...]])")
    out: list[LocationConfig] = []
    seen: set[str] = set()
    for i, table in enumerate(tables, 1):
        out.append(_location(table, path.parent, f"{where}, location {i}"))
        if out[-1].name in seen:
            raise HeadwaterError(f"{where}: two locations are named {out[-1].name!r}")
        seen.add(out[-1].name)
    return WorkspaceConfig(str(path), tuple(out))


def _location(table: Any, base: Path, where: str) -> LocationConfig:
    if not isinstance(table, dict):
        raise HeadwaterError(f"{where} must be a table")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise HeadwaterError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_KEYS)})")
    for key, value in table.items():
        if not isinstance(value, str):
            raise HeadwaterError(f"{where}: {key} must be a string, not {value!r}")
    name = table.get("name")
    if not name or not _NAME.match(name):
        raise HeadwaterError(f"{where} needs name = \"...\" (letters, digits, '_' and '-'), not {name!r}")
    sources = [k for k in ("file", "module", "dbt") if table.get(k)]
    if len(sources) != 1:
        raise HeadwaterError(f"location {name!r} ({where}) needs exactly one of file, module or dbt"
                             + (f", not {' and '.join(sources)}" if sources else ""))
    working_dir = (base / table["working_dir"]).resolve() if table.get("working_dir") else base
    python = table.get("python")
    if python and ("/" in python or os.sep in python):
        python = str((base / python).absolute())  # a venv's python is a symlink: keep the venv's path
    return LocationConfig(
        name=name, working_dir=str(working_dir),
        file=str((base / table["file"]).resolve()) if table.get("file") else None,
        module=table.get("module"), attribute=table.get("attribute"),
        dbt=str((base / table["dbt"]).resolve()) if table.get("dbt") else None, python=python)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise HeadwaterError(f"{path} is not valid TOML: {exc}") from exc
