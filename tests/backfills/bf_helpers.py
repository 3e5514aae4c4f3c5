"""Helpers the backfill tests share (imported by plain name: conftest puts this folder on the path)."""

from __future__ import annotations

from pathlib import Path


def builds(project_dir: Path) -> list[str]:
    """Every build the project logged, as ``asset[partition]``."""
    log = project_dir / "builds.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []
