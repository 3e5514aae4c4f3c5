"""Partitions at scale, judged as a user feels them (issue 10, point 10).

    python bench/partitions_bench.py                  # full sizes: 1,000 assets x 365 days
    python bench/partitions_bench.py --assets 100 --days 60   # smaller

Workloads, each timed through the public API in fresh processes:

* ``status``: ``Instance.statuses(defs)`` of N daily-partitioned assets (a layered graph,
  each reading its parents' same day) over a store holding every (asset, day) materialized:
  cold (a fresh process: store opened, every partition decoded) and warm (the same process,
  after a run wrote 10 more partitions; and with nothing new). Target: 365,000 partition
  states < 1 s warm, < 3 s cold.
* ``materialize``: per-partition overhead of ``Instance.materialize`` — 1,000 partitions of
  one no-op asset against 1,000 unpartitioned no-op assets, interleaved pairs, in-process on
  SQLite. Target: the same per-unit overhead.
* ``cli``: ``headwater status`` of one asset with 10,000 hourly partitions, whole process
  (python -m headwater ... status), interleaved with ``status --json``. Target < 1 s.

Prints one line per figure and a final ``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SRC))

START = "2025-01-01"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def defs_for(assets: int, days: int):  # type: ignore[no-untyped-def]
    from dag_gen import layered_dag

    import headwater as hw

    daily = hw.DailyPartitions(start=START, end=_end(days))
    out = []
    for node in layered_dag(assets, layers=10):
        def noop() -> None:
            return None
        out.append(hw.asset(key=node.name, deps=list(node.parents), partitions=daily)(noop))
    return hw.Definitions(assets=out)


def _end(days: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(START) + timedelta(days=days)).isoformat()


def seed(home: Path, assets: int, days: int) -> int:
    """Every (asset, day) materialized once, upstream first, reading its parents' same day."""
    import headwater as hw
    from headwater.core.events import AssetMaterialized, InputRecord, RunFinished, RunStarted, RunStatus

    defs = defs_for(assets, days)
    inst = hw.Instance(home=home)
    now = time.time()
    ctx = inst.partition_context(defs)
    keys = ctx.keys(defs.graph.spec(defs.graph.keys[0]).partitions)
    versions: dict[tuple[object, str], str] = {}
    batch: list[object] = [RunStarted(run_id="seed", timestamp=now)]
    written = 0
    for key in defs.graph.keys:
        spec = defs.graph.spec(key)
        for p in keys:
            inputs = tuple(InputRecord(d, versions[(d, p)], now, partition=p) for d in spec.deps)
            version = f"{key}:{p}"
            versions[(key, p)] = version
            batch.append(AssetMaterialized(run_id="seed", timestamp=now, step_key=str(key), key=key, partition=p,
                                           data_version=version, data_time=now, inputs=inputs, deps=spec.deps))
            if len(batch) >= 5000:
                inst.store.write(batch)  # type: ignore[arg-type]
                written += len(batch)
                batch = []
    batch.append(RunFinished(run_id="seed", timestamp=now, status=RunStatus.SUCCEEDED))
    inst.store.write(batch)  # type: ignore[arg-type]
    inst.close()
    return written + len(batch)


def status_child(home: str, assets: int, days: int) -> None:
    """In a fresh process: cold call, a run writes 10 partitions, warm call, unchanged call."""
    import headwater as hw
    from headwater.core.events import AssetMaterialized

    defs = defs_for(assets, days)
    inst = hw.Instance(home=home)
    c = time.process_time()
    t = time.perf_counter()
    statuses = inst.statuses(defs)
    cold = time.perf_counter() - t
    cold_cpu = time.process_time() - c
    states = sum(s.partitions.total for s in statuses.values() if s.partitions is not None)
    key = defs.graph.keys[len(defs.graph.keys) // 2]
    ctx = inst.partition_context(defs)
    parts = ctx.keys(defs.graph.spec(key).partitions)[-10:]
    warm_changed = []
    warm_same = []
    for i in range(3):
        inst.store.write([AssetMaterialized(run_id=None, timestamp=time.time(), key=key, partition=p,
                                            data_version=f"new{i}", deps=defs.graph.spec(key).deps) for p in parts])
        t = time.perf_counter()
        out = inst.statuses(defs)
        warm_changed.append(time.perf_counter() - t)
        t = time.perf_counter()
        inst.statuses(defs)
        warm_same.append(time.perf_counter() - t)
    stale = out[defs.graph.keys[-1]].partitions.stale if out[defs.graph.keys[-1]].partitions else 0
    print("RESULT " + json.dumps({"cold": cold, "cold_cpu": cold_cpu, "warm_changed": statistics.median(warm_changed),
                                  "warm_same": statistics.median(warm_same), "states": states,
                                  "stale_in_last": stale}))


def run_child(args: list[str]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=_env())
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"child failed: {proc.stderr[-2000:]}")


