"""The SQL schema: one ``MetaData`` that serves SQLite and PostgreSQL alike.

Two append-only event tables and five tables derived from them:

* ``run_events`` — run and step lifecycle, log lines, unchanged observations, alert
  transitions and deliveries: operational, may be compacted.
* ``asset_events`` — materializations, observations and check evaluations: facts about
  data, never compacted.
* ``runs``, ``steps``, ``asset_latest``, ``check_latest``, ``alert_state`` — derived in the
  same transaction as the events they come from, so that status for a whole graph is one
  cheap read. ``check_latest`` and ``alert_state`` keep the latest event's payload whole:
  they are read back as events.

Both event tables draw their ids from one shared, monotonically growing counter (see
``writer.py``), so a run's merged log has a single cursor.

Every asset row carries a ``partition`` (``''`` when unpartitioned) from the first
migration on, so partitions can come later without rewriting the keys (DESIGN.md §5).

JSON travels as ``Text``: both backends store it, and we never query inside it. Times are
POSIX seconds as double precision, like the events themselves. Migrations in
``storage/migrations/versions`` create these tables; ``tests/storage`` checks that the
two agree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Double, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

# SQLite only autoincrements an ``INTEGER PRIMARY KEY``; PostgreSQL wants 64 bits.
EventId = BigInteger().with_variant(Integer(), "sqlite")
Time: Double[float] = Double()

runs = Table(
    "runs", metadata,
    Column("run_id", String, primary_key=True),
    Column("status", String, nullable=False),
    Column("selection", Text),
    Column("asset_keys", Text),  # JSON list of key strings
    Column("tags", Text),  # JSON object
    Column("parent_run_id", String),
    Column("executor", String),
    Column("created_at", Time),
    Column("started_at", Time),
    Column("ended_at", Time),
    Column("pid", BigInteger),
    Column("host", String),
    Column("location", Text),
    Column("reason", Text),
    Index("ix_runs_status", "status"),
    Index("ix_runs_created_at", "created_at"),
)

steps = Table(
    "steps", metadata,
    Column("run_id", String, primary_key=True),
    Column("step_key", String, primary_key=True),
    Column("status", String, nullable=False),
    Column("asset_keys", Text),  # JSON list of key strings
    Column("attempt", Integer),
    Column("started_at", Time),
    Column("ended_at", Time),
    Column("error", Text),  # JSON ErrorInfo
    Column("detail", Text),
)

run_events = Table(
    "run_events", metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("run_id", String),
    Column("step_key", String),
    Column("type", String, nullable=False),
    Column("timestamp", Time, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_run_events_run_id_id", "run_id", "id"),
    Index("ix_run_events_type_id", "type", "id"),  # the newest of one type (alert deliveries)
    sqlite_autoincrement=True,
)

asset_events = Table(
    "asset_events", metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("asset_key", String, nullable=False),
    Column("partition", String, nullable=False, server_default=""),
    Column("type", String, nullable=False),
    Column("run_id", String),
    Column("timestamp", Time, nullable=False),
    Column("data_version", String),
    Column("schema_version", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_asset_events_key_partition_type_id", "asset_key", "partition", "type", "id"),
    Index("ix_asset_events_run_id", "run_id"),
    sqlite_autoincrement=True,
)

asset_latest = Table(
    "asset_latest", metadata,
    Column("asset_key", String, primary_key=True),
    Column("partition", String, primary_key=True, server_default=""),
    Column("last_materialization_id", EventId),
    Column("last_materialization", Text),  # the event's JSON payload
    Column("last_materialized_at", Time),
    Column("last_observation_id", EventId),
    Column("last_observation", Text),  # the event's JSON payload
    Column("last_attempt_run_id", String),
    Column("last_attempt_status", String),
    Column("last_attempt_at", Time),
    Column("last_failure", Text),  # JSON ErrorInfo
    # when the source was last observed, changed or not (observation or observation_unchanged)
    Column("last_observation_checked_at", Time),
)

check_latest = Table(
    "check_latest", metadata,
    Column("asset_key", String, primary_key=True),
    Column("partition", String, primary_key=True, server_default=""),
    Column("check_name", String, primary_key=True),
    Column("event_id", EventId, nullable=False),
    Column("payload", Text, nullable=False),  # the check_evaluation event's JSON payload
    Column("evaluated_at", Time, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("severity", String, nullable=False),
)

alert_state = Table(
    "alert_state", metadata,
    Column("rule", String, primary_key=True),
    Column("asset_key", String, primary_key=True),
    Column("state", String, nullable=False),  # firing / resolved
    Column("since", Time, nullable=False),  # the latest transition's time
    Column("event_id", EventId, nullable=False),
    Column("payload", Text, nullable=False),  # the alert_transition event's JSON payload
)

EVENT_TABLES = (run_events, asset_events)
