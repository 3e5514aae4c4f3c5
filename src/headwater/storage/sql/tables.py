"""The SQL schema: one ``MetaData`` that serves SQLite and PostgreSQL alike.

Two append-only event tables, six tables derived from them, and one that is not:

* ``run_events`` — run and step lifecycle (queued runs included), log lines, unchanged
  observations, alert transitions and deliveries, ticks and instigator toggles:
  operational, may be compacted.
* ``asset_events`` — materializations, observations and check evaluations: facts about
  data, never compacted.
* ``runs``, ``steps``, ``asset_latest``, ``check_latest``, ``alert_state``,
  ``instigator_state`` — derived in the same transaction as the events they come from, so
  that status for a whole graph (or a daemon's view of its schedules) is one cheap read.
  ``check_latest`` and ``alert_state`` keep the latest event's payload whole: they are read
  back as events.
* ``dynamic_partitions`` and ``backfills`` — the keys of each dynamic partitions definition
  and every backfill as planned, with its status (see migration 0004).
* ``leases`` — who may act as the one daemon of a store, until when. Infrastructure, not a
  fact: written directly, with no event (see ``leases.py``).

Both event tables draw their ids from one shared, monotonically growing counter (see
``writer.py``), so a run's merged log has a single cursor.

Every asset row carries a ``partition`` (``''`` when unpartitioned) from the first
migration on, so partitions can come later without rewriting the keys (docs/design.md §5).

JSON travels as ``Text``: both backends store it, and we never query inside it. Times are
POSIX seconds as double precision, like the events themselves. Migrations in
``storage/migrations/versions`` create these tables; ``tests/storage`` checks that the
two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

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
    Column("run_key", String),  # unique when set: the first run queued under a key wins
    Column("origin", String),  # who asked: "schedule:NAME", "sensor:NAME", "automation", "cli", ...
    Column("mode", String),  # the plan mode the run was requested with
    Column("queued_event_id", EventId),  # its run_queued event: the queue is FIFO in commit order
    # a cancel asked of the started run (run_cancel_requested), until its coordinator ends it
    Column("cancel_requested_at", Time),
    Column("cancel_reason", Text),
    Index("ix_runs_status", "status"),
    Index("ix_runs_created_at", "created_at"),
    Index("ix_runs_run_key", "run_key", unique=True),  # NULLs never collide, on both backends
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
    Column("instigator", String),  # ticks and toggles only: "schedule:NAME", "sensor:NAME", ...
    Index("ix_run_events_run_id_id", "run_id", "id"),
    # The newest of one type (run ends, ticks, alert deliveries): events of no step only
    # (migration 0007), so a step's own events, most of all rows, cost it nothing. A query
    # must say ``step_key IS NULL`` (``TYPE_INDEXED``) for SQLite to use it.
    Index("ix_run_events_type_id", "type", "id",
          sqlite_where=text("step_key IS NULL"), postgresql_where=text("step_key IS NULL")),
    # one instigator's newest ticks; partial, so log lines (instigator NULL) cost it nothing
    Index("ix_run_events_instigator_type_id", "instigator", "type", "id",
          sqlite_where=text("instigator IS NOT NULL"), postgresql_where=text("instigator IS NOT NULL")),
    sqlite_autoincrement=True,
)

TYPE_INDEXED = run_events.c.step_key.is_(None)
"""The condition of ``ix_run_events_type_id``: add it to a query by ``type`` of events that
belong to no step (they have no ``step_key``), and the index serves it."""

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
    # the id of the last event of the batch that last changed the row: a reader that kept
    # what it decoded asks only for rows changed since (ids grow in commit order)
    Column("updated_id", EventId),
    # What status reads of the last materialization, as columns (migration 0005), so that a
    # status of 365,000 partitions decodes no JSON: its run, code and data versions, data
    # time, declared deps (JSON list of keys) and the version of every input it read (JSON
    # ``[[key, partition, version(, state if not ok)], ...]``). See core/materialization_summary.py.
    Column("mat_run_id", String),
    Column("mat_code_version", String),
    Column("mat_data_version", String),
    Column("mat_data_time", Time),
    Column("mat_deps", Text),
    Column("mat_inputs", Text),
    Index("ix_asset_latest_updated_id", "updated_id"),
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

instigator_state = Table(
    "instigator_state", metadata,
    Column("instigator", String, primary_key=True),
    Column("enabled", Boolean),  # NULL: never toggled, the definition's default applies
    Column("last_tick_time", Time),
    Column("last_status", String),
    Column("cursor", Text),  # the newest cursor a tick gave (a tick without one keeps it)
    Column("last_tick_event_id", EventId),
)

leases = Table(
    "leases", metadata,
    Column("name", String, primary_key=True),
    Column("owner", String, nullable=False),
    Column("expires_at", Time, nullable=False),
)

dynamic_partitions = Table(
    "dynamic_partitions", metadata,
    Column("name", String, primary_key=True),
    Column("partition_key", String, primary_key=True),
    Column("added_at", Time, nullable=False),
    Column("event_id", EventId, nullable=False),  # the event that added it: keys list in the order added
)

# Every column but the key may be NULL: a status update is an upsert of a few columns, and
# both backends check NOT NULL on the row to insert before they resolve the conflict.
backfills = Table(
    "backfills", metadata,
    Column("backfill_id", String, primary_key=True),
    Column("status", String, nullable=False),  # requested / canceled / completed / failed
    Column("created_at", Time),
    Column("updated_at", Time),
    Column("selection", Text),
    Column("mode", String),
    Column("partition_range", Text),  # JSON [from, to]
    Column("targets", Text),  # JSON [[asset key, [partitions]], ...]
    Column("total", Integer),  # how many (asset, partition) it plans
    Column("tags", Text),
    Column("chunk_size", Integer),
    Column("reason", Text),
    Column("event_id", EventId),
    Index("ix_backfills_created_at", "created_at"),
)

EVENT_TABLES = (run_events, asset_events)
