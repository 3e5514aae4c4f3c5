"""A tiny dbt project with a daily incremental model, written to a folder by the tests.

``raw.events`` (loaded by ``write_raw``, three events a day from 2026-01-01 to 2026-01-04)
→ ``stg_events`` (a view, unpartitioned) → ``fct_daily_events`` (incremental, built one day
at a time: it keeps the rows of ``var('start')`` ≤ ``event_at`` < ``var('end')``; one
event of 2026-01-03 has an amount that does not cast, so that day fails) →
``daily_summary`` (a table over every day). ``fct_daily_events`` has a ``not_null`` test.
``fct_daily_totals`` counts events per day between ``var('min_date')`` and ``var('max_date')``
(every day when they are not set).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

FILES: dict[str, str] = {
    "dbt_project.yml": """
        name: clicks
        version: "1.0.0"
        profile: clicks
        model-paths: ["models"]
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
        models:
          - name: fct_daily_events
            columns:
              - name: id
                data_tests: [not_null]
        """,
    "models/stg_events.sql": """
        {{ config(materialized='view') }}
        select id, event_at, amount from {{ source('raw', 'events') }}
        """,
    "models/fct_daily_events.sql": """
        {{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='event_day') }}
        select id, cast(event_at as date) as event_day, event_at, cast(amount as integer) as amount
        from {{ ref('stg_events') }}
        where event_at >= '{{ var("start") }}' and event_at < '{{ var("end") }}'
        """,
    "models/fct_daily_totals.sql": """
        {{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='event_day') }}
        select cast(event_at as date) as event_day, count(*) as events from {{ ref('stg_events') }}
        where event_at >= '{{ var("min_date", "2000-01-01") }}' and event_at < '{{ var("max_date", "2100-01-01") }}'
        group by 1
        """,
    "models/daily_summary.sql": """
        {{ config(materialized='table') }}
        select count(distinct event_day) as days, count(*) as events from {{ ref('fct_daily_events') }}
        """,
}

DAYS = ("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04")
BAD_DAY = "2026-01-03"


def write_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip().replace("{db}", str(root / "dev.duckdb")))
    return root


def write_raw(database: Path) -> None:
    import duckdb

    with duckdb.connect(str(database)) as con:
        con.execute("create schema if not exists raw")
        con.execute("create or replace table raw.events (id integer, event_at timestamp, amount varchar)")
        rows = []
        for d, day in enumerate(DAYS):
            for h in range(3):
                amount = "oops" if day == BAD_DAY and h == 1 else str(10 * (d + 1) + h)
                rows.append((100 * (d + 1) + h, f"{day} {6 * h + 1:02d}:30:00", amount))
        con.executemany("insert into raw.events values (?, ?, ?)", rows)


def rows_by_day(database: Path, table: str = "fct_daily_events") -> dict[str, int]:
    """How many rows of each day a model's table holds."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        found = con.execute(f"select cast(event_day as varchar), count(*) from main.{table} "
                            "group by 1 order by 1").fetchall()
    return {day: n for day, n in found}
