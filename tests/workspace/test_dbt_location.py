"""A dbt project as a code location (in a virtualenv of its own) beside a Python location
whose asset writes the table the dbt project reads as a source: one graph, real dbt-duckdb.
(Over 5 s: dbt parses the project in the location's process, then builds twice.)"""

import textwrap

import pytest

import headwater as hw
from headwater.definitions.locations_config import find_workspace
from headwater.service.workspace import Workspace

K = hw.AssetKey.parse

INGEST = '''
import duckdb
import headwater as hw

DB = {db!r}

@hw.asset(key="shop/orders")
def orders(context):
    with duckdb.connect(DB) as con:
        con.execute("create schema if not exists raw")
        con.execute("create or replace table raw.orders as select * from (values (1, 10.0), (2, 32.5)) t(id, amount)")
'''

DBT_FILES = {
    "dbt_project.yml": """
        name: shop
        version: "1.0.0"
        profile: shop
        model-paths: ["models"]
        models:
          shop:
            +materialized: table
        """,
    "profiles.yml": """
        shop:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: {db}
              threads: 1
        """,
    "models/sources.yml": """
        version: 2
        sources:
          - name: shop
            schema: raw
            tables:
              - name: orders
        """,
    "models/order_totals.sql": """
        select count(*) as orders, sum(amount) as revenue from {{{{ source('shop', 'orders') }}}}
        """,
}


def test_a_dbt_location_reads_a_python_locations_asset(tmp_path, venvs):
    pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is not installed (pip install -e '.[dbt]')")
    import duckdb

    folder = tmp_path / "ws"
    db = str(tmp_path / "warehouse.duckdb")
    (folder / "ingest").mkdir(parents=True)
    (folder / "ingest" / "pipeline.py").write_text(textwrap.dedent(INGEST.format(db=db)))
    for name, text in DBT_FILES.items():
        path = folder / "shop_dbt" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text.format(db=db)))
    (folder / "headwater.toml").write_text(textwrap.dedent(f'''
        [[locations]]
        name = "ingest"
        file = "ingest/pipeline.py"

        [[locations]]
        name = "shop"
        dbt = "shop_dbt"
        python = "{venvs['analytics']}/bin/python"
    '''))
    ws = Workspace(find_workspace(folder), folder / ".headwater").load()
    try:
        assert {n: s.status for n, s in ws.states.items()} == {"ingest": "loaded", "shop": "loaded"}
        defs = ws.definitions()
        # The dbt source over raw.orders is the Python location's asset, not a second definition.
        assert defs.location_of[K("shop/orders")] == "ingest" and K("shop/orders") not in defs.sources
        assert defs.graph.parents(K("order_totals")) == (K("shop/orders"),)
        with hw.Instance(home=folder / ".headwater") as instance:
            assert instance.select(defs, "location:shop") == {K("order_totals")}
            result = instance.materialize(defs, "*")
            assert result.success, result.errors
            assert result.outcome.step_status == {"shop/orders": "succeeded", "dbt_shop": "succeeded"}
            with duckdb.connect(db, read_only=True) as con:
                assert con.execute("select orders, revenue from order_totals").fetchone() == (2, 42.5)
            instance.materialize(defs, "shop/orders")  # new data upstream: the dbt model is stale
            status = instance.statuses(defs)[K("order_totals")]
            assert status.stale and [c.kind.value for c in status.causes] == ["upstream_updated"]
    finally:
        ws.close()
