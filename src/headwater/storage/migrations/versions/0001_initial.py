"""The initial schema: event log in two families, runs, steps and the latest state per asset.

A frozen snapshot: later schema changes go in new revisions, never here, so that every
database created by this revision upgrades the same way.

Revision ID: 0001
Revises:
Create Date: 2024-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_event_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_time: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("selection", sa.Text()),
        sa.Column("asset_keys", sa.Text()),
        sa.Column("tags", sa.Text()),
        sa.Column("parent_run_id", sa.String()),
        sa.Column("executor", sa.String()),
        sa.Column("created_at", _time),
        sa.Column("started_at", _time),
        sa.Column("ended_at", _time),
        sa.Column("pid", sa.BigInteger()),
        sa.Column("host", sa.String()),
        sa.Column("location", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_created_at", "runs", ["created_at"])

    op.create_table(
        "steps",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("step_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("asset_keys", sa.Text()),
        sa.Column("attempt", sa.Integer()),
        sa.Column("started_at", _time),
        sa.Column("ended_at", _time),
        sa.Column("error", sa.Text()),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("run_id", "step_key"),
    )

    op.create_table(
        "run_events",
        sa.Column("id", _event_id, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String()),
        sa.Column("step_key", sa.String()),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("timestamp", _time, nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_run_events_run_id_id", "run_events", ["run_id", "id"])

    op.create_table(
        "asset_events",
        sa.Column("id", _event_id, autoincrement=True, nullable=False),
        sa.Column("asset_key", sa.String(), nullable=False),
        sa.Column("partition", sa.String(), server_default="", nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("run_id", sa.String()),
        sa.Column("timestamp", _time, nullable=False),
        sa.Column("data_version", sa.String()),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_asset_events_key_partition_type_id", "asset_events",
                    ["asset_key", "partition", "type", "id"])
    op.create_index("ix_asset_events_run_id", "asset_events", ["run_id"])

    op.create_table(
        "asset_latest",
        sa.Column("asset_key", sa.String(), nullable=False),
        sa.Column("partition", sa.String(), server_default="", nullable=False),
        sa.Column("last_materialization_id", _event_id),
        sa.Column("last_materialization", sa.Text()),
        sa.Column("last_materialized_at", _time),
        sa.Column("last_observation_id", _event_id),
        sa.Column("last_observation", sa.Text()),
        sa.Column("last_attempt_run_id", sa.String()),
        sa.Column("last_attempt_status", sa.String()),
        sa.Column("last_attempt_at", _time),
        sa.Column("last_failure", sa.Text()),
        sa.PrimaryKeyConstraint("asset_key", "partition"),
    )


def downgrade() -> None:
    for table in ("asset_latest", "asset_events", "run_events", "steps", "runs"):
        op.drop_table(table)
