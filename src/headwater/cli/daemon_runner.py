"""``headwater daemon`` / ``dev``: run the daemon loop until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any

from rich.console import Console

from headwater.automation.daemon import Daemon


def run_daemon(instance: Any, defs: Any, location: Any, interval: float, once: bool, console: Console,
               lease_ttl: float | None = None) -> None:
    daemon = Daemon(instance, defs, location, interval=interval, lease_ttl=lease_ttl)
    if once:
        report = daemon.tick()
        console.print(f"tick: queued {len(report.queued)}, launched {len(report.launched)}, "
                      f"{len(report.ticks)} instigator tick(s) recorded", highlight=False)
        daemon.close(timeout=3600)  # one-shot use (cron): finish what this tick launched
        return
    stop = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    console.print(f"headwater daemon ({daemon.owner}) ticking every {interval:g}s on {instance.database_url}",
                  highlight=False)
    last: list[str] = []

    def waiting(message: str) -> None:
        if last != [message]:
            console.print(message, style="yellow", highlight=False)
            last[:] = [message]

    try:
        daemon.run(stop, on_wait=waiting)
    except KeyboardInterrupt:
        stop.set()
    console.print("daemon stopped", highlight=False)
