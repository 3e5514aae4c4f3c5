"""Start a queued run in its own worker process.

A separate process per run means a crashing or leaking asset can never take the daemon
down. The worker is our own CLI (``headwater run-worker RUN_ID``); it loads the definitions
from the location recorded with the run and writes its events to the same store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from headwater.core.records import RunRecord


def launch_worker(run: RunRecord, home: Path, database_url: str, log_dir: Path) -> subprocess.Popen[bytes]:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{run.run_id}.log", "ab")  # noqa: SIM115 - handed to the child, closed below
    env = {**os.environ, "HEADWATER_HOME": str(home), "HEADWATER_DATABASE_URL": database_url}
    cwd = _working_dir(run.location)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "headwater", "run-worker", run.run_id],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C meant for the daemon does not kill running runs
        )
    finally:
        log.close()


def _working_dir(location: str | None) -> str | None:
    if not location:
        return None
    import json

    try:
        folder = json.loads(location).get("working_dir")
    except (ValueError, AttributeError):
        return None
    return folder if folder and Path(folder).is_dir() else None
