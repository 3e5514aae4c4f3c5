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


def test_shell_completion_completes_commands_and_subcommands() -> None:
    """What the script `headwater --install-completion` installs asks the command itself."""
    import os
    import subprocess
    import sys

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_HEADWATER_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1)}
        script = "from headwater.cli.app import app; app(prog_name='headwater')"
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        return out.stdout.split()

    assert complete("headwater mat") == ["materialize"]
    assert complete("headwater schedule p") == ["preview"]
    # The script --install-completion writes: asked of the command itself, as a shell would.
    env = {**os.environ, "_HEADWATER_COMPLETE": "source_bash"}
    script = subprocess.run([sys.executable, "-c", "from headwater.cli.app import app; app(prog_name='headwater')"],
                            env=env, capture_output=True, text=True, timeout=60).stdout
    assert "_HEADWATER_COMPLETE" in script and "complete" in script


def test_naming_a_command_builds_that_command_alone_and_the_same_one() -> None:
    """``main`` keeps only the named command before Typer builds the app (``keep_only_invoked``):
    every top-level command is still found under its own name, built with the same options,
    and anything else (an option first, an unknown name, a completion request) keeps them all."""
    import copy

    from headwater.cli.typer_app import keep_only_invoked

    full = typer.main.get_group(app)
    for name, cmd in full.commands.items():
        narrowed = copy.copy(app)
        keep_only_invoked(narrowed, [name, "--help"])
        built = typer.main.get_group(narrowed)
        assert list(built.commands) == [name]
        assert [p.name for p in built.commands[name].params] == [p.name for p in cmd.params]
    for argv, env in ((["--version"], {}), (["materialise"], {}), ([], {}),
                      (["status"], {"_HEADWATER_COMPLETE": "complete_bash"})):
        narrowed = copy.copy(app)
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            keep_only_invoked(narrowed, argv)
        assert list(typer.main.get_group(narrowed).commands) == list(full.commands), argv
