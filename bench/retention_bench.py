"""Store growth with and without a retention policy, and the time a gc takes (issue 17).

    python bench/retention_bench.py               # 30 simulated days (a few minutes)
    python bench/retention_bench.py --days 3      # a quick look

The load: 30 assets materialized every 5 minutes (one run of 30 steps: run start, per step
a start, one log line, the materialization with its inputs, a success; run end) and a
sensor ticking every 30 s, for N simulated days — written through the real store
(``SqlEventStore.write``, the code path a run takes), on SQLite. Two stores get the same
load: one never collected, one collected by the daemon's schedule (``gc_interval``, 6 h)
under the policy below. It prints the size of each, MB per day, and the time of each gc
(the largest is the first one that finds a full day to delete). Dagster users report
~300 MB/day for similar loads with no built-in cleanup.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from headwater.core.events import (  # noqa: E402
    AssetMaterialized,
    InputRecord,
    InputState,
    LogMessage,
    RunFinished,
    RunStarted,
    RunStatus,
    StepStarted,
    StepSucceeded,
    TickRecorded,
    TickStatus,
)
from headwater.core.keys import AssetKey  # noqa: E402
from headwater.core.retention import DAY, RetentionPolicy  # noqa: E402
from headwater.storage.sql.store import open_store  # noqa: E402

ASSETS = 30
RUN_EVERY = 300.0
SENSOR_EVERY = 30.0
T0 = 1_780_000_000.0
POLICY = RetentionPolicy(logs=7 * DAY, step_events=7 * DAY, asset_facts=7 * DAY, ticks=1 * DAY,
                         gc_interval=6 * 3600.0)
KEYS = [AssetKey.parse(f"pipeline/asset_{i:02d}") for i in range(ASSETS)]


def run_events(n: int, t: float) -> list:
    run_id = f"run{n:08d}"
    events: list = [RunStarted(run_id=run_id, timestamp=t, selection="*", asset_keys=tuple(KEYS),
                               executor="multiprocess", pid=4242, host="bench")]
    for i, key in enumerate(KEYS):
        ts = t + i * 0.5
        parent = KEYS[i - 1] if i else None
        inputs = (InputRecord(parent, f"v{n}-{i - 1}", t, InputState.OK),) if parent else ()
        events += [
            StepStarted(run_id=run_id, timestamp=ts, step_key=str(key), asset_keys=(key,), pid=4242),
            LogMessage(run_id=run_id, timestamp=ts + 0.1, step_key=str(key), message=f"wrote 1000 rows to {key}"),
            AssetMaterialized(run_id=run_id, timestamp=ts + 0.2, step_key=str(key), key=key, code_version="1",
                              data_version=f"v{n}-{i}", data_time=t, inputs=inputs,
                              deps=(parent,) if parent else (), metadata={"rows": 1000},
                              value_ref=f"{key}/__all__.pickle", duration=0.2),
            StepSucceeded(run_id=run_id, timestamp=ts + 0.3, step_key=str(key), asset_keys=(key,), duration=0.3),
        ]
    events.append(RunFinished(run_id=run_id, timestamp=t + ASSETS * 0.5, status=RunStatus.SUCCEEDED))
    return events


def ticks(t: float, until: float) -> list:
    out = []
    while t < until:
        out.append(TickRecorded(run_id=None, timestamp=t, instigator="sensor:landing", status=TickStatus.SKIPPED,
                                tick_time=t, cursor=str(int(t)), skip_reason="no new files"))
        t += SENSOR_EVERY
    return out


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def simulate(path: Path, days: float, collect: bool) -> tuple[int, list[tuple[float, int, float]]]:
    store = open_store(f"sqlite:///{path}")
    gcs: list[tuple[float, int, float]] = []
    end = T0 + days * DAY
    next_gc = T0 + POLICY.gc_interval if collect else float("inf")
    n, t = 0, T0
    try:
        while t < end:
            store.write(run_events(n, t))
            store.write(ticks(t, t + RUN_EVERY))
            n, t = n + 1, t + RUN_EVERY
            if t >= next_gc:
                report = store.collect_garbage(POLICY, t)
                gcs.append(((t - T0) / DAY, report.total_rows, report.seconds))
                next_gc += POLICY.gc_interval
    finally:
        store.close()
    return n, gcs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw-retention-") as folder:
        plain, kept = Path(folder) / "plain.db", Path(folder) / "kept.db"
        started = time.perf_counter()
        runs, _ = simulate(plain, args.days, collect=False)
        write_s = time.perf_counter() - started
        _, gcs = simulate(kept, args.days, collect=True)
        mb = 1024 * 1024
        print(f"load: {ASSETS} assets every {RUN_EVERY / 60:g} min ({runs} runs, {runs * (2 + 4 * ASSETS)} run and "
              f"asset events) + a sensor tick every {SENSOR_EVERY:g} s, {args.days:g} simulated days "
              f"(written in {write_s:.0f} s)")
        print(f"policy: {', '.join(f'{k} {v}' for k, v in POLICY.describe().items())}")
        print(f"without retention: {size(plain) / mb:8.1f} MB  ({size(plain) / mb / args.days:.1f} MB/day, "
              "growing without bound)")
        print(f"with retention:    {size(kept) / mb:8.1f} MB  (steady once the oldest kept day is "
              f"{max(POLICY.logs or 0, POLICY.asset_facts or 0) / DAY:g} days old)")
        if gcs:
            worst = max(gcs, key=lambda g: g[2])
            print(f"gc: {len(gcs)} collections, median {sorted(g[2] for g in gcs)[len(gcs) // 2]:.2f} s, "
                  f"worst {worst[2]:.2f} s (day {worst[0]:.1f}, {worst[1]} rows)")
        # The first collection of a store that never had one: everything past the window at once.
        store = open_store(f"sqlite:///{plain}")
        try:
            report = store.collect_garbage(POLICY, T0 + args.days * DAY)
        finally:
            store.close()
        print(f"first gc of the uncollected store: {report.total_rows} rows in {report.seconds:.1f} s, "
              f"{size(plain) / mb:.1f} MB after (full VACUUM once if the file predates auto_vacuum)")
        os.sync()


if __name__ == "__main__":
    main()