def bench_status(assets: int, days: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        t = time.perf_counter()
        n = seed(home, assets, days)
        print(f"seeded {n:,} events ({assets} assets x {days} days) in {time.perf_counter() - t:.1f} s", flush=True)
        results = []
        for _ in range(repeats):
            results.append(run_child(["--child-status", str(home), str(assets), str(days)]))
    out = {k: statistics.median(r[k] for r in results) for k in ("cold", "cold_cpu", "warm_changed", "warm_same")}
    out["states"] = results[0]["states"]
    print(f"status of {int(out['states']):,} partition states: cold {out['cold']:.2f} s (cpu {out['cold_cpu']:.2f} s; "
          f"target < 3 s), "
          f"warm after a run {out['warm_changed']:.2f} s (target < 1 s), unchanged {out['warm_same']:.2f} s "
          f"[median of {repeats} fresh processes; load {os.getloadavg()[0]:.1f}]", flush=True)
    return out


def materialize_child(kind: str, n: int) -> None:
    import headwater as hw

    if kind == "partitioned":
        daily = hw.DailyPartitions(start=START, end=_end(n))

        @hw.asset(partitions=daily)
        def one():
            return None

        defs = hw.Definitions(assets=[one])
        kwargs: dict[str, object] = {"partition_range": (START, None)}  # every day
    else:
        out = []
        for i in range(n):
            def noop() -> None:
                return None
            out.append(hw.asset(key=f"a{i:05d}")(noop))
        defs = hw.Definitions(assets=out)
        kwargs = {}
    with tempfile.TemporaryDirectory() as tmp:
        inst = hw.Instance(home=Path(tmp) / "home")
        inst.statuses(defs)  # open the store, migrate: not part of the run
        t = time.perf_counter()
        result = inst.materialize(defs, "*", **kwargs)  # type: ignore[arg-type]
        took = time.perf_counter() - t
        assert result.success
        made = len(result.outcome.partition_materializations)
        inst.close()
    print("RESULT " + json.dumps({"seconds": took, "units": made}))


def bench_materialize(n: int, pairs: int) -> dict[str, float]:
    plain, parts = [], []
    for _ in range(pairs):  # interleaved: A B A B ...
        a = run_child(["--child-materialize", "plain", str(n)])
        b = run_child(["--child-materialize", "partitioned", str(n)])
        plain.append(a["seconds"] / a["units"] * 1000)
        parts.append(b["seconds"] / b["units"] * 1000)
    out = {"plain_ms": statistics.median(plain), "partition_ms": statistics.median(parts)}
    print(f"materialize, in-process on SQLite: {out['partition_ms']:.3f} ms per partition (1 asset x {n} days) vs "
          f"{out['plain_ms']:.3f} ms per unpartitioned asset ({n} assets); ratio "
          f"{out['partition_ms'] / out['plain_ms']:.2f} [medians of {pairs} interleaved pairs]", flush=True)
    return out


def bench_cli(partitions: int, pairs: int) -> dict[str, float]:
    from datetime import datetime, timedelta

    hours_start = datetime(2025, 1, 1)
    end = (hours_start + timedelta(hours=partitions)).strftime("%Y-%m-%d-%H:%M")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pipeline.py").write_text(textwrap.dedent(f"""
            import headwater as hw
            hourly = hw.HourlyPartitions(start="2025-01-01", end="{end}")

            @hw.asset(partitions=hourly, backfill_policy="single_run")
            def clicks():
                return None

            defs = hw.Definitions(assets=[clicks])
        """))
        cmd = [sys.executable, "-m", "headwater"]
        env = _env()
        env["HEADWATER_HOME"] = str(folder / "home")
        subprocess.run([*cmd, "materialize", "clicks", "--from", "2025-01-01-00:00", "--executor", "in_process",
                        "-f", "pipeline.py"], cwd=folder, env=env, check=True, capture_output=True)
        table, js, cpu = [], [], []
        for _ in range(pairs):
            for target, extra in ((table, []), (js, ["--json"])):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run([*cmd, "status", "-f", "pipeline.py", *extra], cwd=folder, env=env, check=True,
                               capture_output=True)
                target.append(time.perf_counter() - t)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if not extra:
                    cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        bare = []
        for _ in range(pairs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import headwater.cli.app"], env=env, check=True)
            bare.append(time.perf_counter() - t)
    out = {"table_s": statistics.median(table), "json_s": statistics.median(js), "import_s": statistics.median(bare),
           "table_cpu_s": statistics.median(cpu)}
    print(f"headwater status of one asset with {partitions:,} hourly partitions, whole process: table "
          f"{out['table_s']:.2f} s (cpu {out['table_cpu_s']:.2f} s), --json {out['json_s']:.2f} s (target < 1 s; "
          f"importing the CLI alone {out['import_s']:.2f} s) [medians of {pairs} interleaved runs; load "
          f"{os.getloadavg()[0]:.1f}]", flush=True)
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-status":
        status_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-materialize":
        materialize_child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units", type=int, default=1000, help="partitions / assets for the materialize pairs")
    parser.add_argument("--cli-partitions", type=int, default=10_000)
    parser.add_argument("--only", choices=("status", "materialize", "cli"))
    a = parser.parse_args()
    result: dict[str, object] = {}
    if a.only in (None, "status"):
        result["status"] = bench_status(a.assets, a.days, a.repeats)
    if a.only in (None, "materialize"):
        result["materialize"] = bench_materialize(a.units, a.repeats)
    if a.only in (None, "cli"):
        result["cli"] = bench_cli(a.cli_partitions, a.repeats)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
