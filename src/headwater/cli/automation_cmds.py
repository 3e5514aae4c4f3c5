"""``headwater`` commands for what runs by itself: the daemon, schedules, sensors,
declarative automation, its ticks, and alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from headwater.cli.typer_app import (
    AttrOpt,
    FileOpt,
    HeadwaterTyper,
    HomeOpt,
    JsonOpt,
    ModuleOpt,
    _existing_home,
    _fail,
    _Project,
    app,
    err,
    out,
)
from headwater.errors import HeadwaterError

alerts_app = HeadwaterTyper(help="Alert rules: evaluate them, see what is firing.")
app.add_typer(alerts_app, name="alerts")
schedule_app = HeadwaterTyper(help="Schedules: list, turn on/off, preview fire times.")
app.add_typer(schedule_app, name="schedule")
sensor_app = HeadwaterTyper(help="Sensors: list, turn on/off.")
app.add_typer(sensor_app, name="sensor")
ScheduleName = Annotated[str, typer.Argument(help="Schedule name (see `headwater schedule list`).")]
SensorName = Annotated[str, typer.Argument(help="Sensor name (see `headwater sensor list`).")]
automation_app = HeadwaterTyper(help="Declarative automation.")
app.add_typer(automation_app, name="automation")


@alerts_app.command("evaluate")
def alerts_evaluate(
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Evaluate alert rules now (run it from cron, or let the daemon do it); deliver transitions."""
    try:
        p = _Project(file, module, attribute, home)
        evaluation = p.instance.evaluate_alerts(p.defs)
    except HeadwaterError as exc:
        _fail(exc)
    if evaluation is None:
        out.print("no alert rules defined (Definitions(alerts=[...]))")
        return
    for t in evaluation.transitions:
        out.print(f"{t.state.value.upper()} {t.rule}: {t.key} ({t.condition}) {t.detail}", markup=False,
                  highlight=False)
    if not evaluation.transitions:
        out.print("no alert changed state")
    for rule_name, key, channel in evaluation.failed_deliveries:
        err.print(f"delivery failed: {rule_name} {key} via {channel}", style="red", markup=False)
    if evaluation.failed_deliveries:
        raise typer.Exit(1)


