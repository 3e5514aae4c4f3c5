"""The Typer app and what every ``headwater`` command shares: consoles, the options that
locate a project, and how a bad input ends a command (exit code 2)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation, find_location, load_definitions
from headwater.errors import HeadwaterError, LoadError
from headwater.service import Instance

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Headwater: an asset-centric data orchestrator.")

# Piped output (scripts, CI logs) gets wide tables instead of Rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)

FileOpt = Annotated[str | None, typer.Option("--file", "-f", help="Python file with the definitions.")]
ModuleOpt = Annotated[str | None, typer.Option("--module", "-m", help="Module with the definitions.")]
AttrOpt = Annotated[str | None, typer.Option("--attribute", "-a", help="Name of the Definitions object.")]
HomeOpt = Annotated[Path | None, typer.Option("--home", envvar="HEADWATER_HOME",
                                                 help="Headwater home (default ./.headwater).")]


class _Project:
    def __init__(self, file: str | None, module: str | None, attribute: str | None, home: Path | None) -> None:
        self.location: DefinitionsLocation = find_location(file, module, attribute)
        self.defs: Definitions = load_definitions(self.location)
        self.instance = Instance(home=home)


class ExitFast:
    """A read-only command that printed a graph's worth of state can end its process without
    freeing it object by object: for 10,000 assets the interpreter's teardown took half a
    second, a third of the command. It sets ``requested``; ``app.main`` then flushes and ends
    the process with ``os._exit`` once the command returned (only there: commands run
    in-process by tests return normally). Commands that started processes or threads never
    set it, so their clean-up runs as usual."""

    requested = False
    armed = False  # set by ``app.main``: this process really ends with ``os._exit`` when requested

    @staticmethod
    @contextmanager
    def gc_off() -> Iterator[None]:
        """The cyclic collector off for a whole read: it builds a graph's worth of long-lived
        objects with no cycles, and every collection would rescan them. In a process that
        ends fast it stays off (turning it back on triggers one more collection of all that
        was allocated meanwhile, ~0.1 s for 10,000 assets); elsewhere (tests) it comes back."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if was_enabled and not (ExitFast.armed and ExitFast.requested):
                gc.enable()


def _fail(exc: HeadwaterError) -> None:
    err.print("error: " + str(exc), style="red", markup=False, highlight=False)
    if isinstance(exc, LoadError) and exc.user_traceback:
        err.print(exc.user_traceback.rstrip(), markup=False, highlight=False)
    raise typer.Exit(2)
