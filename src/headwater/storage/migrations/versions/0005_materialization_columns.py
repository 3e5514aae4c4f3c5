"""What status reads of the latest materialization, as columns of ``asset_latest``.

A status of 365,000 partitions spent most of its time decoding one JSON materialization
per partition to read six of its fields. These columns hold them, written with the payload
in the same upsert (``writer.py``), so the reader builds a ``SummarizedMaterialization``
(core/materialization_summary.py) and decodes a payload only when something asks for the
rest of it:

* ``mat_run_id``, ``mat_code_version``, ``mat_data_version``, ``mat_data_time``
* ``mat_deps`` — JSON list of the declared deps' keys
* ``mat_inputs`` — JSON ``[[key, partition, data version(, state if not ok)], ...]``

Existing rows are filled from the payload they already hold, a page at a time. A row
with no materialization keeps them NULL, as new rows do.

A frozen snapshot, like 0001-0004: it never imports ``tables.py`` nor the codec.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("mat_run_id", "mat_code_version", "mat_data_version", "mat_data_time", "mat_deps", "mat_inputs")
_PAGE = 2000


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _columns(payload: str) -> dict[str, Any]:
    d = json.loads(payload)
    inputs = []
    for i in d.get("inputs") or ():
        item = [i["key"], i.get("partition", ""), i.get("data_version")]
        if i.get("state", "ok") != "ok":
            item.append(i["state"])
        inputs.append(item)
    return {"mat_run_id": d.get("run_id"), "mat_code_version": d.get("code_version"),
            "mat_data_version": d.get("data_version"), "mat_data_time": d.get("data_time"),
            "mat_deps": _dumps(list(d.get("deps") or ())), "mat_inputs": _dumps(inputs)}


def upgrade() -> None:
    op.add_column("asset_latest", sa.Column("mat_run_id", sa.String()))
    op.add_column("asset_latest", sa.Column("mat_code_version", sa.String()))
    op.add_column("asset_latest", sa.Column("mat_data_version", sa.String()))
    op.add_column("asset_latest", sa.Column("mat_data_time", sa.Double()))
    op.add_column("asset_latest", sa.Column("mat_deps", sa.Text()))
    op.add_column("asset_latest", sa.Column("mat_inputs", sa.Text()))
    conn = op.get_bind()
    page = sa.text('SELECT asset_key, "partition", last_materialization FROM asset_latest '
                   'WHERE last_materialization IS NOT NULL AND (asset_key > :k OR (asset_key = :k AND "partition" > :p)) '
                   'ORDER BY asset_key, "partition" LIMIT :n')
    update = sa.text("UPDATE asset_latest SET " + ", ".join(f"{c} = :{c}" for c in _COLUMNS)
                     + ' WHERE asset_key = :key AND "partition" = :part')
    last = ("", "")
    while True:
        rows = conn.execute(page, {"k": last[0], "p": last[1], "n": _PAGE}).all()
        if not rows:
            break
        conn.execute(update, [{"key": k, "part": p, **_columns(payload)} for k, p, payload in rows])
        last = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        op.drop_column("asset_latest", name)
