"""The ``headwater`` command: parse arguments, call the service, render. Nothing more.

Exit codes: 0 everything succeeded, 1 some asset failed, 2 bad input (an unknown key,
a bad selection, definitions that do not load, ...).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from headwater.cli.typer_app import (
    PREWARM_ENV,
    AttrOpt,
    ExitFast,
    FileOpt,
    HeadwaterTyper,
    HomeOpt,
    JsonOpt,
    ModuleOpt,
    _existing_home,
    _fail,
    _optional_defs,
    _Project,
    app,
    err,
    out,
)
from headwater.core.events import RunStatus
from headwater.definitions.loader import DefinitionsLocation, load_definitions
from headwater.errors import HeadwaterError
from headwater.execution.plan import PlanMode
from headwater.reports import run_to_dict, step_to_dict
from headwater.service import EXECUTORS, Instance, ObservationError

run_app = HeadwaterTyper(help="Inspect or cancel one run.")
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
    partition: Annotated[str | None, typer.Option("--partition", help="Partition key(s) of partitioned assets, comma-separated (default: the newest window).")] = None,
    from_partition: Annotated[str | None, typer.Option("--from", help="First partition of a range (inclusive).")] = None,
    to_partition: Annotated[str | None, typer.Option("--to", help="Last partition of a range (inclusive).")] = None,
    as_json: JsonOpt = False,
    override_gates: Annotated[bool, typer.Option("--override-gates", help="Run assets held by a failed blocking check upstream (recorded on the run).")] = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Materialize the selected assets in dependency order, in parallel."""
    from headwater.cli import json_output as js
    from headwater.cli.progress import RunProgress

    try:
        if stale_only and missing_only:
            raise HeadwaterError("--stale-only and --missing-only exclude each other")
        tags = dict(_tag(t) for t in tag or [])
        if not queue:  # a dbt project loaded here starts importing dbt now, beside our own start-up
            os.environ[PREWARM_ENV] = "1"
        try:
            p = _Project(file, module, attribute, home, runs=not queue)
        finally:
            os.environ.pop(PREWARM_ENV, None)  # worker processes must not start one each
        mode = PlanMode.STALE if stale_only else PlanMode.MISSING if missing_only else PlanMode.ALL
        keys = [k.strip() for k in (partition or "").split(",") if k.strip()]
        span = (from_partition, to_partition) if from_partition or to_partition else None
        if (keys or span) and not p.defs.graph.partitioned:
            raise HeadwaterError("--partition/--from/--to: no asset of this project is partitioned")
        if queue:
            record, _ = p.instance.enqueue(p.defs, selection, tags=tags, origin="cli", mode=mode.value,
                                           location=p.location, partition=keys or None, partition_range=span)
            if as_json:
                js.emit(js.materialize_result(run_id=record.run_id, status="queued", queued=True))
                return
            out.print(f"queued run {record.run_id} ({len(record.asset_keys)} assets); the daemon will launch it",
                      highlight=False)
            return
        targets = (p.instance.partition_targets(p.defs, keys, *(span or (None, None)))
                   if p.defs.graph.partition_aware else None)
        plan, _, _ = p.instance.plan(p.defs, selection, mode, from_failure, targets)
        if not plan.steps:
            if plan.sources and not plan.up_to_date:
                raise HeadwaterError(_only_sources(plan.sources))
            if as_json:
                js.emit(js.materialize_result(run_id=None, status="up_to_date", up_to_date=plan.up_to_date,
                                              sources=plan.sources))
                return
            out.print(f"Nothing to materialize: {len(plan.up_to_date)} selected asset(s) already up to date.",
                      highlight=False)
            return
        with RunProgress(out, len(plan.steps), quiet=as_json) as progress:
            result = p.instance.materialize(p.defs, selection, mode=mode, executor=executor, workers=workers,
                                            from_failure=from_failure, tags=tags, location=p.location,
                                            progress=progress, partition=keys or None, partition_range=span,
                                            override_gates=override_gates)
    except HeadwaterError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("run canceled (Ctrl-C)", style="yellow")
        raise typer.Exit(130) from None
    finally:
        dbt_invocation = sys.modules.get("headwater.integrations.dbt.invocation")
        if dbt_invocation is not None:
            dbt_invocation.discard_warm()  # a dbt started ahead that no build used
    # The run is recorded and every process it started has ended: the interpreter's teardown
    # (~0.3 s of CPU, a tenth of a small dbt project's build) is skipped. Not after worker
    # processes: their resource tracker is stopped at exit.
    workers = sys.modules.get("headwater.execution.multiprocess")
    ExitFast.requested = workers is None or not workers.workers_started()
    if as_json:
        js.emit(js.materialize_result(
            run_id=result.run_id, status=result.status.value, materialized=result.materializations,
            up_to_date=result.outcome.up_to_date, skipped=result.outcome.skipped, errors=result.errors,
            sources=plan.sources))
        raise typer.Exit(0 if result.success else 1)
    n = len(result.materializations)
    parts = sum(1 for _k, p_ in result.outcome.partition_materializations if p_)
    summary = f"run {result.run_id} {result.status.value}: {n} asset(s) materialized"
    if parts:
        summary += f" ({parts} partition(s))"
    if result.outcome.up_to_date:
        summary += f", {len(result.outcome.up_to_date)} already up to date"
    skipped = len(result.outcome.skipped) + len(result.outcome.skipped_assets)  # steps, and assets of a step (dbt)
    if result.errors:
        summary += f", {len(result.errors)} step(s) failed, {skipped} skipped"
    elif skipped:
        summary += f", {skipped} skipped"
    out.print(summary, style="green" if result.success else "red", highlight=False)
    if result.status is RunStatus.CANCELED:
        reason = p.instance.run(result.run_id).reason
        out.print(f"  canceled: {reason}", style="yellow", markup=False, highlight=False)
    for step, error in result.errors.items():
        out.print(f"  {step}: {error.message}", style="red", markup=False, highlight=False)
    if not result.success:
        out.print(f"  details: headwater run show {result.run_id[:8]}   retry: headwater materialize "
                  f"--from-failure {result.run_id[:8]}", markup=False, highlight=False)
        raise typer.Exit(1)


