"""Workspace figures: 3 code locations x 3,000 assets, each location in its own virtualenv.

    python bench/workspace_bench.py [--assets 3000] [--repeat 3]

Prints, with the load average beside each figure, wall and CPU (user+sys of the child
processes, as cli_bench.py does):
* the first load (no cache: every location's interpreter starts and reports),
* ``headwater status --json`` as a whole process, answered from the definitions cache, and
  with no cache (every location's interpreter starts, then status is answered),
* ``headwater reload LOCATION`` as a whole process, with the location's files unchanged and
  just after an edit (its cache is stale: what a user who fixed a file and reloads pays),
  and the reload of one location alone (``Workspace.reload`` in a warm process: what the UI
  button and the daemon pay).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOCATIONS = ("ingest", "analytics", "ml")


def write_location(folder: Path, name: str, n: int, upstream: str | None) -> None:
    lines = ["import headwater as hw", ""]
    for i in range(n):
        deps = []
        if i >= 1:
            deps.append(f"{name}/a{i - 1}")
        if i >= 10:
            deps.append(f"{name}/a{i // 2}")
        if upstream is not None and i % 100 == 0:
            deps.append(f"{upstream}/a{i}")  # a dependency on another location, by key
        lines.append(f"@hw.asset(key='{name}/a{i}', deps={deps!r}, group='g{i % 20}', code_version='1')")
        lines.append(f"def {name}_a{i}():\n    return None\n")
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "pipeline.py").write_text("\n".join(lines))


def build(root: Path, n: int) -> Path:
    ws = root / "platform"
    toml = []
    for i, name in enumerate(LOCATIONS):
        venv = root / f"venv-{name}"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
        write_location(ws, name, n, LOCATIONS[i - 1] if i else None)
        toml.append(f'[[locations]]\nname = "{name}"\nfile = "{name}/pipeline.py"\npython = "{venv}/bin/python"\n')
    (ws / "headwater.toml").write_text("\n".join(toml))
    return ws


def timed(args: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user+sys of the command and its children), exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode()[-2000:]}")
    return wall, cpu, proc.returncode


def forgotten(home: Path) -> bool:
    """Drop the definitions cache (the store stays): the next command asks every location."""
    shutil.rmtree(home / "locations", ignore_errors=True)
    return True


def edited(path: Path) -> bool:
    """Save ``path`` again, as an editor does (a new mtime, whatever the clock's resolution)."""
    later = max(time.time(), path.stat().st_mtime) + 2
    os.utime(path, (later, later))
    return True


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def report(label: str, samples: list[tuple[float, float, int]]) -> None:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    print(f"{label:<58} wall {wall:6.3f} s  cpu {cpu:6.3f} s  ({load()})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    hw = [sys.executable, "-m", "headwater.cli.app"]
    with tempfile.TemporaryDirectory(prefix="hw-ws-bench-") as tmp:
        ws = build(Path(tmp), opts.assets)
        os.environ["HEADWATER_HOME"] = str(ws / ".headwater")
        total = opts.assets * len(LOCATIONS)
        print(f"workspace: {len(LOCATIONS)} locations x {opts.assets} assets = {total}, each in its own venv")
        report("first load, no cache (headwater locations)", [timed(hw + ["locations"], ws)])
        report(f"headwater status --json, from the cache ({total} assets)",
               [timed(hw + ["status", "--json"], ws) for _ in range(opts.repeat)])
        report("headwater status --json, no cache (three interpreters start)",
               [timed(hw + ["status", "--json"], ws) for _ in range(opts.repeat) if forgotten(ws / ".headwater")])
        report("headwater reload ml (whole process)", [timed(hw + ["reload", "ml"], ws) for _ in range(opts.repeat)])
        report("headwater reload ml just after an edit (whole process)",
               [timed(hw + ["reload", "ml"], ws) for _ in range(opts.repeat) if edited(ws / "ml" / "pipeline.py")])
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        from headwater.definitions.locations_config import find_workspace
        from headwater.service.workspace import Workspace

        workspace = Workspace(find_workspace(ws), ws / ".headwater").load()
        workspace.definitions()
        samples = []
        for _ in range(opts.repeat):
            r0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.process_time()
            [state] = workspace.reload("ml")
            workspace.definitions()
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            assert state.ok, state.error
            own = time.process_time() - t0
            # the child is still alive (it runs steps): its CPU shows in RUSAGE_CHILDREN only once
            # reaped, so this counts this process's share; the child's load time is state.seconds.
            samples.append((time.perf_counter() - r0, own + (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime), 0))
        report("reload one location in a running workspace (UI, daemon)", samples)
        workspace.close()


if __name__ == "__main__":
    main()
