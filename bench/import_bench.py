"""What importing Headwater costs a process (issue 14 point 4): whole-process CPU and wall
time of the import paths a user meets, and where ``python -X importtime`` says it goes.

    python bench/import_bench.py                          # 7 interleaved rounds of every path
    python bench/import_bench.py --rounds 15 --top 15
    python bench/import_bench.py --baseline /path/to/other/src   # the same paths of another tree, interleaved

Paths (each a fresh interpreter, bytecode compiled as ``pip install`` leaves it, after one
uncounted warm-up round):

- ``python_startup``: ``python -c pass``, the floor;
- ``import_headwater``: ``import headwater``;
- ``definitions_file``: a user's file that does ``import headwater as hw`` and declares 20
  assets, a check, a freshness policy and ``hw.Definitions`` (what every worker and
  command pays before it does anything);
- ``cli``: ``import headwater.cli.app`` (every ``headwater`` command before it parses);
- ``ui_imports``: ``import headwater.web.server`` after the CLI (what ``headwater ui`` adds).

Each line gives the median CPU (user + system, from ``wait4``) and wall time, and the
median minus the floor. Then, for one run of each path under ``-X importtime``, the
top-level packages by the import time spent in their own modules. Rounds are interleaved
(A B C A B C ...), so that a change of the machine's load hits every path alike.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
PYCACHE = Path(tempfile.gettempdir()) / "hw-cli-bench-pycache"

DEFINITIONS_FILE = '''
from datetime import timedelta

import headwater as hw

def _make(i):
    def build():
        return i
    return build

assets = [hw.asset(key=f"a{i}", deps=[f"a{i - 1}"] if i else [], code_version="1")(_make(i)) for i in range(20)]
defs = hw.Definitions(assets=assets, checks=[hw.check("a19", name="positive")(lambda: True)],
                      default_freshness=hw.FreshnessPolicy.within(timedelta(hours=1)))
'''

PATHS = {
    "python_startup": "pass",
    "import_headwater": "import headwater",
    "definitions_file": "import bench_defs",
    "cli": "import headwater.cli.app",
    "ui_imports": "import headwater.cli.app, headwater.web.server",
}


def _env(src: Path, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(folder)])
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def timed(code: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of ``python -c code``, start to exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"python -c {code!r} failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def importtime(code: str, env: dict[str, str], cwd: Path) -> tuple[float, dict[str, float]]:
    """The whole import time of ``code`` (seconds) and each top-level package's own share."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=cwd, capture_output=True,
                          text=True, check=True)
    own: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m:
            own[m.group(3).split(".")[0]] += int(m.group(1)) / 1e6
    return sum(own.values()), dict(own)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--top", type=int, default=8, help="packages listed per path under -X importtime")
    p.add_argument("--baseline", type=Path, help="another tree's src/ to time beside this one")
    a = p.parse_args(argv)
    trees = {"this": SRC, **({"baseline": a.baseline.resolve()} if a.baseline else {})}
    with tempfile.TemporaryDirectory(prefix="hw-import-bench-") as tmp:
        folder = Path(tmp)
        (folder / "bench_defs.py").write_text(DEFINITIONS_FILE)
        envs = {name: _env(src, folder) for name, src in trees.items()}
        runs: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        for code in PATHS.values():  # warm-up: bytecode written, files in the page cache
            for env in envs.values():
                timed(code, env, folder)
        for _ in range(a.rounds):
            for path, code in PATHS.items():
                for tree, env in envs.items():
                    runs[(tree, path)].append(timed(code, env, folder))
        print(f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.1f}, {a.rounds} interleaved rounds, "
              f"Python {sys.version.split()[0]}; medians (CPU = user + system)")
        for tree in trees:
            floor = statistics.median(c for _, c in runs[(tree, "python_startup")])
            for path in PATHS:
                walls = [w for w, _ in runs[(tree, path)]]
                cpus = [c for _, c in runs[(tree, path)]]
                cpu = statistics.median(cpus)
                print(f"{tree:8} {path:18} CPU {cpu:5.3f} s (+{cpu - floor:5.3f} over python)  "
                      f"wall {statistics.median(walls):5.3f} s  (CPU {min(cpus):.3f}-{max(cpus):.3f})", flush=True)
        for tree, env in envs.items():
            for path, code in PATHS.items():
                if path == "python_startup":
                    continue
                total, own = importtime(code, env, folder)
                top = sorted(own.items(), key=lambda kv: -kv[1])[:a.top]
                print(f"{tree:8} {path:18} -X importtime {total:5.3f} s: "
                      + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