def _only_sources(sources: tuple) -> str:
    """A selection of sources only: say what they are and what to type instead."""
    if len(sources) == 1:
        k = sources[0]
        return (f"{k} is a source asset, which Headwater observes rather than produces: run "
                f"`headwater observe '{k}'`, then `headwater materialize '{k}+'` for what reads it")
    shown = ", ".join(str(k) for k in sources[:3]) + (", ..." if len(sources) > 3 else "")
    return (f"{shown} are source assets, which Headwater observes rather than produces: run "
            "`headwater observe SELECTION`, then materialize what reads them (`SELECTION+`)")


def _tag(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise HeadwaterError(f"--tag {text!r} must look like key=value")
    k, v = text.split("=", 1)
    return k, v


@app.command()
def check(
    selection: Annotated[str, typer.Argument(help="Assets whose checks to run.")] = "*",
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Run checks alone against the assets' current materializations."""
    from headwater.cli import json_output as js

    try:
        p = _Project(file, module, attribute, home)
        results = p.instance.check(p.defs, selection)
    except HeadwaterError as exc:
        _fail(exc)
    failed = sum(1 for r in results if not r.passed and r.severity.value != "warn")
    if as_json:
        js.emit([js.check_result(r) for r in results])
        raise typer.Exit(1 if failed else 0)
    for r in results:
        state = "passed" if r.passed else ("warn" if r.severity.value == "warn" else "FAILED")
        out.print(f"{r.key} {r.check_name}: {state}" + (f" — {r.description}" if r.description else ""),
                  style="green" if r.passed else "yellow" if state == "warn" else "red", markup=False,
                  highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def observe(
    selection: Annotated[str, typer.Argument(help="Source assets to observe.")] = "*",
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Observe source assets: record their current data version and data time."""
    from headwater.cli import json_output as js
    from headwater.core.explain import format_time

    failures: list[str] = []
    try:
        p = _Project(file, module, attribute, home, runs=True)
        observed = p.instance.observe(p.defs, selection)
    except ObservationError as exc:
        observed, failures = exc.observed, exc.failures
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        js.emit({"observed": [js.observation(o) for o in observed], "failures": failures})
        raise typer.Exit(1 if failures else 0)
    for o in observed:
        how = o.metadata.get("observed_by") if isinstance(o.metadata, dict) else None  # what the observer used
        out.print(f"{o.key}: data version {o.data_version}, data time {format_time(o.data_time)}"
                  + (f" (by {how})" if how else ""), markup=False, highlight=False)
    for failure in failures:
        err.print(f"error: {failure}", style="red", markup=False, highlight=False)
    if failures:
        raise typer.Exit(1)


@app.command()
def why(
    key: Annotated[str, typer.Argument(help="Asset key.")],
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Why an asset is stale, failed or missing, as a causal chain in plain words."""
    from headwater.cli import json_output as js

    try:
        p = _Project(file, module, attribute, home)
        lines = p.instance.why(p.defs, key)
        row = p.instance.health(p.defs, f'key:"{key}"')[0] if as_json else None
    except HeadwaterError as exc:
        _fail(exc)
    if row is not None:
        js.emit({"key": str(row.key), "health": row.health.value, "status": row.status.status.value,
                 "stale": row.status.stale, "lines": lines})
        return
    for line in lines:
        out.print(line, markup=False, highlight=False)


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many runs.")] = 20,
    status_filter: Annotated[str | None, typer.Option(
        "--status", help="Only runs with this status: " + ", ".join(s.value for s in RunStatus) + ".")] = None,
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Recent runs, newest first; a queued run says what it waits for."""
    from headwater.cli.render import runs_table

    try:
        statuses = [RunStatus(status_filter)] if status_filter else None
    except ValueError:
        _fail(HeadwaterError(f"unknown run status {status_filter!r}; one of "
                             + ", ".join(s.value for s in RunStatus)))
    try:
        with _existing_home(home) as instance:
            records = instance.runs(limit=limit, statuses=statuses)
            waits = _queue_waits(instance, records, file, module, attribute)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps([{**run_to_dict(r), "waiting": waits.get(r.run_id)} for r in records],
                                    indent=2) + "\n")
        return
    out.print(runs_table(records, waits))


def _queue_waits(instance: Instance, records: list, file: str | None, module: str | None,
                 attribute: str | None) -> dict[str, str]:
    """Why the queued runs among ``records`` wait; the project (for its limits) only if needed."""
    if not any(r.status is RunStatus.QUEUED for r in records):
        return {}
    return instance.queue_waits(_optional_defs(file, module, attribute))


@run_app.command("show")
def run_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """A run's steps, timings, logs and errors; a queued run says what it waits for."""
    from headwater.cli.render import run_detail

    try:
        with _existing_home(home) as instance:
            record = instance.run(run_id)
            steps = instance.run_steps(record.run_id)
            events = instance.run_events(record.run_id)
            waiting = _queue_waits(instance, [record], file, module, attribute).get(record.run_id)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps({**run_to_dict(record), "waiting": waiting,
                                     "steps": [step_to_dict(s) for s in steps]}, indent=2) + "\n")
        return
    run_detail(out, record, steps, events, waiting)


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse every action (materialize, observe, ...).")] = False,
    launch: Annotated[str, typer.Option(help="auto: start a worker unless a daemon runs; queue: leave runs to the daemon.")] = "auto",
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """The web UI: asset graph, catalog, asset pages, runs, automation, and its JSON API."""
    from headwater.gc_pause import paused_gc

    with paused_gc():  # the web stack's import (~0.35 s) builds objects as long-lived as the process:
        from headwater.cli.ui_start import start_ui  # collections meanwhile only rescan them (~0.06 s)
        from headwater.web import UiConfig

    try:
        start_ui(file, module, attribute, home, UiConfig(host=host, port=port, read_only=read_only, launch=launch),
                 lambda text: out.print(text, markup=False, highlight=False),
                 lambda text: err.print(text, style="yellow", markup=False, highlight=False), ExitFast.armed)
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
        p = _Project(file, module, attribute, home, reuses=True)
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
def run_worker(run_id: Annotated[str, typer.Argument(help="The queued run to execute.")], home: HomeOpt = None,
               executor: Annotated[str, typer.Option(envvar="HEADWATER_EXECUTOR",
                                                     help=f"One of {', '.join(EXECUTORS)}.")] = "in_process",
               ) -> None:
    """Execute one queued run (started by the daemon in its own process)."""

    try:
        with Instance(home=home) as instance:
            run = instance.run(run_id)
            if not run.location:
                raise HeadwaterError(f"run {run_id} does not record where its definitions are")
            workspace_file = json.loads(run.location).get("workspace")
            if workspace_file:  # a workspace's run: each step goes to its location's process
                from headwater.definitions.locations_config import find_workspace
                from headwater.service.workspace import Workspace

                ws = Workspace(find_workspace(Path(workspace_file).parent), instance.home).load()
                ws.keep_processes = False
                try:
                    result = instance.execute_queued(ws.definitions(), run.run_id, location=None)
                finally:
                    ws.close()
                raise typer.Exit(0 if result.success else 1)
            location = DefinitionsLocation.from_json(run.location)
            defs = load_definitions(location)
            executor = run.tags.get("headwater/executor", executor)  # chosen at launch (the UI), else the option
            result = instance.execute_queued(defs, run.run_id, executor=executor, location=location)
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
    out.print(f"  cd {directory}\n  headwater observe\n  headwater materialize '*'\n  headwater status\n"
              "  headwater why revenue\n(docs/tutorial.md walks through it)", markup=False, highlight=False)


# Commands kept in their own modules register themselves on ``app`` when imported.
from headwater.cli import (  # noqa: E402, F401
    automation_cmds,
    backfill_cmds,
    db_cmd,
    history_cmd,
    impact_cmd,
    lineage_cmd,
    ops_cmds,
    partition_cmds,
    run_cancel_cmd,
    status_cmd,
    workspace_cmds,
)


def main() -> None:
    from headwater.cli.typer_app import ExitFast, keep_only_invoked

    ExitFast.armed = True
    keep_only_invoked(app, sys.argv[1:])
    try:
        app()
    except SystemExit as done:
        if not ExitFast.requested:
            raise
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        dbt_servers = sys.modules.get("headwater.integrations.dbt.fork_server")
        if dbt_servers is not None:
            dbt_servers.stop_servers()  # ended with the command, not just after it (no atexit here)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, ValueError):  # the reader left early (| head): nothing to flush to
                code = code or 1
        os._exit(code)


if __name__ == "__main__":
    main()
