"""Partitions: the keys of dynamic partitions definitions, and backfills.

* ``dynamic_partitions`` — one row per (definition name, key) currently added, derived from
  ``dynamic_partitions_changed`` events (a key removed again loses its row; the events stay).
* ``asset_latest.updated_id`` — the last event id of the batch that last changed the row,
  indexed, so that a reader holding 365,000 decoded partitions asks only for the rows
  changed since; filled for existing rows from the ids they already name.
* ``backfills`` — one row per backfill as planned by its ``backfill_requested`` event, with the
  status its ``backfill_updated`` events gave it. Progress is not stored: it is derived from
  the runs the backfill launched.

Every asset table already carried a ``partition`` column from 0001 on, so no asset row
changes. A store written by an older Headwater has none of these events: the new tables
start empty, which is what it means.

A frozen snapshot, like 0001-0003: it never imports ``tables.py``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_event_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_time: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.add_column("asset_latest", sa.Column("updated_id", _event_id))
    op.execute("UPDATE asset_latest SET updated_id = CASE WHEN coalesce(last_materialization_id, 0) "
               ">= coalesce(last_observation_id, 0) THEN coalesce(last_materialization_id, 0) "
               "ELSE last_observation_id END")
    op.create_index("ix_asset_latest_updated_id", "asset_latest", ["updated_id"])
    op.create_table(
        "dynamic_partitions",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("partition_key", sa.String(), nullable=False),
        sa.Column("added_at", _time, nullable=False),
        sa.Column("event_id", _event_id, nullable=False),
        sa.PrimaryKeyConstraint("name", "partition_key"),
    )
    op.create_table(
        "backfills",
        sa.Column("backfill_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", _time),
        sa.Column("updated_at", _time),
        sa.Column("selection", sa.Text()),
        sa.Column("mode", sa.String()),
        sa.Column("partition_range", sa.Text()),
        sa.Column("targets", sa.Text()),
        sa.Column("total", sa.Integer()),
        sa.Column("tags", sa.Text()),
        sa.Column("chunk_size", sa.Integer()),
        sa.Column("reason", sa.Text()),
        sa.Column("event_id", _event_id),
        sa.PrimaryKeyConstraint("backfill_id"),
    )
    op.create_index("ix_backfills_created_at", "backfills", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_asset_latest_updated_id", "asset_latest")
    op.drop_column("asset_latest", "updated_id")
    op.drop_index("ix_backfills_created_at", "backfills")
    op.drop_table("backfills")
    op.drop_table("dynamic_partitions")
