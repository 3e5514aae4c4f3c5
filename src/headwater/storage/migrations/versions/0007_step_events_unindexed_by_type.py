"""``ix_run_events_type_id`` indexes only the events that belong to no step.

It serves "the newest events of one type": run ends (the run-status sensors' cursor),
ticks, alert deliveries and transitions, unchanged observations. None of those has a step
key. A step's own events (started, succeeded, failed, skipped, its log lines) are most of
``run_events`` and are read by run (``ix_run_events_run_id_id``), never by type; yet each
one, filed under its type, put a distant index page into the step's commit (two pages
of about sixteen, for a step's start and end). Partial (``WHERE step_key IS NULL``), the
index no longer sees them. The queries it serves say ``step_key IS NULL`` too (true of
every type they ask for), so that SQLite may use it.

A frozen snapshot, like 0001-0006: it never imports ``tables.py``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_NO_STEP = sa.text("step_key IS NULL")


def upgrade() -> None:
    op.drop_index("ix_run_events_type_id", table_name="run_events")
    op.create_index("ix_run_events_type_id", "run_events", ["type", "id"],
                    sqlite_where=_NO_STEP, postgresql_where=_NO_STEP)


def downgrade() -> None:
    op.drop_index("ix_run_events_type_id", table_name="run_events")
    op.create_index("ix_run_events_type_id", "run_events", ["type", "id"])
