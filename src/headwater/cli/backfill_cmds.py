"""``headwater backfill`` and ``headwater backfills``: launch, follow, cancel and resume backfills.

``headwater backfill SELECTION --from A --to B`` plans the backfill, stores it, and drives it
to its end in this process with a progress bar (each run executed here, one at a time,
under the project's concurrency limits); ``--queue`` stores it and leaves it to the daemon.
Killed or interrupted, nothing is lost: ``headwater backfill resume ID`` (or a running
daemon) goes on with what is neither done nor in flight.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from headwater.backfill_report import backfill_to_dict, progress_to_dict
from headwater.cli.typer_app import (
    AttrOpt,
    FileOpt,
    HeadwaterTyper,
    HomeOpt,
    ModuleOpt,
    _fail,
    _Group,
    _Project,
    app,
    err,
    out,
)
from headwater.core.backfills import BackfillProgress, BackfillStatus
from headwater.errors import HeadwaterError
from headwater.service import EXECUTORS

if TYPE_CHECKING:  # the progress bar's modules load when a bar is shown, not with every command
    import click
    from rich.progress import Progress

_SUBCOMMANDS = ("show", "cancel", "resume", "launch")


class _DefaultToLaunch(_Group):
    """``headwater backfill SELECTION ...`` means ``headwater backfill launch SELECTION ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in _SUBCOMMANDS and args[0] not in ("--help", "-h"):
            args = ["launch", *args]
        return super().parse_args(ctx, args)


backfill_app = HeadwaterTyper(cls=_DefaultToLaunch, no_args_is_help=True,
                           help="Backfill partitions: headwater backfill SELECTION --from A --to B; "
                                "show, cancel or resume one.")
