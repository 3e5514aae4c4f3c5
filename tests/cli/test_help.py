"""Every command and every option explains itself in --help; flags show no value type."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from headwater.cli.app import app

runner = CliRunner()


def commands() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []

    def walk(cmd: Any, path: str) -> None:
        subs = getattr(cmd, "commands", None)
        out.append((path, cmd))
        for name, sub in (subs or {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_group(app), "")
    return out


COMMANDS = commands()


def test_every_option_and_argument_of_every_command_has_help() -> None:
    missing = [f"headwater {path} {p.name}" for path, cmd in COMMANDS for p in cmd.params
               if not (getattr(p, "help", None) or "").strip()]
    assert missing == []
    assert len(COMMANDS) > 25


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_help_renders_without_value_types_on_flags(path: str) -> None:
    result = runner.invoke(app, [*path.split(), "--help"], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "Show this message and exit." in result.output


def test_version_and_completion_are_offered() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("headwater ")
    assert result.output.split()[1][0].isdigit() or result.output.split()[1] == "unknown"
    top = runner.invoke(app, ["--help"], terminal_width=160).output
    assert "--install-completion" in top and "--version" in top
