"""A dbt project laid out as larger real projects are (issue 13), written by the tests.

- seeds under ``seeds/raw/`` land in schema ``raw`` (a ``generate_schema_name`` macro, as
  most projects have), and the staging models read them back through
  ``{{ source('ecom', 'raw_orders') }}``: dbt draws no edge between seed and source;
- ``stg_orders`` is ``select * from {{ source(...) }}``; ``int_supply`` renames and computes
  (``md5(...) as supply_uuid``); ``fct_orders`` joins;
- a seed over 1 MiB (dbt's checksum of it is its path);
- sources Headwater does not produce and that have no freshness rule: ``web.events`` (with
  a data-time column configured in ``meta``) and ``web.sessions`` (nothing configured);
- an installed package (``packages.yml`` + ``dbt_packages/ecom_utils``) with a macro and a model;
- a unit test on ``dim_customers`` that fails when the var ``factor`` is not 2, a singular
  test on ``stg_orders`` that fails when the var ``min_amount`` is high, and a
  ``relationships`` test on ``stg_orders`` that dbt runs when only ``stg_customers`` is built.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

BIG_SEED_ROWS = 220
BIG_SEED_NOTE = "x" * 5000  # 220 rows x ~5 KB: over dbt's 1 MiB seed-checksum limit

FILES: dict[str, str] = {
    "dbt_project.yml": """
        name: ecom
        version: "1.0.0"
        profile: ecom
        models:
          ecom:
            staging:
              +materialized: view
            marts:
              +materialized: table
        seeds:
          ecom:
            raw:
              +schema: raw
        """,
    "packages.yml": """
        packages:
          - local: dbt_packages/ecom_utils
        """,
    "dbt_packages/ecom_utils/dbt_project.yml": """
        name: ecom_utils
        version: "1.0.0"
        config-version: 2
        """,
    "dbt_packages/ecom_utils/macros/cents.sql": """
        {% macro cents(column) %}cast(round({{ column }} * 100) as integer){% endmacro %}
        """,
    "dbt_packages/ecom_utils/models/util_calendar.sql": """
        {{ config(materialized='table') }}
        select cast('2024-01-01' as date) + to_days(cast(range as integer)) as day from range(3)
        """,
    "macros/generate_schema_name.sql": """
        {% macro generate_schema_name(custom_schema_name, node) -%}
            {{ custom_schema_name | trim if custom_schema_name else target.schema }}
        {%- endmacro %}
        """,
    "seeds/raw/raw_orders.csv": """
        id,customer_id,sku,amount,ordered_at
        1,1,A-1,10.5,2024-01-01 10:00:00
        2,2,B-2,20.0,2024-01-02 11:00:00
        3,1,C-3,7.25,2024-01-03 12:00:00
        """,
    "seeds/raw/raw_customers.csv": """
        id,name
        1,Ada
        2,Bo
        """,
    "models/staging/_sources.yml": """
        version: 2
        sources:
          - name: ecom
            schema: raw
            tables:
              - name: raw_orders
                columns:
                  - name: id
                    data_tests: [not_null]
              - name: raw_customers
          - name: web
            schema: web
            tables:
              - name: events
                meta:
                  headwater:
                    data_time_column: event_at
              - name: sessions
        """,
    "models/staging/_staging.yml": """
        version: 2
        models:
          - name: stg_orders
            columns:
              - name: id
                data_tests: [unique]
              - name: customer_id
                data_tests:
                  - relationships:
                      arguments:
                        to: ref('stg_customers')
                        field: customer_id
        """,
    "models/staging/stg_orders.sql": """
        select * from {{ source('ecom', 'raw_orders') }}
        """,
    "models/staging/stg_customers.sql": """
        select id as customer_id, name as customer_name from {{ source('ecom', 'raw_customers') }}
        """,
    "models/staging/stg_events.sql": """
        select * from {{ source('web', 'events') }}
        """,
    "models/marts/int_supply.sql": """
        select md5(cast(id as varchar) || sku) as supply_uuid, sku, {{ ecom_utils.cents('amount') }} as amount_cents
        from {{ ref('stg_orders') }}
        """,
    "models/marts/dim_customers.sql": """
        select customer_id, upper(customer_name) as name_upper, customer_id * {{ var('factor', 2) }} as score
        from {{ ref('stg_customers') }}
        """,
    "models/marts/fct_orders.sql": """
        select o.id as order_id, c.name_upper as customer, o.amount
        from {{ ref('stg_orders') }} o join {{ ref('dim_customers') }} c on o.customer_id = c.customer_id
        """,
    "models/marts/_unit_tests.yml": """
        version: 2
        unit_tests:
          - name: scores_double_the_id
            model: dim_customers
            given:
              - input: ref('stg_customers')
                rows:
                  - {customer_id: 3, customer_name: cy}
            expect:
              rows:
                - {customer_id: 3, name_upper: CY, score: 6}
        """,
    "tests/assert_amounts_over_minimum.sql": """
        select * from {{ ref('stg_orders') }} where amount < {{ var('min_amount', 0) }}
        """,
}


def profiles(db: Path) -> str:
    return textwrap.dedent(f"""
        ecom:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{db}"
              threads: 4
        """)


def write_project(root: Path) -> Path:
    """Write the project (profiles.yml, the installed package and the big seed included)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (root / "profiles.yml").write_text(profiles(root / "dev.duckdb"))
    write_big_seed(root)
    return root


def write_big_seed(root: Path, price: int = 1) -> Path:
    path = root / "seeds" / "big_products.csv"
    lines = ["sku,price,note"] + [f"P-{i},{price},{BIG_SEED_NOTE}" for i in range(BIG_SEED_ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_web(database: Path, rows: int = 3) -> datetime:
    """The tables of the ``web`` source (landed by something outside the project)."""
    import duckdb

    latest = datetime(2024, 6, 1, 12, 0, tzinfo=UTC) + timedelta(hours=rows)
    naive = latest.replace(tzinfo=None)
    with duckdb.connect(str(database)) as con:
        con.execute("create schema if not exists web")
        con.execute("create or replace table web.events (event_id integer, event_at timestamp)")
        for i in range(rows):
            con.execute("insert into web.events values (?, ?)", [i, naive - timedelta(hours=i)])
        con.execute("create or replace table web.sessions (session_id integer)")
        con.execute("insert into web.sessions select range from range(?)", [rows * 2])
    return latest
