"""``headwater impact``: what breaks downstream, and when, if an asset stays as it is."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from headwater.cli.typer_app import AttrOpt, FileOpt, HomeOpt, ModuleOpt, _fail, _Project, app, out
from headwater.core.explain import format_duration, format_time
from headwater.core.keys import to_key
from headwater.errors import HeadwaterError


@app.command()
def impact(
    key: Annotated[str, typer.Argument(help="The asset that is late, failed or stale.")],
    scenario: Annotated[str, typer.Option("--if", help="failed, late or stale: how it stays.")] = "late",
    horizon: Annotated[str | None, typer.Option("--for", help="Look this far ahead: 90m, 6h, 2d (default 24h).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    file: FileOpt = None, module: ModuleOpt = None, attribute: AttrOpt = None, home: HomeOpt = None,
) -> None:
    """Blast radius: every downstream asset, check, schedule and automation affected, and when
    each freshness policy breaches, soonest first, grouped by owner."""
    from headwater.service.impact_view import compute_impact, impact_to_dict, parse_horizon, parse_scenario

    try:
        span = parse_horizon(horizon)
        how = parse_scenario(scenario)
        p = _Project(file, module, attribute, home)
        report = compute_impact(p.instance, p.defs, to_key(key), how, span)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(impact_to_dict(report), indent=2) + "\n")
        return
    say = lambda text, **kw: out.print(text, markup=False, highlight=False, **kw)  # noqa: E731
    say(report.headline, style="red" if report.breaches else "green")
    say(f"data time of {report.root}: {format_time(report.root_data_time)}")
    for owner, keys in report.by_owner.items():
        say(f"\n{owner}")
        for k in keys:
            a = next(x for x in report.assets if x.key == k)
            if a.breach_at is None:
                when = "no freshness policy" if a.policy is None else "never breaches"
            elif a.already_breached:
                when = f"BREACHED since {format_time(a.breach_at)}"
            else:
                when = f"breaches {format_time(a.breach_at)} (in {format_duration(a.breach_at - report.now)})"
            say(f"  {k}: {when}", style="red" if a in report.breaches else None)
            say(f"      path: {' -> '.join(str(p) for p in a.path)}" + (f"; policy: {a.policy}" if a.policy else ""))
    if report.checks:
        say("\nchecks run against frozen data:")
        for c in report.checks:
            say(f"  {c.asset} {c.name}" + (" (blocking: holds its downstream)" if c.blocking else ""))
    if report.triggers:
        say("\nschedules, sensors and automation that launch affected assets:")
        for t in report.triggers:
            nxt = f", next {format_time(t.next_time)}" if t.next_time else ""
            say(f"  {t.kind} {t.name} ({t.detail}{nxt})")
