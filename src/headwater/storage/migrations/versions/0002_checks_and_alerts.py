"""Data health: the latest result of every check, the state of every alert, and when a source
was last looked at even if nothing had changed.

* ``check_latest`` — the latest ``check_evaluation`` per (asset, partition, check).
* ``alert_state`` — the latest ``alert_transition`` per (rule, asset): what is firing now.
* ``asset_latest.last_observation_checked_at`` — the time of the latest ``observation`` or
  ``observation_unchanged`` of the asset.
* ``ix_run_events_type_id`` — so "the newest events of one type" (alert deliveries) reads a
  few index entries instead of walking the whole operational log.

The derived state is backfilled from the events already stored, so a database upgraded in
place answers exactly like one that had this revision from the start. (Code that knew the
new event types but still wrote revision 0001 stored them without deriving anything.)

A frozen snapshot, like 0001: it never imports ``tables.py`` nor Headwater's event classes;
it reads the stored JSON payloads (event schema version 1) itself.

Revision ID: 0002
Revises: 0001
Create Date: 2024-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_event_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_time: sa.Double[float] = sa.Double()
_BATCH = 1000


def upgrade() -> None:
    op.create_index("ix_run_events_type_id", "run_events", ["type", "id"])
    op.create_table(
        "check_latest",
        sa.Column("asset_key", sa.String(), nullable=False),
        sa.Column("partition", sa.String(), server_default="", nullable=False),
        sa.Column("check_name", sa.String(), nullable=False),
        sa.Column("event_id", _event_id, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("evaluated_at", _time, nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("asset_key", "partition", "check_name"),
    )
    op.create_table(
        "alert_state",
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("asset_key", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("since", _time, nullable=False),
        sa.Column("event_id", _event_id, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("rule", "asset_key"),
    )
    # A nullable column with no default: a plain ALTER TABLE ... ADD COLUMN on both backends.
    op.add_column("asset_latest", sa.Column("last_observation_checked_at", _time))
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_column("asset_latest", "last_observation_checked_at")
    op.drop_table("alert_state")
    op.drop_table("check_latest")
    op.drop_index("ix_run_events_type_id", "run_events")


# --- backfill from the event log ---------------------------------------------------------

_meta = sa.MetaData()
_run_events = sa.Table("run_events", _meta, sa.Column("id", _event_id), sa.Column("type", sa.String()),
                       sa.Column("timestamp", _time), sa.Column("payload", sa.Text()))
_asset_events = sa.Table("asset_events", _meta, sa.Column("id", _event_id), sa.Column("asset_key", sa.String()),
                         sa.Column("partition", sa.String()), sa.Column("type", sa.String()),
                         sa.Column("timestamp", _time), sa.Column("payload", sa.Text()))
_asset_latest = sa.Table("asset_latest", _meta, sa.Column("asset_key", sa.String()),
                         sa.Column("partition", sa.String()), sa.Column("last_observation_id", _event_id),
                         sa.Column("last_observation_checked_at", _time))
_check_latest = sa.Table("check_latest", _meta, sa.Column("asset_key", sa.String()),
                         sa.Column("partition", sa.String()), sa.Column("check_name", sa.String()),
                         sa.Column("event_id", _event_id), sa.Column("payload", sa.Text()),
                         sa.Column("evaluated_at", _time), sa.Column("passed", sa.Boolean()),
                         sa.Column("severity", sa.String()))
_alert_state = sa.Table("alert_state", _meta, sa.Column("rule", sa.String()), sa.Column("asset_key", sa.String()),
                        sa.Column("state", sa.String()), sa.Column("since", _time),
                        sa.Column("event_id", _event_id), sa.Column("payload", sa.Text()))


def _newest(conn: sa.Connection, table: sa.Table, type_name: str,
            ident: Any) -> dict[tuple[Any, ...], tuple[int, float, str, dict[str, Any]]]:
    """The newest event of one type per identity (``ident(row, data)``), in id order."""
    newest: dict[tuple[Any, ...], tuple[int, float, str, dict[str, Any]]] = {}
    cols = [table.c.id, table.c.timestamp, table.c.payload]
    if table is _asset_events:
        cols += [table.c.asset_key, table.c.partition]
    stmt = sa.select(*cols).where(table.c.type == type_name).order_by(table.c.id)
    for row in conn.execute(stmt):
        try:
            data = json.loads(row.payload)
        except ValueError as exc:
            raise ValueError(f"stored event {row.id} ({type_name!r}) in {table.name} cannot be read: {exc}") from exc
        newest[ident(row, data)] = (row.id, row.timestamp, row.payload, data)
    return newest


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), _BATCH):
        conn.execute(table.insert(), rows[i:i + _BATCH])


def _backfill(conn: sa.Connection) -> None:
    checks = _newest(conn, _asset_events, "check_evaluation",
                     lambda row, d: (row.asset_key, row.partition, d.get("check_name", "")))
    _insert(conn, _check_latest, [
        {"asset_key": k[0], "partition": k[1], "check_name": k[2], "event_id": i, "payload": p, "evaluated_at": t,
         "passed": bool(d.get("passed", False)), "severity": d.get("severity") or "error"}
        for k, (i, t, p, d) in checks.items()])

    alerts = _newest(conn, _run_events, "alert_transition", lambda _row, d: (d.get("rule", ""), d.get("key", "_")))
    _insert(conn, _alert_state, [
        {"rule": k[0], "asset_key": k[1], "state": d.get("state") or "firing", "since": t, "event_id": i,
         "payload": p}
        for k, (i, t, p, d) in alerts.items()])

    # The latest observation's time, then any later "unchanged" observation's.
    observed = sa.select(_asset_events.c.timestamp).where(
        _asset_events.c.id == _asset_latest.c.last_observation_id).scalar_subquery()
    conn.execute(_asset_latest.update().where(_asset_latest.c.last_observation_id.is_not(None))
                 .values(last_observation_checked_at=observed))
    unchanged = _newest(conn, _run_events, "observation_unchanged",
                        lambda _row, d: (d.get("key", "_"), d.get("partition", "")))
    if not unchanged:
        return
    last_ids = {(r.asset_key, r.partition): r.last_observation_id
                for r in conn.execute(sa.select(_asset_latest.c.asset_key, _asset_latest.c.partition,
                                                _asset_latest.c.last_observation_id))}
    updates, inserts = [], []
    for (key, partition), (event_id, at, _payload, _data) in unchanged.items():
        row = {"k": key, "p": partition, "at": at}
        if (key, partition) not in last_ids:
            inserts.append({"asset_key": key, "partition": partition, "last_observation_checked_at": at})
        elif (last_ids[(key, partition)] or 0) < event_id:
            updates.append(row)
    if updates:
        conn.execute(_asset_latest.update()
                     .where(_asset_latest.c.asset_key == sa.bindparam("k"),
                            _asset_latest.c.partition == sa.bindparam("p"))
                     .values(last_observation_checked_at=sa.bindparam("at")), updates)
    _insert(conn, _asset_latest, inserts)
