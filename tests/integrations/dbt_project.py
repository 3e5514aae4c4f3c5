"""A small but complete dbt project, written to a folder by the tests (real dbt on duckdb).

18 models in three folders (staging, intermediate, marts), two seeds, two sources with
freshness (three source tables), an incremental model, a snapshot, unique / not_null /
relationships / accepted_values tests (one at ``warn`` and failing on purpose; one at
``error`` whose ``warn_if`` / ``error_if`` thresholds make dbt judge its one failing row a
warning), a source test, a singular test, a relationships test that reads ``mart_fragile``
(so dbt skips it when that mart fails), a mart that fails when ``JAFFLE_FAIL_MART=yes`` and
one that runs for minutes when ``JAFFLE_SLOW=yes`` (to cancel it), an exposure and a unit
test. ``write_raw`` loads the raw tables the sources point at.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_NAME = "jaffle"

FILES: dict[str, str] = {
    "dbt_project.yml": """
        name: jaffle
        version: "1.0.0"
        profile: jaffle
        model-paths: ["models"]
        seed-paths: ["seeds"]
        snapshot-paths: ["snapshots"]
        test-paths: ["tests"]
        macro-paths: ["macros"]
        models:
          jaffle:
            staging:
              +materialized: view
            intermediate:
              +materialized: table
            marts:
              +materialized: table
              +meta:
                owner: "analytics@example.com"
        """,
    "seeds/country_codes.csv": """
        country_code,country_name
        DE,Germany
        FR,France
        US,United States
        """,
    "seeds/payment_methods.csv": """
        method_id,method_name
        1,card
        2,cash
        3,voucher
        """,
    "models/staging/_sources.yml": """
        version: 2
        sources:
          - name: shop
            schema: raw
            loaded_at_field: _loaded_at
            freshness:
              warn_after: {count: 12, period: hour}
              error_after: {count: 24, period: hour}
            tables:
              - name: orders
                description: "Orders as the shop system lands them."
                columns:
                  - name: id
                    data_tests: [not_null]
              - name: customers
          - name: web
            schema: raw
            tables:
              - name: page_views
                loaded_at_field: viewed_at
                freshness:
                  error_after: {count: 2, period: day}
        """,
    "models/staging/_staging.yml": """
        version: 2
        models:
          - name: stg_customers
            description: "One row per customer."
            columns:
              - name: customer_id
                data_tests: [unique, not_null]
              - name: country_code
                data_tests:
                  - accepted_values:
                      arguments:
                        values: ["DE", "FR"]
                      config:
                        severity: error
                        warn_if: ">0"
                        error_if: ">5"
          - name: stg_orders
            description: "One row per order."
            config:
              tags: ["orders", "core"]
            columns:
              - name: order_id
                data_tests: [unique, not_null]
              - name: customer_id
                data_tests:
                  - relationships:
                      arguments:
                        to: ref('stg_customers')
                        field: customer_id
              - name: status
                data_tests:
                  - accepted_values:
                      arguments:
                        values: ["placed", "shipped", "completed"]
                      config:
                        severity: warn
        """,
    "models/staging/stg_customers.sql": """
        select id as customer_id, first_name, last_name, country_code
        from {{ source('shop', 'customers') }}
        """,
    "models/staging/stg_orders.sql": """
        select id as order_id, customer_id, status, amount, payment_method_id, ordered_at
        from {{ source('shop', 'orders') }}
        """,
    "models/staging/stg_page_views.sql": """
        select view_id, customer_id, url, viewed_at from {{ source('web', 'page_views') }}
        """,
    "models/staging/stg_countries.sql": """
        select country_code, country_name from {{ ref('country_codes') }}
        """,
    "models/staging/stg_payment_methods.sql": """
        select method_id as payment_method_id, method_name from {{ ref('payment_methods') }}
        """,
    "models/staging/stg_sessions.sql": """
        select customer_id, cast(viewed_at as date) as session_date, count(*) as views
        from {{ ref('stg_page_views') }}
        group by 1, 2
        """,
    "models/intermediate/_intermediate.yml": """
        version: 2
        groups:
          - name: finance
            owner:
              name: Finance Team
              email: finance@example.com
        models:
          - name: int_orders_enriched
            config:
              group: finance
            description: "Orders with their payment method."
          - name: int_orders_incremental
            description: "Orders, appended incrementally."
        """,
    "models/intermediate/int_orders_enriched.sql": """
        select o.order_id, o.customer_id, o.status, o.amount, p.method_name as payment_method, o.ordered_at
        from {{ ref('stg_orders') }} o
        left join {{ ref('stg_payment_methods') }} p on o.payment_method_id = p.payment_method_id
        """,
    "models/intermediate/int_customer_orders.sql": """
        select customer_id, count(*) as order_count, sum(amount) as total_amount,
               min(ordered_at) as first_order_at
        from {{ ref('stg_orders') }}
        group by customer_id
        """,
    "models/intermediate/int_customer_geo.sql": """
        select c.customer_id, c.first_name, c.last_name, k.country_name
        from {{ ref('stg_customers') }} c
        left join {{ ref('stg_countries') }} k using (country_code)
        """,
    "models/intermediate/int_sessions_daily.sql": """
        select session_date, count(distinct customer_id) as visitors, sum(views) as views
        from {{ ref('stg_sessions') }}
        group by 1
        """,
    "models/intermediate/int_orders_incremental.sql": """
        {{ config(materialized='incremental', unique_key='order_id') }}
        select order_id, customer_id, amount, ordered_at from {{ ref('stg_orders') }}
        {% if is_incremental() %}
        where ordered_at > (select coalesce(max(ordered_at), '1900-01-01') from {{ this }})
        {% endif %}
        """,
    "models/marts/_marts.yml": """
        version: 2
        models:
          - name: dim_customers
            description: "Customers with their order history and country."
            config:
              meta:
                owner: "crm@example.com"
            columns:
              - name: customer_id
                data_tests: [unique]
          - name: fct_orders
            description: "Order facts."
          - name: fct_daily_sessions
            columns:
              - name: visitors
                data_tests:
                  - relationships:
                      arguments:
                        to: ref('mart_fragile')
                        field: orders
                      config:
                        where: "1 = 0"
        """,
    "models/marts/_exposures.yml": """
        version: 2
        exposures:
          - name: weekly_revenue
            label: Weekly revenue
            type: dashboard
            maturity: high
            url: https://bi.example.com/dashboards/7
            description: "Revenue by country, for the Monday meeting."
            depends_on:
              - ref('mart_revenue_by_country')
              - ref('dim_customers')
            owner:
              name: Finance Team
              email: finance@example.com
        """,
    "models/intermediate/_unit_tests.yml": """
        version: 2
        unit_tests:
          - name: counts_orders_per_customer
            model: int_customer_orders
            given:
              - input: ref('stg_orders')
                rows:
                  - {customer_id: 1, amount: 10, ordered_at: 2024-01-01}
                  - {customer_id: 1, amount: 5, ordered_at: 2024-01-02}
            expect:
              rows:
                - {customer_id: 1, order_count: 2, total_amount: 15}
        """,
    "models/marts/dim_customers.sql": """
        select g.customer_id, g.first_name || ' ' || g.last_name as full_name, g.country_name,
               coalesce(o.order_count, 0) as order_count, coalesce(o.total_amount, 0) as lifetime_value
        from {{ ref('int_customer_geo') }} g
        left join {{ ref('int_customer_orders') }} o using (customer_id)
        """,
    "models/marts/fct_orders.sql": """
        select e.order_id, e.customer_id, e.amount, e.payment_method, e.ordered_at, d.country_name
        from {{ ref('int_orders_enriched') }} e
        join {{ ref('dim_customers') }} d using (customer_id)
        """,
    "models/marts/fct_daily_sessions.sql": """
        select session_date, visitors, views from {{ ref('int_sessions_daily') }}
        """,
    "models/marts/mart_revenue_by_country.sql": """
        select country_name, sum(amount) as revenue, count(*) as orders
        from {{ ref('fct_orders') }}
        group by country_name
        """,
    "models/marts/mart_customer_ltv.sql": """
        select customer_id, full_name, lifetime_value,
               lifetime_value / nullif(order_count, 0) as avg_order_value
        from {{ ref('dim_customers') }}
        """,
    "models/marts/mart_fragile.sql": """
        {% if env_var('JAFFLE_FAIL_MART', 'no') == 'yes' %}
        select * from a_table_that_does_not_exist
        {% else %}
        select count(*) as orders from {{ ref('int_orders_incremental') }}
        {% endif %}
        """,
    "models/marts/mart_after_fragile.sql": """
        select orders * 2 as doubled from {{ ref('mart_fragile') }}
        """,
    "models/marts/mart_slow.sql": """
        {% if env_var('JAFFLE_SLOW', 'no') == 'yes' %}
        select sum(a.range * b.range) as total from range(1000000) a, range(1000000) b
        {% else %}
        select 1 as total
        {% endif %}
        """,
    "snapshots/customers_snapshot.sql": """
        {% snapshot customers_snapshot %}
        {{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols=['country_code']) }}
        select id, first_name, country_code from {{ source('shop', 'customers') }}
        {% endsnapshot %}
        """,
    "tests/assert_no_negative_revenue.sql": """
        select * from {{ ref('mart_revenue_by_country') }} where revenue < 0
        """,
}


def profiles(db_dir: Path) -> str:
    return textwrap.dedent(f"""
        jaffle:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{db_dir / 'dev.duckdb'}"
              threads: 4
            prod:
              type: duckdb
              path: "{db_dir / 'prod.duckdb'}"
              threads: 4
        """)


def write_project(root: Path, db_dir: Path | None = None) -> Path:
    """Write the project under ``root`` (profiles.yml included) and return its folder."""
    db_dir = db_dir or root
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (root / "profiles.yml").write_text(profiles(db_dir))
    return root


def write_raw(database: Path, loaded_at: datetime | None = None, orders: int = 6) -> datetime:
    """Create (or replace) the raw tables the sources read; returns the loaded-at time used."""
    import duckdb

    loaded_at = loaded_at or datetime.now(UTC).replace(microsecond=0)
    naive = loaded_at.astimezone(UTC).replace(tzinfo=None)
    statuses = ["placed", "shipped", "completed", "returned"]  # 'returned' trips the warn test
    with duckdb.connect(str(database)) as con:
        con.execute("create schema if not exists raw")
        con.execute("create or replace table raw.customers (id integer, first_name varchar, last_name varchar, "
                    "country_code varchar, _loaded_at timestamp)")
        con.execute("insert into raw.customers values (1, 'Ada', 'L', 'DE', ?), (2, 'Bo', 'K', 'FR', ?), "
                    "(3, 'Cy', 'M', 'US', ?)", [naive, naive, naive])
        con.execute("create or replace table raw.orders (id integer, customer_id integer, status varchar, "
                    "amount double, payment_method_id integer, ordered_at timestamp, _loaded_at timestamp)")
        for i in range(1, orders + 1):
            con.execute("insert into raw.orders values (?, ?, ?, ?, ?, ?, ?)",
                        [i, 1 + i % 3, statuses[i % 4], 10.0 * i, 1 + i % 3,
                         naive - timedelta(hours=orders - i), naive])
        con.execute("create or replace table raw.page_views (view_id integer, customer_id integer, url varchar, "
                    "viewed_at timestamp)")
        con.execute("insert into raw.page_views values (1, 1, '/a', ?), (2, 1, '/b', ?), (3, 2, '/a', ?)",
                    [naive - timedelta(hours=3), naive - timedelta(hours=2), naive - timedelta(hours=1)])
    return loaded_at
