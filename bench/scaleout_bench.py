"""Scale-out benchmarks (issue 11): PostgreSQL against SQLite, and the Dask executor.

    python bench/scaleout_bench.py pg_vs_sqlite [--n 1000] [--pairs 5]
    python bench/scaleout_bench.py dask_overhead [--n 1000] [--repeats 3]
    python bench/scaleout_bench.py dask_throughput [--n 50] [--levels 1,4,8]
    python bench/scaleout_bench.py dagster_dask [--n 200]     # the peer, in the Dagster virtualenv

``pg_vs_sqlite``: one run of ``n`` no-op assets in-process, a fresh home (and a fresh
PostgreSQL schema) each time, the two backends interleaved pair by pair so both see the
same machine load; medians and the median of the per-pair ratios. A third column runs
PostgreSQL with every commit synchronous (``HEADWATER_PG_SYNCHRONOUS_COMMIT=always``) to
show what the pipelined writes alone give.

``dask_overhead``: one run of ``n`` no-op assets with ``--executor dask`` on a LocalCluster
of 2 single-threaded worker processes (already running: the cold start is printed apart),
PostgreSQL store; per-asset wall time of the ``materialize`` call, in-process beside it.

``dask_throughput``: 1, 4 and 8 runs at once, each a ``headwater materialize --executor
dask`` process (the whole CLI, as a user or the daemon's launcher starts it) on the same
LocalCluster of 2 workers and one PostgreSQL store; runs per minute and stored events per
second over the wall time of the batch.

PostgreSQL: ``$HEADWATER_BENCH_PG`` or ``postgresql://postgres@127.0.0.1:5432/test``.
Prints one ``RESULT {json}`` line per workload.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dag_gen import layered_dag  # noqa: E402

# CPU seconds of this process per timed run, by backend/executor (with a LocalCluster the
# scheduler's thread is in it; the workers' CPU is not), printed beside the wall times.
CPU: dict[str, list[float]] = {}

PG = os.environ.get("HEADWATER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    import psycopg

    schema = f"hw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _project(n: int, folder: Path) -> Any:
    from hw_bench import write_project

    from headwater.definitions.loader import DefinitionsLocation

    path = write_project(layered_dag(n, 20), folder)
    return DefinitionsLocation(file=str(path), working_dir=str(folder))


def _one_run(n: int, backend: str, executor: str = "in_process") -> float:
    import headwater as hw
    from headwater.definitions.loader import load_definitions

    with tempfile.TemporaryDirectory(prefix="hw-scaleout-") as tmp, contextlib.ExitStack() as stack:
        url = stack.enter_context(pg_schema()) if backend.startswith("pg") else f"sqlite:///{tmp}/hw.db"
        location = _project(n, Path(tmp))
        defs = load_definitions(location)
        old = os.environ.get("HEADWATER_PG_SYNCHRONOUS_COMMIT")
        if backend == "pg_sync":
            os.environ["HEADWATER_PG_SYNCHRONOUS_COMMIT"] = "always"
        try:
            with hw.Instance(home=Path(tmp) / "home", database_url=url) as instance:
                instance.store  # noqa: B018 - create the schema outside the timing
                t0, c0 = time.perf_counter(), time.process_time()
                result = instance.materialize(defs, "*", executor=executor, location=location)
                took = time.perf_counter() - t0
                CPU.setdefault(f"{backend}/{executor}", []).append(round(time.process_time() - c0, 3))
                if not result.success or len(result.materializations) != n:
                    raise RuntimeError(f"run failed: {result.status} {next(iter(result.errors.values()), None)}")
        finally:
            if old is None:
                os.environ.pop("HEADWATER_PG_SYNCHRONOUS_COMMIT", None)
            else:
                os.environ["HEADWATER_PG_SYNCHRONOUS_COMMIT"] = old
        return took


def pg_vs_sqlite(n: int, pairs: int) -> dict[str, Any]:
    _one_run(min(n, 50), "sqlite")  # imports and first-use costs out of the first pair
    _one_run(min(n, 50), "pg")
    runs: dict[str, list[float]] = {"sqlite": [], "pg": [], "pg_sync": []}
    for _ in range(pairs):
        for backend in runs:
            runs[backend].append(_one_run(n, backend))
    per_asset = {k: statistics.median(v) / n * 1e3 for k, v in runs.items()}
    ratios = [p / s for p, s in zip(runs["pg"], runs["sqlite"])]
    sync_ratios = [p / s for p, s in zip(runs["pg_sync"], runs["sqlite"])]
    return {"workload": "pg_vs_sqlite", "n": n, "pairs": pairs, "ms_per_asset_median": per_asset,
            "ratio_median": statistics.median(ratios), "ratios": ratios,
            "ratio_all_synchronous_median": statistics.median(sync_ratios), "target_ratio": 2.0,
            "all_s": runs}


@contextlib.contextmanager
def local_cluster(workers: int = 2) -> Iterator[tuple[str, float]]:
    import logging

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    with Client(cluster) as client:
        client.wait_for_workers(workers)
        started = time.perf_counter() - t0
        try:
            yield cluster.scheduler_address, started
        finally:
            cluster.close()


def dask_overhead(n: int, repeats: int) -> dict[str, Any]:
    with local_cluster(2) as (address, cold):
        os.environ["HEADWATER_DASK_ADDRESS"] = address
        _one_run(20, "pg", "dask")  # workers import headwater once
        dask_runs = [_one_run(n, "pg", "dask") for _ in range(repeats)]
    inproc = [_one_run(n, "pg") for _ in range(repeats)]
    ms = statistics.median(dask_runs) / n * 1e3
    return {"workload": "dask_overhead", "n": n, "repeats": repeats, "dask_ms_per_asset": ms,
            "in_process_pg_ms_per_asset": statistics.median(inproc) / n * 1e3, "target_ms": 5.0,
            "cluster_cold_start_s": cold, "dask_all_s": dask_runs, "in_process_all_s": inproc}


def dask_throughput(n: int, levels: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"workload": "dask_throughput", "n": n, "levels": {}}
    with local_cluster(2) as (address, _), tempfile.TemporaryDirectory(prefix="hw-tp-") as tmp:
        location = _project(n, Path(tmp))
        for level in levels:
            with pg_schema() as url:
                env = {**os.environ, "HEADWATER_DASK_ADDRESS": address, "HEADWATER_DATABASE_URL": url,
                       "HEADWATER_HOME": str(Path(tmp) / "home")}
                cmd = [sys.executable, "-m", "headwater", "materialize", "*", "-f", str(location.file),
                       "--executor", "dask"]
                subprocess.run(cmd, env=env, cwd=tmp, check=True, capture_output=True)  # schema + warm workers
                t0 = time.perf_counter()
                procs = [subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE) for _ in range(level)]
                for p in procs:
                    _, err = p.communicate()
                    if p.returncode != 0:
                        raise RuntimeError(err.decode()[-2000:])
                wall = time.perf_counter() - t0
                import psycopg

                with psycopg.connect(url) as conn:
                    events = conn.execute("SELECT (SELECT count(*) FROM run_events) + "
                                          "(SELECT count(*) FROM asset_events)").fetchone()[0]
                    first = conn.execute("SELECT (SELECT count(*) FROM run_events WHERE run_id IN "
                                         "(SELECT run_id FROM runs ORDER BY created_at LIMIT 1)) + "
                                         "(SELECT count(*) FROM asset_events WHERE run_id IN "
                                         "(SELECT run_id FROM runs ORDER BY created_at LIMIT 1))").fetchone()[0]
                timed_events = events - first
                out["levels"][level] = {"runs": level, "wall_s": wall, "runs_per_minute": level / wall * 60,
                                        "events": timed_events, "events_per_second": timed_events / wall}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["pg_vs_sqlite", "dask_overhead", "dask_throughput"])
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--levels", default="1,4,8")
    a = p.parse_args(argv)
    if a.workload == "pg_vs_sqlite":
        out = pg_vs_sqlite(a.n or 1000, a.pairs)
    elif a.workload == "dask_overhead":
        out = dask_overhead(a.n or 1000, a.repeats)
    else:
        out = dask_throughput(a.n or 50, [int(x) for x in a.levels.split(",")])
    out["load_average"] = os.getloadavg()
    out["cpu_s_this_process"] = CPU
    print("RESULT " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
