"""``headwater run cancel RUN_ID``: stop a queued or started run, from any process."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from headwater.cli.app import run_app
from headwater.cli.typer_app import HomeOpt, JsonOpt, _existing_home, _fail, out
from headwater.core.events import RunStatus
from headwater.core.records import RunRecord
from headwater.errors import HeadwaterError
from headwater.reports import iso


@run_app.command("cancel")
def run_cancel(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the run has ended.")] = False,
    timeout: Annotated[float, typer.Option(help="With --wait: give up after this many seconds.")] = 120.0,
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Cancel a run: a queued one at once; a started one is stopped by its coordinator."""
    from headwater.cli import json_output as js

    try:
        with _existing_home(home) as instance:
            done = instance.cancel_run(run_id, requested_by="cli")
            record = done.run
            if wait and done.requested:
                record = instance.wait_for_run_end(record.run_id, timeout)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        js.emit(cancel_to_dict(record))
    elif record.status is RunStatus.CANCELED:
        how = "" if record.cancel_requested_at is not None else " before it started"
        out.print(f"run {record.run_id} canceled{how}: {record.reason}", markup=False, highlight=False)
    elif record.status.is_terminal:
        out.print(f"run {record.run_id} ended {record.status.value} before the cancel took effect",
                  markup=False, highlight=False)
    else:
        where = f" (pid {record.pid} on {record.host})" if record.pid else ""
        out.print(f"cancel requested: run {record.run_id} is stopped by its coordinator{where} within a "
                  f"second; follow it with headwater run show {record.run_id[:8]}", markup=False, highlight=False)
    if record.status.is_terminal and record.status is not RunStatus.CANCELED:
        raise typer.Exit(1)


def cancel_to_dict(run: RunRecord) -> dict[str, Any]:
    """``run cancel --json``: where the run stands after the call."""
    return {"run_id": run.run_id, "status": run.status.value, "canceled": run.status is RunStatus.CANCELED,
            "cancel_requested_at": iso(run.cancel_requested_at),
            "reason": run.reason if run.status.is_terminal else run.cancel_reason}
