"""Backfill planning over 10,000 partitions, through the public ``Instance`` API.

    python bench/backfill_bench.py            # full size (10,000 hourly partitions)
    python bench/backfill_bench.py --quick    # 1,000 partitions, a smoke run

Workloads (each cold = the first call in a fresh interpreter, once the definitions are
loaded and the store is open; warm = the same call again in that process; "process start
to planned" adds the imports, loading the definitions and opening the store):

* ``plan_10k`` — ``launch_backfill('events', --from, --to)`` over 10,000 hourly partitions
  of one asset: validate the range, resolve the targets, store the one event.
* ``plan_10k_plus_rolling`` — ``'events+'``: the same 10,000 partitions plus a child that
  reads a rolling 24-hour window through a ``TimeWindowMapping`` (20,000 targets, the
  child's derived through the mapping) and an unpartitioned summary of all of it.
* ``plan_10k_missing`` — ``--only missing`` after half the partitions were stored: the
  status of every partition is derived to filter them.
* ``progress_10k`` — ``backfill_progress`` (warm): every target's state from the store.
* ``next_runs_10k`` — the chunks the driver would launch next (warm).

Wall and CPU seconds are both printed: on a shared machine the wall time also counts the
time other processes held the cores, the CPU time only this one's work.

Target: planning 10,000 partitions under 1 s (issue 10, point 10). Exits 0 whatever the
figures are; a benchmark is not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

PROJECT = '''
import headwater as hw
from headwater.core.partition_mappings import AllPartitions, TimeWindowMapping
from headwater.core.partitions import HourlyPartitions
from headwater.definitions.decorators import Dep

hourly = HourlyPartitions(start="2025-01-01-00:00", end="{end}")

@hw.asset(partitions=hourly)
def events(context):
    return 1

@hw.asset(partitions=hourly, deps=[Dep("events", mapping=TimeWindowMapping(start_offset=-23))])
def events_24h(context):
    return 1

@hw.asset(deps=[Dep("events_24h", mapping=AllPartitions())])
def summary():
    return 1

defs = hw.Definitions(assets=[events, events_24h, summary])
'''

CHILD = r'''
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from headwater.definitions.loader import find_location, load_definitions
from headwater.service import Instance
from headwater.execution.backfill_plan import next_runs
loc = find_location(sys.argv[2], None, None)
defs = load_definitions(loc)
inst = Instance(home=sys.argv[3])
selection, start, end, only = sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7] or None
inst.store.last_event_id()  # the store is open (a first run also creates its schema): not planning
t1 = time.perf_counter()
c1 = time.process_time()
rec = inst.launch_backfill(defs, selection, partition_range=(start, end), only=only)
t2 = time.perf_counter()
c2 = time.process_time()
rec2 = inst.launch_backfill(defs, selection, partition_range=(start, end), only=only)
t3 = time.perf_counter()
c3 = time.process_time()
p = inst.backfill_progress(defs, rec2)
t4 = time.perf_counter()
p = inst.backfill_progress(defs, rec2)
t5 = time.perf_counter()
runs = next_runs(rec2.ordered_targets(), p.states, inst._parents(defs, rec2), rec2.chunk_size, 4)
t6 = time.perf_counter()
print(json.dumps({"targets": rec.total, "process_to_planned": t2 - t0, "plan_cold": t2 - t1,
                  "plan_warm": t3 - t2, "cpu_cold": c2 - c1, "cpu_warm": c3 - c2, "progress_first": t4 - t3, "progress_warm": t5 - t4,
                  "next_runs": t6 - t5, "runs": len(runs)}))
'''


def _end_for(hours: int) -> str:
    from datetime import datetime, timedelta

    return (datetime(2025, 1, 1) + timedelta(hours=hours)).strftime("%Y-%m-%d-%H:%M")


def _keys(hours: int) -> tuple[str, str]:
    from datetime import datetime, timedelta

    first = datetime(2025, 1, 1)
    return first.strftime("%Y-%m-%d-%H:%M"), (first + timedelta(hours=hours - 1)).strftime("%Y-%m-%d-%H:%M")


def _seed_half(folder: Path, project: Path, hours: int) -> None:
    """Store a materialization for every other partition of ``events`` (written as events,
    as fast as the store takes them) so that ``--only missing`` has something to filter."""
    code = f'''
import sys
sys.path.insert(0, {str(SRC)!r})
from headwater.core.events import AssetMaterialized
from headwater.core.keys import AssetKey
from headwater.definitions.loader import find_location, load_definitions
from headwater.service import Instance
defs = load_definitions(find_location({str(project)!r}, None, None))
inst = Instance(home={str(folder / "home")!r})
keys = inst.partition_context(defs).keys(defs.graph.spec(AssetKey(("events",))).partitions)
events = [AssetMaterialized(run_id="seed", timestamp=1.0, key=AssetKey(("events",)), partition=k,
                            data_version="v") for k in keys[::2]]
for i in range(0, len(events), 2000):
    inst.store.write(events[i:i + 2000])
'''
    subprocess.run([sys.executable, "-c", code], check=True)


def run(hours: int) -> list[tuple[str, dict]]:
    out = []
    start, end = _keys(hours)
    with tempfile.TemporaryDirectory(prefix="hw-backfill-bench-") as tmp:
        folder = Path(tmp)
        project = folder / "project.py"
        project.write_text(PROJECT.replace("{end}", _end_for(hours)))
        scenarios = [("plan_10k", "events", ""), ("plan_10k_plus_rolling", "events+", ""),
                     ("plan_10k_missing", "events", "missing")]
        for name, selection, only in scenarios:
            if only:
                _seed_half(folder, project, hours)
            done = subprocess.run([sys.executable, "-c", CHILD, str(SRC), str(project), str(folder / "home"),
                                   selection, start, end, only], capture_output=True, text=True, check=True)
            out.append((name, json.loads(done.stdout.strip().splitlines()[-1])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    hours = 1_000 if args.quick else 10_000
    for name, fig in run(hours):
        verdict = ("PASS" if fig["plan_cold"] < 1.0 else "FAIL") + " wall, " + \
            ("PASS" if fig["cpu_cold"] < 1.0 else "FAIL") + " cpu"
        print(f"{name:22s} {fig['targets']:6d} targets  plan cold {fig['plan_cold']:.3f} s (cpu "
              f"{fig['cpu_cold']:.3f} s)  warm {fig['plan_warm']:.3f} s (cpu {fig['cpu_warm']:.3f} s)  "
              f"(process start to planned {fig['process_to_planned']:.2f} s)  "
              f"progress {fig['progress_first']:.3f} s / warm {fig['progress_warm']:.3f} s  "
              f"next runs {fig['next_runs'] * 1000:.1f} ms  [{verdict} < 1 s]")


if __name__ == "__main__":
    main()
