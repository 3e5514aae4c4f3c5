"""Run progress for a person: a Rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from headwater.execution.plan import Step


class RunProgress:
    def __init__(self, console: Console, total_steps: int, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet  # --json: stdout carries the document alone
        self.interactive = not quiet and console.is_terminal and sys.stdout.isatty()
        self._progress: Progress | None = None
        self._task = None
        self.total = total_steps

    def __enter__(self) -> RunProgress:
        return self

    def _start(self) -> None:
        """The bar starts with the first step, not on entry: Rich refreshes it from a thread,
        and the run's worker processes are forked before it, while this process has one
        thread (``execution/worker_start.py``)."""
        if self.interactive and self._progress is None:
            self._progress = Progress(TextColumn("[bold]materializing"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("{task.description}"),
                                      console=self.console, transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task("", total=self.total)

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(t, e, tb)

    def __call__(self, event: str, step: Step, detail: str) -> None:
        colors = {"succeeded": "green", "failed": "red", "skipped": "yellow", "retrying": "yellow"}
        if self.interactive and self._progress is None:
            self._start()
        if self._progress is not None and self._task is not None:
            if event in ("succeeded", "failed", "skipped"):
                self._progress.advance(self._task)
            self._progress.update(self._task, description=f"{step.key} {event}")
            if event in ("failed", "retrying"):
                self._progress.console.print(f"{step.key} {event}: {detail}", style=colors[event], markup=False)
            return
        if self.quiet:
            return
        line = f"{step.key}: {event}" + (f" ({detail})" if detail else "")
        if self.console.color_system is None:
            # Piped (CI logs, scripts): a plain write. Rich's print measures and renders each
            # line, a third of a 1,000-asset ``materialize`` with no colour to show for it.
            self.console.file.write(line + "\n")
            return
        self.console.print(line, style=colors.get(event), markup=False, highlight=False)
