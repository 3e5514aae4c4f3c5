"""``headwater gc``: apply the retention policy of ``[tool.headwater.retention]`` to the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from headwater.cli.typer_app import HomeOpt, _fail, app, out
from headwater.errors import HeadwaterError


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


@app.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    home: HomeOpt = None,
) -> None:
    """Delete old log lines, step events, ticks and superseded facts by the retention policy,
    and give the space back. The latest fact of every asset partition is never deleted."""
    from headwater.definitions.project_settings import find_settings
    from headwater.service import Instance

    try:
        policy = find_settings(Path.cwd()).retention
        with Instance(home=home) as instance:
            report = instance.gc(policy, dry_run=dry_run)
    except HeadwaterError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return
    say = lambda text, **kw: out.print(text, markup=False, highlight=False, **kw)  # noqa: E731
    say("policy: " + ", ".join(f"{k} {v}" for k, v in report.policy.items()))
    verb = "would delete" if dry_run else "deleted"
    for kind, n in report.rows.items():
        size = report.payload_bytes.get(kind, 0)
        say(f"  {kind}: {verb} {n} row(s)" + (f" ({_size(size)} of payload)" if size else ""))
    if dry_run:
        say(f"would free about {_size(report.bytes_freed)} (nothing was deleted)")
    else:
        say(f"freed {_size(report.bytes_freed)}: the store went from {_size(report.size_before)} to "
            f"{_size(report.size_after)} in {report.seconds:.2f}s", style="green")
