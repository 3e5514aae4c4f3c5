"""Project-wide operational settings from ``[tool.headwater]`` in pyproject.toml.

Apart from the loader's own keys (where the definitions are), a project says how it is
run: ``step_timeout`` (seconds a step may run when its asset sets no ``timeout``, so a
hanging asset cannot block a run forever) and ``[tool.headwater.retention]`` (how long
stored history is kept, see ``core/retention.py``). They are read from the nearest
pyproject.toml with a ``[tool.headwater]`` table, from the project's folder up, so a worker
that loads the same location finds the same settings.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.core.retention import RetentionPolicy
from headwater.errors import HeadwaterError

KEYS = ("step_timeout", "retention")


@dataclass(frozen=True)
class ProjectSettings:
    step_timeout: float | None = None
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    pyproject: Path | None = None


def find_settings(start: str | Path) -> ProjectSettings:
    """The settings of the nearest pyproject.toml with ``[tool.headwater]`` (defaults if none)."""
    base = Path(start).resolve()
    for folder in (base, *base.parents):
        path = folder / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            config = tomllib.loads(path.read_text()).get("tool", {}).get("headwater")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise HeadwaterError(f"{path} is not valid TOML: {exc}") from exc
        if isinstance(config, dict):
            return settings_from(config, path)
    return ProjectSettings()


def settings_from(config: dict[str, Any], path: Path) -> ProjectSettings:
    where = f"[tool.headwater] in {path}"
    timeout = config.get("step_timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        raise HeadwaterError(f"{where}: step_timeout must be a positive number of seconds, not {timeout!r}")
    table = config.get("retention", {})
    if not isinstance(table, dict):
        raise HeadwaterError(f"[tool.headwater.retention] in {path} must be a table")
    retention = RetentionPolicy.from_config(table, f"[tool.headwater.retention] in {path}")
    return ProjectSettings(float(timeout) if timeout is not None else None, retention, path)