@alerts_app.command("list")
def alerts_list(
    limit: Annotated[int, typer.Option(help="How many of the latest delivery attempts.")] = 20,
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """What is firing now, and the latest delivery attempts."""
    from headwater.cli import json_output as js
    from headwater.core.explain import format_time

    try:
        with _existing_home(home) as instance:
            states = instance.alert_states()
            deliveries = instance.alert_deliveries(limit)
    except HeadwaterError as exc:
        _fail(exc)
    firing = [t for t in states.values() if t.state.value == "firing"]
    if as_json:
        js.emit(js.alerts(firing, deliveries))
        return
    out.print(f"{len(firing)} alert(s) firing", highlight=False)
    for t in firing:
        out.print(f"  {t.rule}: {t.key} since {format_time(t.timestamp)} ({t.condition}) {t.detail}",
                  markup=False, highlight=False)
    for a in deliveries:
        out.print(f"  {format_time(a.timestamp)} {a.rule} {a.key} {a.state.value} via {a.channel} attempt "
                  f"{a.attempt}: {'ok' if a.ok else 'failed'} {a.detail}", markup=False, highlight=False)


@app.command()
def daemon(
    interval: Annotated[float, typer.Option(help="Seconds between ticks.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Run one tick and exit.")] = False,
    lease_ttl: Annotated[Optional[float], typer.Option(help="Seconds a dead daemon's lease blocks others (default max(15, 3 x interval)).")] = None,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Run schedules, sensors, automation, source observations, alerts and the run queue."""
    from headwater.cli.daemon_runner import run_daemon

    try:
        p = _Project(file, module, attribute, home, reuses=True)
        run_daemon(p.instance, p.defs, p.location, interval, once, out, lease_ttl)
    except HeadwaterError as exc:
        _fail(exc)


@app.command()
def ticks(
    instigator: Annotated[Optional[str], typer.Option(help="Only this one, e.g. schedule:daily, sensor:files, automation.")] = None,
    limit: Annotated[int, typer.Option(help="How many ticks, newest first.")] = 30,
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Recent daemon ticks: what each schedule, sensor and automation evaluation decided."""
    from headwater.cli import json_output as js
    from headwater.cli.render import ticks_table

    try:
        with _existing_home(home) as instance:
            ticks = instance.store.ticks(instigator, limit)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        js.emit([js.tick(t) for t in ticks])
        return
    out.print(ticks_table(ticks))


@schedule_app.command("list")
def schedule_list(as_json: JsonOpt = False, file: FileOpt = None, module: ModuleOpt = None,
                  attribute: AttrOpt = None, home: HomeOpt = None) -> None:
    """Schedules with their state, last tick and next fire time."""
    from headwater.cli import json_output as js
    from headwater.cli.render import instigators_table

    try:
        p = _Project(file, module, attribute, home)
        rows = p.instance.schedule_rows(p.defs)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        js.emit([js.instigator(r) for r in rows])
        return
    out.print(instigators_table(rows, "Schedules"))


@schedule_app.command("on")
def schedule_on(name: ScheduleName, file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None,
                home: HomeOpt = None) -> None:
    """Turn a schedule on."""
    _toggle("schedule", name, True, file, module, attribute, home)


@schedule_app.command("off")
def schedule_off(name: ScheduleName, file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None,
                 home: HomeOpt = None) -> None:
    """Turn a schedule off."""
    _toggle("schedule", name, False, file, module, attribute, home)


@schedule_app.command("preview")
def schedule_preview(name: ScheduleName,
                     count: Annotated[int, typer.Option(help="How many fire times.")] = 10,
                     as_json: JsonOpt = False, file: FileOpt = None,
                     module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None) -> None:
    """The next fire times of a schedule, in its time zone and in UTC."""
    from headwater.cli import json_output as js

    try:
        p = _Project(file, module, attribute, home)
        times = p.instance.schedule_preview(p.defs, name, count)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        js.emit([{"local": local, "utc": utc} for local, utc in times])
        return
    for local, utc in times:
        out.print(f"{local}   ({utc})", markup=False, highlight=False)


@sensor_app.command("list")
def sensor_list(as_json: JsonOpt = False, file: FileOpt = None, module: ModuleOpt = None,
                attribute: AttrOpt = None, home: HomeOpt = None) -> None:
    """Sensors with their state, last tick and cursor."""
    from headwater.cli import json_output as js
    from headwater.cli.render import instigators_table

    try:
        p = _Project(file, module, attribute, home)
        rows = p.instance.sensor_rows(p.defs)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        js.emit([js.instigator(r) for r in rows])
        return
    out.print(instigators_table(rows, "Sensors"))


@sensor_app.command("on")
def sensor_on(name: SensorName, file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None,
              home: HomeOpt = None) -> None:
    """Turn a sensor on."""
    _toggle("sensor", name, True, file, module, attribute, home)


@sensor_app.command("off")
def sensor_off(name: SensorName, file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None,
               home: HomeOpt = None) -> None:
    """Turn a sensor off."""
    _toggle("sensor", name, False, file, module, attribute, home)


def _toggle(kind: str, name: str, enabled: bool, file: str | None, module: str | None, attribute: str | None,
            home: Path | None) -> None:
    try:
        p = _Project(file, module, attribute, home)
        p.instance.toggle(p.defs, kind, name, enabled)
    except HeadwaterError as exc:
        _fail(exc)
    out.print(f"{kind} {name} is {'on' if enabled else 'off'}", highlight=False)


@automation_app.command("explain")
def automation_explain(
    key: Annotated[str, typer.Argument(help="Asset key.")],
    tick: Annotated[int, typer.Option(help="Which tick: 0 the newest, 1 the one before, ... (see --history).")] = 0,
    run: Annotated[Optional[str], typer.Option(help="The tick that requested this run (an id prefix will do).")] = None,
    history: Annotated[bool, typer.Option("--history", help="One line per recent tick, to pick one with --tick.")] = False,
    limit: Annotated[int, typer.Option(help="With --history: how many ticks.")] = 20,
    as_json: JsonOpt = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Why an asset's automation condition was true or false on a tick (the newest by default)."""
    from headwater.cli import json_output as js
    from headwater.cli.render import when

    try:
        p = _Project(file, module, attribute, home)
        if history:
            found = p.instance.automation_history(p.defs, key, limit)
        else:
            found = [p.instance.automation_explain(p.defs, key, tick, run)]
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        shaped = [js.automation_explanation(e) for e in found]
        js.emit(shaped if history else shaped[0])
        return
    if not history:
        for line in found[0].lines:
            out.print(line, markup=False, highlight=False)
        return
    if not found:
        out.print("the daemon has not evaluated automation yet", highlight=False)
    for i, e in enumerate(found):
        value = "-" if e.value is None else "true" if e.value else "false"
        runs = ("  runs " + ", ".join(r[:8] for r in e.run_ids)) if e.requested and e.run_ids else ""
        out.print(f"--tick {i:<3} {when(e.tick_time):>22}  {'REQUESTED' if e.requested else 'not requested':13} "
                  f"{e.condition}: {value}{runs}", markup=False, highlight=False)