app.add_typer(backfill_app, name="backfill")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@backfill_app.command("launch")
def launch(
    selection: Annotated[str, typer.Argument(help="Assets to backfill, e.g. 'events+' (downstream follows mappings).")],
    start: Annotated[Optional[str], typer.Option("--from", help="First partition (or date) of the range.")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Last partition (or date) of the range, inclusive.")] = None,
    partition: Annotated[Optional[str], typer.Option("--partition", help="Exact partition keys, comma separated.")] = None,
    only: Annotated[Optional[str], typer.Option("--only", help="missing, failed, stale (comma separated); default all.")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Partition keys per run.")] = 10,
    queue: Annotated[bool, typer.Option("--queue", help="Store it and let the daemon drive it.")] = False,
    executor: Annotated[str, typer.Option(help=f"Within each run: one of {', '.join(EXECUTORS)}.")] = "in_process",
    workers: Annotated[Optional[int], typer.Option(help="Parallel worker processes (multiprocess).")] = None,
    tag: Annotated[Optional[list[str]], typer.Option(help="Run tag k=v for every run (repeatable).")] = None,
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Plan a backfill once, store it, and run it to the end here (or --queue it for the daemon)."""
    try:
        tags = dict(_tag(t) for t in tag or [])
        keys = [k.strip() for k in partition.split(",") if k.strip()] if partition else None
        p = _Project(file, module, attribute, home, reuses=True)
        record = p.instance.launch_backfill(p.defs, selection, partition_range=(start, end), partitions=keys,
                                            only=only, chunk_size=chunk_size, tags=tags)
    except HeadwaterError as exc:
        _fail(exc)
    if queue:
        if as_json:
            _print_json(backfill_to_dict(record))
        else:
            out.print(f"backfill {record.backfill_id[:8]} queued: {record.total} partition(s) of "
                      f"{len(record.targets)} asset(s); the daemon drives it "
                      f"(headwater backfill show {record.backfill_id[:8]})", highlight=False)
        return
    if not as_json:
        out.print(f"backfill {record.backfill_id[:8]}: {record.total} partition(s) of {len(record.targets)} "
                  f"asset(s), {record.chunk_size} key(s) per run", highlight=False)
    _drive(p, record.backfill_id, executor, workers, as_json)


@backfill_app.command("resume")
def resume(
    backfill_id: Annotated[str, typer.Argument(help="Backfill id (or a unique prefix).")],
    queue: Annotated[bool, typer.Option("--queue", help="Let the daemon drive it instead of this process.")] = False,
    executor: Annotated[str, typer.Option(help=f"Within each run: one of {', '.join(EXECUTORS)}.")] = "in_process",
    workers: Annotated[Optional[int], typer.Option(help="Parallel worker processes (multiprocess).")] = None,
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Go on with a backfill: launch what failed, was skipped, canceled or never launched."""
    try:
        p = _Project(file, module, attribute, home, reuses=True)
        record = p.instance.resume_backfill(backfill_id)
    except HeadwaterError as exc:
        _fail(exc)
    if queue:
        if as_json:
            _print_json(backfill_to_dict(record))
        else:
            out.print(f"backfill {record.backfill_id[:8]} resumed; the daemon drives it", highlight=False)
        return
    _drive(p, record.backfill_id, executor, workers, as_json)


@backfill_app.command("show")
def show(
    backfill_id: Annotated[str, typer.Argument(help="Backfill id (or a unique prefix).")],
    watch: Annotated[bool, typer.Option("--watch", help="Follow its progress until it ends.")] = False,
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """A backfill: status, progress (done / failed / remaining, rate, ETA), per asset, failures, runs."""
    try:
        p = _Project(file, module, attribute, home)
        progress = p.instance.backfill_progress(p.defs, backfill_id)
        if watch and not progress.record.status.is_terminal:
            with _Bar(out, progress) as bar:
                while not progress.record.status.is_terminal:
                    time.sleep(1.0)
                    progress = p.instance.backfill_progress(p.defs, backfill_id)
                    bar(progress, _driver_note(p, progress))
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        _print_json(progress_to_dict(progress))
        return
    _render(out, progress, p.instance.backfill_driver(progress.record.backfill_id))


@backfill_app.command("cancel")
def cancel(
    backfill_id: Annotated[str, typer.Argument(help="Backfill id (or a unique prefix).")],
    running: Annotated[bool, typer.Option("--running", help="Also cancel the runs already started.")] = False,
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Stop launching runs and cancel the backfill's queued runs (started runs finish unless --running)."""
    from headwater.service import Instance

    try:
        with Instance(home=home) as instance:
            record, canceled = instance.cancel_backfill(backfill_id, cancel_started=running)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        _print_json({**backfill_to_dict(record), "canceled_runs": canceled})
        return
    if running:
        out.print(f"backfill {record.backfill_id[:8]} canceled; {len(canceled)} queued or started run(s) "
                  "canceled", highlight=False)
        return
    out.print(f"backfill {record.backfill_id[:8]} canceled; {len(canceled)} queued run(s) canceled "
              "(runs already started finish; --running cancels them too)", highlight=False)


@app.command("backfills")
def backfills(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Recent backfills with their status and progress."""
    try:
        p = _Project(file, module, attribute, home)
        rows = [p.instance.backfill_progress(p.defs, r) for r in p.instance.backfills(limit)]
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        _print_json([progress_to_dict(r, runs=False, failures=5) for r in rows])
        return
    if not rows:
        out.print("no backfills yet (headwater backfill SELECTION --from A --to B)")
        return
    table = Table(box=None, header_style="bold")
    for name in ("id", "status", "selection", "range", "mode", "progress", "created"):
        table.add_column(name)
    for r in rows:
        rec = r.record
        start, end = (tuple(rec.partition_range) + ("", ""))[:2]
        table.add_row(rec.backfill_id[:8], _status_text(rec.status), rec.selection,
                      f"{start or '…'} → {end or '…'}", rec.mode, r.summary(), _ago(rec.created_at, r.now))
    out.print(table)


# -- driving and rendering -----------------------------------------------------------------


def _drive(p: _Project, backfill_id: str, executor: str, workers: int | None, as_json: bool) -> None:
    console = Console(stderr=True) if as_json else out
    try:
        first = p.instance.backfill_progress(p.defs, backfill_id)
        with _Bar(console, first, quiet=as_json) as bar:
            final = p.instance.run_backfill(p.defs, backfill_id, executor=executor, workers=workers,
                                            location=p.location, on_progress=bar)
    except HeadwaterError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print(f"interrupted: backfill {backfill_id[:8]} is still requested; go on with "
                  f"headwater backfill resume {backfill_id[:8]}, or stop it with headwater backfill cancel "
                  f"{backfill_id[:8]}", style="yellow", markup=False, highlight=False)
        raise typer.Exit(130) from None
    if as_json:
        _print_json(progress_to_dict(final))
    else:
        _render(out, final, None)
    if final.record.status is not BackfillStatus.COMPLETED:
        raise typer.Exit(1)


class _Bar:
    """Rich progress on a terminal (done/total, failures, rate, ETA); a line per change otherwise."""

    def __init__(self, console: Console, first: BackfillProgress, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.interactive = console.is_terminal and not quiet
        self.total = first.total
        self._progress: Progress | None = None
        self._task: Any = None
        self._last = ""

    def __enter__(self) -> _Bar:
        if self.interactive:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("[bold]backfill"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[extra]}"), TimeElapsedColumn(),
                                      TextColumn("{task.description}"), console=self.console)
            self._progress.__enter__()
            self._task = self._progress.add_task("", total=self.total, extra="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def __call__(self, progress: BackfillProgress, note: str) -> None:
        extra = _extra(progress, failures=self._progress is not None)
        if self._progress is not None:
            self._progress.update(self._task, completed=progress.done, extra=extra, description=note)
            return
        line = f"{progress.summary()}{' · ' + extra if extra else ''} — {note}"
        if not self.quiet and line != self._last:
            self.console.print(line, markup=False, highlight=False)
        self._last = line


def _extra(progress: BackfillProgress, failures: bool = False) -> str:
    bits = []
    failed = progress.counts.get("failed", 0) + progress.counts.get("skipped", 0)
    if failures and failed:
        bits.append(f"{failed} failed/skipped")
    if progress.rate:
        bits.append(f"{progress.rate:.2f}/s")
    if progress.eta is not None:
        bits.append(f"ETA {_seconds(progress.eta)}")
    return " · ".join(bits)


def _render(console: Console, progress: BackfillProgress, driver: str | None) -> None:
    rec = progress.record
    start, end = (tuple(rec.partition_range) + ("", ""))[:2]
    console.print(f"backfill {rec.backfill_id}  {_status_text(rec.status)}", highlight=False)
    console.print(f"  selection {rec.selection!r} · range {start or '…'} → {end or '…'} · mode {rec.mode} · "
                  f"{rec.chunk_size} key(s) per run", markup=False, highlight=False)
    extra = _extra(progress)
    console.print(f"  {progress.summary()}{' · ' + extra if extra else ''}", markup=False, highlight=False)
    if rec.reason and rec.status.is_terminal and rec.reason != progress.summary():
        console.print(f"  {rec.status.value}: {rec.reason}", markup=False, highlight=False)
    if driver:
        console.print(f"  driven by {driver}", markup=False, highlight=False)
    table = Table(box=None, header_style="bold")
    for name in ("asset", "total", "done", "failed", "skipped", "running", "queued", "remaining"):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for a in progress.per_asset:
        c = a.counts
        table.add_row(str(a.key), str(sum(c.values())), *(str(c.get(n, 0)) for n in
                                                          ("done", "failed", "skipped", "running", "queued",
                                                           "remaining")))
    console.print(table)
    for target, why in progress.failures[:10]:
        from headwater.core.partitions import format_partitioned_key

        console.print(f"  {format_partitioned_key(*target)}: {why}", style="red", markup=False, highlight=False)
    if len(progress.failures) > 10:
        console.print(f"  … and {len(progress.failures) - 10} more (--json lists them)", markup=False)
    rc = progress.run_counts
    if rc:
        console.print("  runs: " + ", ".join(f"{n} {s}" for s, n in sorted(rc.items())), markup=False,
                      highlight=False)
    if rec.status in (BackfillStatus.FAILED, BackfillStatus.CANCELED):
        console.print(f"  retry: headwater backfill resume {rec.backfill_id[:8]}", markup=False, highlight=False)


def _driver_note(p: _Project, progress: BackfillProgress) -> str:
    driver = p.instance.backfill_driver(progress.record.backfill_id)
    return f"driven by {driver}" if driver else "waiting for a driver (daemon, or headwater backfill resume)"


def _status_text(status: BackfillStatus) -> str:
    color = {"completed": "green", "failed": "red", "canceled": "yellow", "requested": "cyan"}[status.value]
    return f"[{color}]{status.value}[/{color}]"


def _seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _ago(ts: float, now: float) -> str:
    return _seconds(max(0.0, now - ts)) + " ago"


def _tag(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise HeadwaterError(f"--tag {text!r} must look like key=value")
    k, v = text.split("=", 1)
    return k, v


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
