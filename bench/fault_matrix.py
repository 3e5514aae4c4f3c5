"""The reliability figures of docs/reliability.md, re-runnable (issue 17).

    python bench/fault_matrix.py                   # everything, default trials (several minutes)
    python bench/fault_matrix.py --trials 3 --only faults
    python bench/fault_matrix.py --only concurrency --only fuzz

Three parts, each printing a Markdown table:

* **faults** — kill -9 of the CLI mid-run, of a multiprocess worker mid-step, of the
  daemon mid-tick, at random moments chosen by progress (after 1..k steps or runs, never
  after a fixed sleep). After each kill, one read (``headwater runs --json``, a new
  process) and the invariants: runs left ``started`` (must be 0: every read reaps),
  lost events (a ``step_succeeded`` without the materialization it reports; a
  ``run_finished`` missing for a terminal run), duplicates (a step succeeding twice in one
  attempt, a run key queued twice, a run finished twice);
* **concurrency** — 4 and 8 processes appending run lifecycles at once to SQLite and
  PostgreSQL: events stored vs sent, duplicate ids, "database is locked" errors, events/s;
* **fuzz** — schemathesis over every operation of the UI's OpenAPI document: requests
  sent, answers by class, and 5xx (must be 0).
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
PG_URL = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

PIPELINE = '''
import os, time
import headwater as hw

@hw.asset
def s0(context):
    time.sleep(0.15)
    return 0
'''
for _i in range(1, 8):
    PIPELINE += f'''
@hw.asset
def s{_i}(context, s{_i - 1}):
    time.sleep(0.15)
    return s{_i - 1} + 1
'''
PIPELINE += '''
@hw.asset
def side(context):
    if os.environ.get("HW_KILL_ME"):
        with open(os.environ["HW_KILL_ME"], "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(30)
    return 1

@hw.asset
def after_side(side):
    return side

@hw.sensor(interval=0.05)
def every_tick(context):
    return hw.RunRequest(selection="s0", run_key=f"bucket-{int(context.now * 2)}")

defs = hw.Definitions(assets=[s0, s1, s2, s3, s4, s5, s6, s7, side, after_side], sensors=[every_tick])
'''


def wait_until(predicate, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def headwater(*args: str, home: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "headwater", *args], env={**ENV, "HEADWATER_HOME": str(home),
                                                                              **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def invariants(home: Path) -> dict[str, int]:
    """Read once in a new process (which reaps), then count what must never happen."""
    subprocess.run([sys.executable, "-m", "headwater", "runs", "--json", "--home", str(home)], env=ENV,
                   capture_output=True, check=False, timeout=120)
    from headwater.storage.sql.store import open_store

    store = open_store(f"sqlite:///{home / 'headwater.db'}")
    try:
        runs = store.list_runs(limit=100_000)
        running = sum(1 for r in runs if r.status.value == "started" and r.pid is not None)
        lost = dup = 0
        for run in runs:
            events = [e.event for e in store.run_events(run.run_id)]
            materialized = collections.Counter(str(e.key) for e in events if e.type_name == "materialization")
            succeeded = collections.Counter((e.step_key, e.attempt) for e in events if e.type_name == "step_succeeded")
            finished = sum(1 for e in events if e.type_name == "run_finished")
            dup += sum(n - 1 for n in succeeded.values() if n > 1) + max(0, finished - 1)
            lost += sum(1 for (step, _), _n in succeeded.items() if not materialized.get(step))
            lost += 1 if run.status.is_terminal and run.status.value != "canceled" and finished == 0 else 0
        keys = collections.Counter(r.run_key for r in runs if r.run_key)
        dup += sum(n - 1 for n in keys.values() if n > 1)
        return {"runs": len(runs), "running": running, "lost": lost, "dup": dup}
    finally:
        store.close()


def step_count(home: Path) -> int:
    from headwater.storage.sql.store import open_store

    db = home / "headwater.db"
    if not db.exists():
        return 0
    store = open_store(f"sqlite:///{db}")
    try:
        return sum(1 for r in store.list_runs(limit=1000) for s in store.run_steps(r.run_id)
                   if s.status.value == "succeeded")
    finally:
        store.close()


def run_count(home: Path) -> int:
    from headwater.storage.sql.store import open_store

    db = home / "headwater.db"
    if not db.exists():
        return 0
    store = open_store(f"sqlite:///{db}")
    try:
        return len(store.list_runs(limit=100_000))
    finally:
        store.close()


def fault_cli(folder: Path, rng: random.Random) -> dict[str, int]:
    home = folder / "home"
    proc = headwater("materialize", "s0+", "-f", str(folder / "p.py"), "--executor", "multiprocess", "--workers", "2",
                     home=home)
    target = rng.randint(1, 6)
    wait_until(lambda: step_count(home) >= target or proc.poll() is not None)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    time.sleep(0.5)  # orphaned workers notice their closed pipe and exit (not a correctness wait)
    return invariants(home)


def fault_worker(folder: Path, rng: random.Random) -> dict[str, int]:
    home = folder / "home"
    marker = folder / f"worker-{uuid.uuid4().hex}.pid"
    proc = headwater("materialize", "side+ or s0", "-f", str(folder / "p.py"), "--executor", "multiprocess",
                     "--workers", "2", home=home, env={"HW_KILL_ME": str(marker)})
    wait_until(lambda: marker.exists() and marker.read_text().strip() != "")
    os.kill(int(marker.read_text()), signal.SIGKILL)
    proc.wait(120)
    return invariants(home)


def fault_daemon(folder: Path, rng: random.Random) -> dict[str, int]:
    home = folder / "home"
    daemon = headwater("daemon", "-f", str(folder / "p.py"), "--interval", "0.05", "--lease-ttl", "0.5", home=home)
    target = run_count(home) + rng.randint(1, 3)
    wait_until(lambda: run_count(home) >= target or daemon.poll() is not None)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    from headwater.storage.sql.store import open_store

    store = open_store(f"sqlite:///{home / 'headwater.db'}")
    try:  # let the workers it launched finish (they outlive it by design)
        wait_until(lambda: all(r.status.is_terminal or r.status.value == "queued" or r.pid is None
                               for r in store.list_runs(limit=100_000)))
    finally:
        store.close()
    return invariants(home)


def faults(trials: int) -> None:
    rng = random.Random(17)
    print("\n### Fault matrix\n")
    print("| killed (SIGKILL) | when | trials | lost events | runs left running | duplicates |")
    print("|---|---|---|---|---|---|")
    for name, fn, when in (("the CLI (`materialize`, multiprocess)", fault_cli, "after 1–6 steps succeeded"),
                           ("a multiprocess worker", fault_worker, "mid-step"),
                           ("the daemon", fault_daemon, "after 1–3 new runs, repeatedly on one store")):
        totals = collections.Counter()
        with tempfile.TemporaryDirectory(prefix="hw-faults-") as tmp:
            folder = Path(tmp)
            (folder / "p.py").write_text(PIPELINE)
            for i in range(trials):
                trial = folder if fn is fault_daemon else folder / f"t{i}"
                if trial is not folder:
                    trial.mkdir()
                    (trial / "p.py").write_text(PIPELINE)
                totals.update(fn(trial, rng))
        print(f"| {name} | {when} | {trials} | {totals['lost']} | {totals['running']} | {totals['dup']} |")


# -- concurrency ----------------------------------------------------------------------------------


def _writer(url: str, runs: int, out: mp.Queue) -> None:
    from headwater.core.events import RunFinished, RunStarted, StepStarted, StepSucceeded
    from headwater.storage.sql.store import open_store

    store = open_store(url)
    locked = sent = 0
    try:
        for _ in range(runs):
            run_id = uuid.uuid4().hex
            now = time.time()
            batches = [[RunStarted(run_id=run_id, timestamp=now, selection="*")]]
            for s in range(5):
                batches += [[StepStarted(run_id=run_id, timestamp=now, step_key=f"s{s}")],
                            [StepSucceeded(run_id=run_id, timestamp=now, step_key=f"s{s}")]]
            batches.append([RunFinished(run_id=run_id, timestamp=now)])
            for batch in batches:
                try:
                    store.write(batch)
                    sent += len(batch)
                except Exception as exc:  # noqa: BLE001 - counted: the figure is how many
                    locked += "locked" in str(exc)
    finally:
        store.close()
    out.put((sent, locked))


def concurrency(runs_per_writer: int) -> None:
    from sqlalchemy import text

    from headwater.storage.sql.store import open_store

    print("\n### Concurrent writers\n")
    print("| backend | writers | events sent | events stored | duplicate ids | 'database is locked' | events/s |")
    print("|---|---|---|---|---|---|---|")
    ctx = mp.get_context("spawn")
    for backend in ("sqlite", "postgresql"):
        for writers in (4, 8):
            with tempfile.TemporaryDirectory(prefix="hw-conc-") as tmp:
                schema = None
                if backend == "sqlite":
                    url = f"sqlite:///{tmp}/hw.db"
                else:
                    try:
                        import psycopg

                        schema = f"hw_bench_{uuid.uuid4().hex[:8]}"
                        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
                            conn.execute(f'CREATE SCHEMA "{schema}"')
                    except Exception as exc:  # noqa: BLE001
                        print(f"| postgresql | {writers} | skipped: {exc} | | | | |")
                        continue
                    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
                open_store(url).close()
                queue: mp.Queue = ctx.Queue()
                started = time.perf_counter()
                procs = [ctx.Process(target=_writer, args=(url, runs_per_writer, queue)) for _ in range(writers)]
                for p in procs:
                    p.start()
                results = [queue.get(timeout=600) for _ in procs]
                for p in procs:
                    p.join(60)
                elapsed = time.perf_counter() - started
                store = open_store(url)
                try:
                    with store.engines.read.connect() as conn:
                        stored, distinct = conn.execute(text("SELECT count(*), count(DISTINCT id) FROM run_events")).one()
                finally:
                    store.close()
                if schema:
                    with psycopg.connect(PG_URL, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                sent = sum(r[0] for r in results)
                locked = sum(r[1] for r in results)
                print(f"| {backend} | {writers} | {sent} | {stored} | {stored - distinct} | {locked} | "
                      f"{sent / elapsed:,.0f} |")


# -- fuzz -----------------------------------------------------------------------------------------


def fuzz(examples: int) -> None:
    import schemathesis
    from fastapi.testclient import TestClient
    from hypothesis import HealthCheck, given, settings

    import headwater as hw
    from headwater.definitions.loader import DefinitionsLocation, load_definitions
    from headwater.web import UiConfig, create_app

    sys.path.insert(0, str(ROOT / "tests" / "web"))
    from project import PIPELINE as WEB_PIPELINE

    print("\n### API fuzz (schemathesis)\n")
    with tempfile.TemporaryDirectory(prefix="hw-fuzz-") as tmp:
        folder = Path(tmp)
        (folder / "pipeline.py").write_text(WEB_PIPELINE)
        (folder / "orders.txt").write_text("3 4 5\n")
        location = DefinitionsLocation(file=str(folder / "pipeline.py"), working_dir=str(folder))
        defs = load_definitions(location)
        os.environ["HEADWATER_HOME"] = str(folder / ".headwater")
        instance = hw.Instance(home=folder / ".headwater")
        instance.observe(defs)
        instance.materialize(defs)
        app = create_app(defs, instance, location, UiConfig(launch="queue"))
        client = TestClient(app, base_url="http://127.0.0.1:3000")
        token = client.get("/api/session").json()["csrf_token"]
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
        classes: collections.Counter[str] = collections.Counter()
        errors: list[str] = []
        operations = [r.ok() for r in schema.get_all_operations()]
        for op in operations:
            @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(op.as_strategy())
            def check(case):
                kwargs = case.as_transport_kwargs(base_url="http://127.0.0.1:3000", headers={"X-CSRF-Token": token})
                kwargs.pop("cookies", None)
                response = client.request(**kwargs)
                classes[f"{response.status_code // 100}xx"] += 1
                if response.status_code >= 500:
                    errors.append(f"{case.operation.label} {case.query} -> {response.status_code}")

            check()
        client.close()
        app.state.ctx.launcher.close()
        instance.close()
    print("| operations | requests | 2xx | 4xx | 5xx |")
    print("|---|---|---|---|---|")
    print(f"| {len(operations)} | {sum(classes.values())} | {classes['2xx']} | {classes['4xx']} | {classes['5xx']} |")
    for line in errors[:10]:
        print(f"  5xx: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=["faults", "concurrency", "fuzz"])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--runs-per-writer", type=int, default=100)
    parser.add_argument("--examples", type=int, default=300, help="schemathesis examples per operation")
    args = parser.parse_args()
    parts = args.only or ["faults", "concurrency", "fuzz"]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {json.dumps(sys.argv[1:])}")
    if "faults" in parts:
        faults(args.trials)
    if "concurrency" in parts:
        concurrency(args.runs_per_writer)
    if "fuzz" in parts:
        fuzz(args.examples)


if __name__ == "__main__":
    main()
