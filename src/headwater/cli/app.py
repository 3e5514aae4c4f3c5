"""The ``headwater`` command: parse arguments, call the service, render. Nothing more.

Exit codes: 0 everything succeeded, 1 some asset failed, 2 bad input (an unknown key,
a bad selection, definitions that do not load, ...).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from headwater.cli.typer_app import AttrOpt, FileOpt, HomeOpt, ModuleOpt, _fail, _Project, app, err, out
from headwater.core.events import RunStatus
from headwater.definitions.loader import DefinitionsLocation, load_definitions
from headwater.errors import HeadwaterError
from headwater.execution.plan import PlanMode
from headwater.reports import health_to_dict, run_to_dict, step_to_dict
from headwater.service import EXECUTORS, Instance, ObservationError

run_app = typer.Typer(no_args_is_help=True, help="Inspect one run.")
app.add_typer(run_app, name="run")


@app.command()
def materialize(
    selection: Annotated[str, typer.Argument(help="Assets to materialize, e.g. '*', 'revenue+', 'group:marts'.")] = "*",
    stale_only: Annotated[bool, typer.Option("--stale-only", help="Only assets that are missing, failed or stale.")] = False,
    missing_only: Annotated[bool, typer.Option("--missing-only", help="Only assets never materialized.")] = False,
    from_failure: Annotated[str | None, typer.Option("--from-failure", help="Re-execute what failed in RUN_ID, and its downstream.")] = None,
    executor: Annotated[str, typer.Option(help=f"One of {', '.join(EXECUTORS)}.")] = "multiprocess",
    workers: Annotated[int | None, typer.Option(help="Parallel worker processes (multiprocess).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Run tag k=v (repeatable).")] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Queue the run for the daemon instead of running it here.")] = False,
    override_gates: Annotated[bool, typer.Option("--override-gates", help="Run assets held by a failed blocking check upstream (recorded on the run).")] = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Materialize the selected assets in dependency order, in parallel."""
    from headwater.cli.progress import RunProgress

    try:
        if stale_only and missing_only:
            raise HeadwaterError("--stale-only and --missing-only exclude each other")
        tags = dict(_tag(t) for t in tag or [])
        p = _Project(file, module, attribute, home)
        mode = PlanMode.STALE if stale_only else PlanMode.MISSING if missing_only else PlanMode.ALL
        if queue:
            record, _ = p.instance.enqueue(p.defs, selection, tags=tags, origin="cli", mode=mode.value,
                                           location=p.location)
            out.print(f"queued run {record.run_id} ({len(record.asset_keys)} assets); the daemon will launch it",
                      highlight=False)
            return
        plan, _, _ = p.instance.plan(p.defs, selection, mode, from_failure)
        if not plan.steps:
            out.print(f"Nothing to materialize: {len(plan.up_to_date)} selected asset(s) already up to date.")
            return
        with RunProgress(out, len(plan.steps)) as progress:
            result = p.instance.materialize(p.defs, selection, mode=mode, executor=executor, workers=workers,
                                            from_failure=from_failure, tags=tags, location=p.location,
                                            progress=progress, override_gates=override_gates)
    except HeadwaterError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("run canceled (Ctrl-C)", style="yellow")
        raise typer.Exit(130) from None
    n = len(result.materializations)
    summary = f"run {result.run_id} {result.status.value}: {n} asset(s) materialized"
    if result.outcome.up_to_date:
        summary += f", {len(result.outcome.up_to_date)} already up to date"
    if result.errors:
        summary += f", {len(result.errors)} step(s) failed, {len(result.outcome.skipped)} skipped"
    out.print(summary, style="green" if result.success else "red", highlight=False)
    for step, error in result.errors.items():
        out.print(f"  {step}: {error.message}", style="red", markup=False, highlight=False)
    if not result.success:
        out.print(f"  details: headwater run show {result.run_id[:8]}   retry: headwater materialize "
                  f"--from-failure {result.run_id[:8]}", markup=False, highlight=False)
        raise typer.Exit(1)


