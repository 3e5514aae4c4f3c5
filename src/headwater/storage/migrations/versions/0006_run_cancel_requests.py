"""A cancel asked of a started run, as columns of ``runs``.

``run_cancel_requested`` events (``headwater run cancel``, the UI, the API) set them; the
process coordinating the run polls them with one primary-key read and ends the run
``canceled`` (``execution/run_cancel_watch.py``):

* ``cancel_requested_at`` — when the first request was made (NULL: none)
* ``cancel_reason`` — what the request said

Existing runs have no request. A frozen snapshot, like 0001-0005: it never imports
``tables.py``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("cancel_requested_at", sa.Double()))
    op.add_column("runs", sa.Column("cancel_reason", sa.Text()))


def downgrade() -> None:
    op.drop_column("runs", "cancel_reason")
    op.drop_column("runs", "cancel_requested_at")
