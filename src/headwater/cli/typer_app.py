"""The Typer app and what every ``headwater`` command shares: consoles, the options that
locate a project, and how a bad input ends a command (exit code 2)."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import find_location, load_definitions
from headwater.errors import HeadwaterError, LoadError
from headwater.service import Instance

# Piped output (scripts, CI logs) gets wide tables instead of Rich's 80-column default,
# unless COLUMNS says how wide (Rich reads it when no width is given).
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else 200
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)


def _plain_flags(params: list[Any]) -> list[Any]:
    """Flags take no value, so their help shows none (Typer would print ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if getattr(param, "_runtime_param", False) is None and hasattr(param, "type_descriptor"):
            param._runtime_param = _PlainValues()
    return params


class _PlainValues:
    """Typer coerces every parameter's value through a pydantic ``TypeAdapter`` it builds on
    first use: importing pydantic and building an adapter for each of a command's options
    was ~0.09 s of every command, more than reading a 10,000-asset status snapshot. Values
    that need no adapter get what Typer's adapter would give: an absent one stays None, a
    ``str`` for a plain ``str`` option stays as it is, plain digits for an ``int`` become it,
    a ``str`` for a ``Path`` goes to Typer's own path checks as a ``Path``. Any other value
    gets Typer's own coercion, built then (typer 0.29's ``RuntimeParam``; on a Typer without
    that attribute this is never installed)."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        descriptor = param.type_descriptor
        info = descriptor.parameter_info
        if value is None and not (param.multiple or param.nargs == -1):
            return None
        if type(value) is str and info.parser is None:
            kind = descriptor.annotation
            if kind is str and descriptor.file_annotation is None:
                return value
            if kind is int and value.isascii() and value.isdigit() and info.min is None and info.max is None:
                return int(value)  # any other spelling gets Typer's own coercion and errors
            if kind is Path and info.path_type in (None, Path):
                from typer._param_types import coerce_cli_path  # what Typer's path adapter calls

                return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        from typer._coercion import build_runtime_param

        real = param._runtime_param = build_runtime_param(descriptor)
        return real.coerce(value, param=param, ctx=ctx)


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class HeadwaterTyper(typer.Typer):
    """A Typer whose commands and groups show flags without a value type in their help."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", _Group)
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = HeadwaterTyper(pretty_exceptions_enable=False, help="Headwater: an asset-centric data orchestrator.")


def keep_only_invoked(typer_app: typer.Typer, argv: list[str]) -> None:
    """Before the process's one call of ``typer_app``: drop every command and group but the
    one ``argv`` names first. Typer builds the Click command of every registered command on
    each call, reading each function's signature and evaluating its type hints: ~40 commands
    were ~0.1 s of every ``headwater`` process, as much as reading 10,000 assets' stored
    status. Nothing is dropped when the first argument is an option (``--help``,
    ``--version``), names nothing registered (Click's "No such command" lists the real
    ones), or when the shell asks for completions (they list every command)."""
    if not argv or argv[0].startswith("-") or any(k.endswith("_COMPLETE") for k in os.environ):
        return
    name = argv[0]
    from typer.main import get_command_name  # how Typer names a command from its function

    commands = [c for c in typer_app.registered_commands
                if (c.name or (get_command_name(c.callback.__name__) if c.callback else None)) == name]
    groups = [g for g in typer_app.registered_groups if g.name == name]
    if commands or groups:
        typer_app.registered_commands = commands
        typer_app.registered_groups = groups


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("headwater")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown"
        out.print(f"headwater {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Show the version and exit.")] = False,
) -> None:
    """Options that apply before any command (the app's help text is set on ``app``)."""



PREWARM_ENV = "HEADWATER_DBT_PREWARM"  # read by hw.dbt.load: start dbt's import ahead of the build
PARSE_ENV = "HEADWATER_DBT_PARSE"  # read by hw.dbt.load: "background" reads the last manifest at once

FileOpt = Annotated[str | None, typer.Option("--file", "-f", help="Python file with the definitions.")]
ModuleOpt = Annotated[str | None, typer.Option("--module", "-m", help="Module with the definitions.")]
AttrOpt = Annotated[str | None, typer.Option("--attribute", "-a", help="Name of the Definitions object.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (its schema: docs/cli.md).")]
HomeOpt = Annotated[Path | None, typer.Option("--home", envvar="HEADWATER_HOME",
                                                 help="Headwater home (default ./.headwater).")]


class _Project:
    """The definitions a command works on. In a workspace, ``runs`` says the command runs user
    code (steps, observations, sensors): the location processes that loading started (a cold
    cache) are kept for it, so each starts once; a run's executor stops them when it ends, and
    whatever is left stops at exit. ``reuses``: the UI, the daemon and a backfill keep them
    from run to run (stopped at exit). Other commands stop them at once."""

    def __init__(self, file: str | None, module: str | None, attribute: str | None, home: Path | None,
                 runs: bool = False, reuses: bool = False) -> None:
        try:
            self._load(file, module, attribute, home, runs, reuses)
        finally:
            # The definitions live as long as the command's process: the cyclic collector
            # need never scan them again. Loaded with it held off (``load_definitions``), they
            # would otherwise all be scanned by the next collections (1.1 s of CPU at 100,000
            # assets). Only in a real ``headwater`` process: commands run in-process (tests)
            # leave the caller's collector alone.
            if ExitFast.armed:
                gc.freeze()

    def _load(self, file: str | None, module: str | None, attribute: str | None, home: Path | None,
              runs: bool, reuses: bool) -> None:
        self.workspace = None
        if not file and not module:
            from headwater.service.workspace import Workspace

            self.instance = Instance(home=home)
            self.workspace = Workspace.find(self.instance.home)
            if self.workspace is not None:  # several code locations (docs/workspaces.md)
                self.workspace.load()
                if not (runs or reuses):
                    self.workspace.ask_to_stop()  # they end while the definitions are joined
                self.defs: Definitions = self.workspace.definitions()
                self.workspace.keep_processes = reuses
                if runs or reuses:
                    import atexit

                    atexit.register(self.workspace.close)
                else:
                    self.workspace.close()
                self.location: Any = self.workspace.location
                for state in self.workspace.states.values():
                    if not state.ok:
                        err.print(f"warning: {state.warning}: {state.error} (headwater locations --show-errors)",
                                  style="yellow", markup=False, highlight=False)
                return
        self.location = find_location(file, module, attribute)
        self.defs = load_definitions(self.location)
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


def _existing_home(home: Path | None) -> Instance:
    """The instance of ``home`` for a command that only reads: refuse, rather than create,
    a home that does not exist (``headwater runs`` typed in the wrong folder)."""
    instance = Instance(home=home)
    if not instance.exists():
        raise HeadwaterError(f"no Headwater state at {instance.home} (nothing has run here yet): run this in "
                             "your project folder, or pass --home / set HEADWATER_HOME")
    return instance


def _optional_defs(file: str | None, module: str | None, attribute: str | None) -> Definitions | None:
    """The project's definitions when one is found here, else None (for commands that only
    enrich their output with them)."""
    try:
        return load_definitions(find_location(file, module, attribute))
    except HeadwaterError:
        return None
