"""Built-in observers on real files and real databases: SQLite, DuckDB and PostgreSQL.

PostgreSQL tests use ``HEADWATER_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
in a fresh schema dropped afterwards; they are skipped, with the reason, when no server answers.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from datetime import UTC, datetime

import duckdb
import pytest

import headwater as hw
from headwater.definitions import observers
from headwater.definitions.loader import find_location, load_definitions

PG_URL = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T1 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC).timestamp()
T2 = datetime(2024, 5, 2, 6, 30, tzinfo=UTC).timestamp()


def touch(path, content: str = "x", ns: int = 1_700_000_000 * 10**9):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    os.utime(path, ns=(ns, ns))


# --- files ------------------------------------------------------------------------------


def test_files_version_changes_exactly_when_a_file_does(tmp_path):
    touch(tmp_path / "landing" / "a.csv", "1,2\n", ns=1_700_000_000 * 10**9)
    touch(tmp_path / "landing" / "b.csv", "3\n", ns=1_700_000_100 * 10**9)
    touch(tmp_path / "landing" / "notes.txt", ns=1_800_000_000 * 10**9)
    observe = observers.files("landing/*.csv", base_dir=tmp_path)

    first = observe()
    assert first.data_time == 1_700_000_100
    assert first.metadata == {"files": 2, "bytes": 6, "newest": "landing/b.csv"}
    assert observe().data_version == first.data_version  # unchanged: same version

    os.utime(tmp_path / "landing" / "a.csv", ns=(1_700_000_200 * 10**9,) * 2)  # touched only
    touched = observe()
    assert touched.data_version != first.data_version
    assert touched.data_time == 1_700_000_200 and touched.metadata["newest"] == "landing/a.csv"

    touch(tmp_path / "landing" / "a.csv", "1,2,3\n", ns=1_700_000_200 * 10**9)  # same mtime, new size
    resized = observe()
    assert resized.data_version not in (first.data_version, touched.data_version)

    touch(tmp_path / "landing" / "c.csv", ns=1_600_000_000 * 10**9)  # an older file arrives
    added = observe()
    assert added.data_version != resized.data_version and added.data_time == 1_700_000_200
    assert added.metadata["files"] == 3


def test_files_recursive_glob_counts_files_not_directories(tmp_path):
    touch(tmp_path / "2024" / "05" / "orders.csv", "abc", ns=2 * 10**18)
    touch(tmp_path / "2024" / "04" / "orders.csv", "ab", ns=1 * 10**18)
    (tmp_path / "2024" / "empty.csv").mkdir()  # a directory whose name matches
    observed = observers.files("**/*.csv", base_dir=tmp_path)()
    assert observed.metadata == {"files": 2, "bytes": 5, "newest": "2024/05/orders.csv"}
    assert observed.data_time == 2e9


def test_files_absolute_pattern_ignores_base_dir(tmp_path):
    touch(tmp_path / "in" / "x.parquet")
    observed = observers.files(str(tmp_path / "in" / "*.parquet"), base_dir="/nowhere")()
    assert observed.metadata["newest"] == "x.parquet"
    exact = observers.files(str(tmp_path / "in" / "x.parquet"))()
    assert exact.data_version == observed.data_version


def test_files_no_match_is_an_error_naming_pattern_and_directory(tmp_path):
    touch(tmp_path / "a.txt")
    with pytest.raises(hw.HeadwaterError, match=rf"no file matches '\*\.csv' in {tmp_path}$"):
        observers.files("*.csv", base_dir=tmp_path)()
    with pytest.raises(hw.HeadwaterError, match="no file matches 'x/\\*' in .*gone \\(that directory does not exist\\)"):
        observers.files("x/*", base_dir=tmp_path / "gone")()
    with pytest.raises(hw.DefinitionError, match="pattern must be a non-empty string"):
        observers.files("")


def test_relative_pattern_resolves_against_the_calling_file(tmp_path, monkeypatch, write_project, instance):
    pipeline = write_project("""
        import headwater as hw
        from headwater.definitions import observers

        orders = hw.source_asset("raw/orders", observe=observers.files("data/orders.csv"))
        refs = hw.source_asset("raw/refs", observe=observers.files("*.json", base_dir="ref"))
    """)
    touch(pipeline.parent / "data" / "orders.csv", "id\n1\n", ns=1_700_000_000 * 10**9)
    touch(pipeline.parent / "ref" / "codes.json", "{}", ns=1_700_000_500 * 10**9)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter

    defs = load_definitions(find_location(file=str(pipeline)))
    seen = {str(o.key): o for o in instance.observe(defs)}
    assert seen["raw/orders"].metadata == {"files": 1, "bytes": 5, "newest": "data/orders.csv"}
    assert seen["raw/orders"].data_time == 1_700_000_000
    assert seen["raw/refs"].metadata["newest"] == "codes.json"


def test_files_in_this_test_module_default_to_this_directory():
    observed = observers.files(os.path.basename(__file__))()
    assert observed.metadata["newest"] == "test_observers.py"


# --- sql on SQLite ----------------------------------------------------------------------


@pytest.fixture
def orders_db(tmp_path):
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, amount REAL, loaded_at TEXT, loaded_epoch INTEGER)")
        conn.execute("INSERT INTO orders VALUES (1, 9.5, '2024-05-01 06:00:00', ?)", (int(T1),))
    conn.close()
    return path


def add_order(path, loaded_at: str, epoch: float) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO orders VALUES (2, 20.0, ?, ?)", (loaded_at, int(epoch)))
    conn.close()


LATEST = "SELECT max(loaded_at) AS loaded_at, count(*) AS row_count, sum(amount) AS total FROM orders"


def test_sqlite_data_time_is_max_loaded_at_and_version_follows_content(orders_db):
    observe = observers.sql(f"sqlite:///{orders_db}", LATEST)
    first = observe()
    assert first.data_time == T1  # naive text is read as UTC
    assert first.metadata == {"row_count": 1, "total": 9.5}
    assert observe().data_version == first.data_version

    add_order(orders_db, "2024-05-02T06:30:00Z", T2)
    second = observe()
    assert second.data_time == T2 and second.metadata == {"row_count": 2, "total": 29.5}
    assert second.data_version != first.data_version


def test_sqlite_epoch_seconds_in_a_named_column(orders_db):
    observe = observers.sql(f"sqlite:///{orders_db}", "SELECT count(*) AS n, max(loaded_epoch) AS t FROM orders",
                            data_time_column="t")
    observed = observe()
    assert observed.data_time == T1 and observed.metadata == {"n": 1}


def test_version_query_decides_the_version(orders_db):
    observe = observers.sql(f"sqlite:///{orders_db}", LATEST, version_query="SELECT max(id) FROM orders")
    assert observe().data_version == "1"
    with sqlite3.connect(orders_db) as conn:
        conn.execute("UPDATE orders SET amount = 99")  # not something the version query sees
    conn.close()
    assert observe().data_version == "1"
    add_order(orders_db, "2024-05-02 06:30:00", T2)
    assert observe().data_version == "2"


def test_empty_table_is_an_empty_observation_but_null_times_on_rows_are_an_error(orders_db):
    url = f"sqlite:///{orders_db}"
    with sqlite3.connect(orders_db) as conn:
        conn.execute("CREATE TABLE later (loaded_at TEXT)")
    conn.close()
    empty = observers.sql(url, "SELECT max(loaded_at), count(*) AS row_count FROM later")()
    assert (empty.data_version, empty.data_time, empty.metadata) == ("empty", None, {"row_count": 0})
    assert observers.sql(url, "SELECT max(loaded_at) FROM later")().data_version == "empty"

    with sqlite3.connect(orders_db) as conn:
        conn.execute("INSERT INTO later VALUES (NULL)")
    conn.close()
    with pytest.raises(hw.HeadwaterError, match=r"data time column 't' is NULL but the table has rows \(n=1\)"):
        observers.sql(url, "SELECT max(loaded_at) AS t, count(*) AS n FROM later")()


@pytest.mark.parametrize("query, kwargs, message", [
    ("SELECT max(x) FROM no_such_table", {}, "no such table: no_such_table"),
    ("SELECT loaded_at FROM orders WHERE id < 0", {}, "the query returned no row"),
    ("SELECT loaded_at FROM orders UNION ALL SELECT loaded_at FROM orders", {}, "more than one row"),
    ("SELECT max(loaded_at) AS t FROM orders", {"data_time_column": "ts"},
     r"data_time_column 'ts' is not among the query's columns \['t'\]"),
    ("SELECT 'yesterday' AS t", {}, "data time 'yesterday' in column 't' is not an ISO 8601"),
    ("SELECT 1714543200000 AS t", {}, "too large for POSIX seconds"),
    ("SELECT max(loaded_at) FROM orders", {"version_query": "SELECT id, amount FROM orders"},
     "version_query must return a single value"),
    ("SELECT max(loaded_at) FROM orders", {"version_query": "SELECT NULL"}, "version_query returned NULL"),
])
def test_sql_errors_name_the_source_and_the_problem(orders_db, query, kwargs, message):
    with pytest.raises(hw.HeadwaterError, match=rf"^sql observer on sqlite:///{orders_db}: .*{message}"):
        observers.sql(f"sqlite:///{orders_db}", query, **kwargs)()


def test_bad_urls_are_errors_and_create_nothing(tmp_path):
    with pytest.raises(hw.DefinitionError, match="invalid database URL 'not a url'"):
        observers.sql("not a url", "SELECT 1")
    with pytest.raises(hw.HeadwaterError, match="sql observer on nosuchdb://h/db: no SQLAlchemy dialect"):
        observers.sql("nosuchdb://h/db", "SELECT 1")()
    missing = tmp_path / "missing.db"
    with pytest.raises(hw.HeadwaterError, match=f"no SQLite database file at {missing}"):
        observers.sql(f"sqlite:///{missing}", "SELECT 1")()
    assert not missing.exists()


def test_relative_sqlite_file_is_found_beside_the_calling_file(tmp_path, write_project, monkeypatch):
    pipeline = write_project("""
        from headwater.definitions import observers
        observe = observers.sql("sqlite:///db/w.db", "SELECT max(t) FROM s")
    """)
    (pipeline.parent / "db").mkdir()
    with sqlite3.connect(pipeline.parent / "db" / "w.db") as conn:
        conn.execute("CREATE TABLE s (t INTEGER)")
        conn.execute("INSERT INTO s VALUES (1700000000)")
    conn.close()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(pipeline.read_text(), str(pipeline), "exec"), namespace)
    assert namespace["observe"]().data_time == 1_700_000_000


# --- sql on DuckDB ----------------------------------------------------------------------


@pytest.fixture
def duck_file(tmp_path):
    path = tmp_path / "lake.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events (id INTEGER, loaded_at TIMESTAMPTZ, batch TIMESTAMP, price DECIMAL(10,2), "
                "day DATE, info STRUCT(src VARCHAR, n INTEGER))")
    con.execute("INSERT INTO events VALUES (1, TIMESTAMPTZ '2024-05-01 08:00:00+02', TIMESTAMP '2024-05-01 06:00:00', "
                "1.25, DATE '2024-05-01', {'src': 'crm', 'n': 3})")
    con.close()
    return path


def test_duckdb_file_is_observed_read_only(duck_file):
    query = ("SELECT max(loaded_at) AS loaded_at, count(*) AS n, max(batch) AS batch, sum(price) AS price, "
             "max(day) AS day, first(info) AS info FROM events")
    observe = observers.sql(f"duckdb:///{duck_file}", query)
    first = observe()
    assert first.data_time == T1  # 08:00+02 is 06:00 UTC
    assert first.metadata == {"n": 1, "batch": "2024-05-01T06:00:00", "price": 1.25, "day": "2024-05-01",
                              "info": {"src": "crm", "n": 3}}
    assert observe().data_version == first.data_version
    naive = observers.sql(f"duckdb:///{duck_file}", "SELECT max(batch) FROM events")()
    assert naive.data_time == T1  # a naive TIMESTAMP is UTC

    con = duckdb.connect(str(duck_file))
    con.execute("INSERT INTO events VALUES (2, TIMESTAMPTZ '2024-05-02 06:30:00+00', NULL, 2, NULL, NULL)")
    con.close()
    second = observe()
    assert second.data_time == T2 and second.data_version != first.data_version

    with pytest.raises(hw.HeadwaterError, match="read-only"):
        observers.sql(f"duckdb:///{duck_file}", "INSERT INTO events (id) VALUES (3) RETURNING id")()


def test_duckdb_errors_name_the_file(duck_file, tmp_path):
    with pytest.raises(hw.HeadwaterError, match=rf"sql observer on duckdb:///{duck_file}: .*nope"):
        observers.sql(f"duckdb:///{duck_file}", "SELECT max(nope) FROM events")()
    with pytest.raises(hw.HeadwaterError, match="no DuckDB database file at .*absent.duckdb"):
        observers.sql(f"duckdb:///{tmp_path / 'absent.duckdb'}", "SELECT 1")()
    assert not (tmp_path / "absent.duckdb").exists()


# --- sql on PostgreSQL ------------------------------------------------------------------


@pytest.fixture
def pg_schema():
    import psycopg

    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {PG_URL}: {str(exc).strip()}")
    schema = f"hw_obs_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".orders (id int, loaded_at timestamptz, batch timestamp, '
                     "amount numeric(10,2))")
        conn.execute(f"""INSERT INTO "{schema}".orders VALUES
                         (1, '2024-05-01 08:00:00+02', '2024-05-01 06:00:00', 9.50)""")
        try:
            yield conn, schema
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
def test_postgres_max_loaded_at(pg_schema):
    conn, schema = pg_schema
    query = f'SELECT max(loaded_at), count(*) AS n, sum(amount) AS amount, max(batch) AS batch FROM "{schema}".orders'
    observe = observers.sql(PG_URL, query)
    first = observe()
    assert first.data_time == T1
    assert first.metadata == {"n": 1, "amount": 9.5, "batch": "2024-05-01T06:00:00"}
    assert observe().data_version == first.data_version

    naive = observers.sql(PG_URL, f'SELECT extract(epoch FROM max(batch)) AS t FROM "{schema}".orders')()
    assert naive.data_time == T1  # numeric epoch seconds (a Decimal)

    conn.execute(f"""INSERT INTO "{schema}".orders VALUES (2, '2024-05-02 06:30:00+00', NULL, 1)""")
    second = observe()
    assert second.data_time == T2 and second.data_version != first.data_version
    assert observers.sql(PG_URL, query, version_query=f'SELECT count(*) FROM "{schema}".orders')().data_version == "2"


@pytest.mark.postgres
def test_postgres_errors_mask_the_password(pg_schema):
    _, schema = pg_schema
    with_password = PG_URL.replace("postgres@", "postgres:s3cret@", 1)
    with pytest.raises(hw.HeadwaterError, match=r"postgres:\*\*\*@.*missing_table") as caught:
        observers.sql(with_password, f'SELECT max(x) FROM "{schema}".missing_table')()
    assert "s3cret" not in str(caught.value)


def test_unreachable_server_is_named_with_the_password_masked():
    observe = observers.sql("postgresql://etl:s3cret@127.0.0.1:1/warehouse", "SELECT 1")
    with pytest.raises(hw.HeadwaterError, match=r"^sql observer on postgresql://etl:\*\*\*@127\.0\.0\.1:1/warehouse: ") \
            as caught:
        observe()
    assert "s3cret" not in str(caught.value)


# --- end to end -------------------------------------------------------------------------


def test_downstream_materialization_carries_the_source_data_time(tmp_path, orders_db):
    add_order(orders_db, "2024-05-02 06:30:00", T2)
    orders = hw.source_asset("raw/orders", observe=observers.sql(f"sqlite:///{orders_db}", LATEST))
    touch(tmp_path / "rates.csv", "eur,1\n", ns=int(T1) * 10**9)
    rates = hw.source_asset("raw/rates", observe=observers.files("rates.csv", base_dir=tmp_path))

    @hw.asset(deps=["raw/orders"], code_version="1")
    def daily_revenue():
        return 1

    @hw.asset(deps=["raw/orders", "raw/rates"], code_version="1")
    def revenue_eur():
        return 2

    defs = hw.Definitions(assets=[orders, rates, daily_revenue, revenue_eur])
    with hw.Instance(home=tmp_path / "home") as instance:
        seen = {str(o.key): o for o in instance.observe(defs)}
        assert seen["raw/orders"].data_time == T2 and seen["raw/rates"].data_time == T1
        result = instance.materialize(defs, "*")
        assert result.success
        assert result.materialization("daily_revenue").data_time == T2
        assert result.materialization("revenue_eur").data_time == T1  # the oldest input
        assert result.materialization("daily_revenue").inputs[0].data_version == seen["raw/orders"].data_version
