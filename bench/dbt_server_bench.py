"""A backfill of a partitioned dbt model, with and without the dbt fork server.

What a user feels: the whole ``headwater materialize fct_daily --from D1 --to Dn`` command
(one ``dbt build`` per day), run as a process, with ``HEADWATER_DBT_SERVER=auto`` (each
build forked from a process that imported dbt once) and ``off`` (a fresh interpreter per
build), in interleaved pairs on the same small duckdb project; wall time and CPU (the
command and every process it waited for: dbt's children, the server), medians. Every
run starts from an empty Headwater home, so each builds every day.

    python bench/dbt_server_bench.py --days 10 --pairs 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

FILES = {
    "dbt_project.yml": """
        name: clicks
        version: "1.0.0"
        profile: clicks
        """,
    "profiles.yml": """
        clicks:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{db}"
              threads: 1
        """,
    "models/sources.yml": """
        version: 2
        sources:
          - name: raw
            schema: raw
            tables:
              - name: events
        """,
    "models/stg_events.sql": """
        {{ config(materialized='view') }}
        select id, event_at, amount from {{ source('raw', 'events') }}
        """,
    "models/fct_daily.sql": """
        {{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='event_day') }}
        select id, cast(event_at as date) as event_day, amount from {{ ref('stg_events') }}
        where event_at >= '{{ var("start") }}' and event_at < '{{ var("end") }}'
        """,
}

DEFS = """
import headwater as hw
from pathlib import Path

DAILY = hw.DailyPartitions(start="{start}", end="{end}")


class Daily(hw.dbt.DbtTranslator):
    def partitions(self, node):
        return DAILY if node.name == "fct_daily" else None


defs = hw.dbt.load(Path(__file__).parent / "clicks", translator=Daily()).definitions()
"""


def write(root: Path, days: int) -> tuple[Path, str, str]:
    import duckdb

    project = root / "clicks"
    for rel, text in FILES.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip().replace("{db}", str(project / "dev.duckdb")))
    first = date(2026, 1, 1)
    with duckdb.connect(str(project / "dev.duckdb")) as con:
        con.execute("create schema raw")
        con.execute("create table raw.events (id integer, event_at timestamp, amount integer)")
        con.executemany("insert into raw.events values (?, ?, ?)",
                        [(d * 10 + h, f"{first + timedelta(days=d)} {h:02d}:00:00", h) for d in range(days)
                         for h in range(3)])
    last = first + timedelta(days=days - 1)
    (root / "defs.py").write_text(DEFS.format(start=first, end=last + timedelta(days=1)))
    return root / "defs.py", str(first), str(last)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=10, help="windows of the backfill (one dbt build each)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs of runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw-dbt-server-bench-") as tmp:
        defs, first, last = write(Path(tmp), args.days)
        cmd = [sys.executable, "-m", "headwater", "materialize", "fct_daily", "--from", first, "--to", last,
               "-f", str(defs)]
        base = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
        # one untimed run parses the project (both modes then read the same manifest) and
        # builds the view the daily model reads
        timed([*cmd[:4], "stg_events", "-f", str(defs)], {**base, "HEADWATER_HOME": str(Path(tmp) / "warm")})
        figures: dict[str, list[tuple[float, float]]] = {"auto": [], "off": []}
        for i in range(args.pairs):
            for mode in ("auto", "off") if i % 2 == 0 else ("off", "auto"):
                home = Path(tmp) / f"home-{mode}-{i}"
                figures[mode].append(timed(cmd, {**base, "HEADWATER_HOME": str(home), "HEADWATER_DBT_SERVER": mode}))
        print(f"backfill of {args.days} daily windows (one dbt build each), {args.pairs} interleaved pairs, "
              f"load {os.getloadavg()[0]:.1f}")
        for mode, runs in figures.items():
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            print(f"  HEADWATER_DBT_SERVER={mode:<4}  wall {statistics.median(walls):6.2f} s  "
                  f"CPU {statistics.median(cpus):6.2f} s   (wall {', '.join(f'{w:.2f}' for w in walls)}; "
                  f"CPU {', '.join(f'{c:.2f}' for c in cpus)})")


if __name__ == "__main__":
    main()