def _tag(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise HeadwaterError(f"--tag {text!r} must look like key=value")
    k, v = text.split("=", 1)
    return k, v


@app.command()
def status(
    selection: Annotated[Optional[str], typer.Argument(help="Limit to a selection.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    health: Annotated[Optional[str], typer.Option("--health", help="Only assets with this health.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only assets overdue against their freshness policy.")] = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Every asset: health, status, stale?, freshness, checks, last materialized, run."""
    from headwater.cli.render import health_summary, status_table
    from headwater.core.health import Health

    try:
        wanted = Health(health) if health else None
    except ValueError:
        _fail(HeadwaterError(f"unknown health {health!r}; one of " + ", ".join(h.value for h in Health)))
    try:
        p = _Project(file, module, attribute, home)
        rows = p.instance.health(p.defs, selection)
    except HeadwaterError as exc:
        _fail(exc)
    if wanted is not None:
        rows = [h for h in rows if h.health is wanted]
    if overdue:
        rows = [h for h in rows if h.freshness is not None and h.freshness.state.value == "overdue"]
    if as_json:
        sys.stdout.write(json.dumps([health_to_dict(h, p.defs.graph) for h in rows], indent=2) + "\n")
        return
    out.print(status_table(rows, p.defs.graph))
    out.print(health_summary(rows), highlight=False)


@app.command()
def check(
    selection: Annotated[str, typer.Argument(help="Assets whose checks to run.")] = "*",
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Run checks alone against the assets' current materializations."""
    try:
        p = _Project(file, module, attribute, home)
        results = p.instance.check(p.defs, selection)
    except HeadwaterError as exc:
        _fail(exc)
    failed = 0
    for r in results:
        state = "passed" if r.passed else ("warn" if r.severity.value == "warn" else "FAILED")
        failed += 0 if r.passed or r.severity.value == "warn" else 1
        out.print(f"{r.key} {r.check_name}: {state}" + (f" — {r.description}" if r.description else ""),
                  style="green" if r.passed else "yellow" if state == "warn" else "red", markup=False,
                  highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def observe(
    selection: Annotated[str, typer.Argument(help="Source assets to observe.")] = "*",
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Observe source assets: record their current data version and data time."""
    from headwater.core.explain import format_time

    failures: list[str] = []
    try:
        p = _Project(file, module, attribute, home)
        observed = p.instance.observe(p.defs, selection)
    except ObservationError as exc:
        observed, failures = exc.observed, exc.failures
    except HeadwaterError as exc:
        _fail(exc)
    for o in observed:
        out.print(f"{o.key}: data version {o.data_version}, data time {format_time(o.data_time)}",
                  markup=False, highlight=False)
    for failure in failures:
        err.print(f"error: {failure}", style="red", markup=False, highlight=False)
    if failures:
        raise typer.Exit(1)


@app.command()
def why(
    key: Annotated[str, typer.Argument(help="Asset key.")],
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Why an asset is stale, failed or missing, as a causal chain in plain words."""
    try:
        p = _Project(file, module, attribute, home)
        lines = p.instance.why(p.defs, key)
    except HeadwaterError as exc:
        _fail(exc)
    for line in lines:
        out.print(line, markup=False, highlight=False)


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many runs.")] = 20,
    status_filter: Annotated[str | None, typer.Option("--status", help="Only runs with this status.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    home: HomeOpt = None,
) -> None:
    """Recent runs, newest first."""
    from headwater.cli.render import runs_table

    try:
        statuses = [RunStatus(status_filter)] if status_filter else None
    except ValueError:
        _fail(HeadwaterError(f"unknown run status {status_filter!r}; one of "
                             + ", ".join(s.value for s in RunStatus)))
    try:
        with Instance(home=home) as instance:
            records = instance.runs(limit=limit, statuses=statuses)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps([run_to_dict(r) for r in records], indent=2) + "\n")
        return
    out.print(runs_table(records))


@run_app.command("show")
def run_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    home: HomeOpt = None,
) -> None:
    """A run's steps, timings, logs and errors."""
    from headwater.cli.render import run_detail

    try:
        with Instance(home=home) as instance:
            record = instance.run(run_id)
            steps = instance.run_steps(record.run_id)
            events = instance.run_events(record.run_id)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps({**run_to_dict(record), "steps": [step_to_dict(s) for s in steps]},
                                    indent=2) + "\n")
        return
    run_detail(out, record, steps, events)


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse every action (materialize, observe, ...).")] = False,
    launch: Annotated[str, typer.Option(help="auto: start a worker unless a daemon runs; queue: leave runs to the daemon.")] = "auto",
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """The web UI: asset graph, catalog, asset pages, runs, automation, and its JSON API."""
    from headwater.web import UiConfig
    from headwater.web.server import serve_ui

    try:
        p = _Project(file, module, attribute, home)
        serve_ui(p.defs, p.instance, p.location, UiConfig(host=host, port=port, read_only=read_only, launch=launch),
                 lambda text: out.print(text, markup=False, highlight=False))
    except HeadwaterError as exc:
        _fail(exc)


@app.command()
def dev(
    interval: Annotated[float, typer.Option(help="Seconds between daemon ticks.")] = 2.0,
    host: Annotated[str, typer.Option(help="Address of the UI (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the UI.")] = 3000,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Only the daemon.")] = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Local development: the daemon and the web UI in one process."""
    from headwater.cli.daemon_runner import run_daemon

    try:
        p = _Project(file, module, attribute, home)
        if no_ui:
            run_daemon(p.instance, p.defs, p.location, interval, False, out)
            return
        from headwater.web import UiConfig
        from headwater.web.server import serve_ui

        serve_ui(p.defs, p.instance, p.location, UiConfig(host=host, port=port),
                 lambda text: out.print(text, markup=False, highlight=False), daemon_interval=interval)
    except HeadwaterError as exc:
        _fail(exc)


@app.command("run-worker", hidden=True)
def run_worker(run_id: Annotated[str, typer.Argument()], home: HomeOpt = None) -> None:
    """Execute one queued run (started by the daemon in its own process)."""

    try:
        with Instance(home=home) as instance:
            run = instance.run(run_id)
            if not run.location:
                raise HeadwaterError(f"run {run_id} does not record where its definitions are")
            location = DefinitionsLocation.from_json(run.location)
            defs = load_definitions(location)
            result = instance.execute_queued(defs, run.run_id, location=location)
    except HeadwaterError as exc:
        _fail(exc)
    raise typer.Exit(0 if result.success else 1)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the example project.")],
) -> None:
    """Scaffold a runnable example project."""
    from headwater.cli.scaffold import scaffold

    try:
        created = scaffold(directory)
    except HeadwaterError as exc:
        _fail(exc)
    out.print(f"Created {len(created)} files in {directory}. Next:", highlight=False)
    out.print(f"  cd {directory}\n  headwater materialize '*'\n  headwater status", markup=False,
              highlight=False)


# Commands kept in their own modules register themselves on ``app`` when imported.
from headwater.cli import automation_cmds, impact_cmd, lineage_cmd, ops_cmds  # noqa: E402, F401


def main() -> None:
    app()


if __name__ == "__main__":
    main()
