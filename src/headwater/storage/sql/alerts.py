"""Alert state: what is firing now, and the most recent delivery attempts.

``alert_state`` holds the newest ``alert_transition`` per (rule, asset), kept by the writer
in the same transaction as the event; the daemon reads all of it on every tick, so decoded
transitions are kept by event id and only new ones are decoded. Delivery attempts are
operational events read straight from ``run_events`` through its (type, id) index.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from headwater.core.events import AlertDeliveryAttempt, AlertTransition
from headwater.core.keys import AssetKey
from headwater.storage.sql.codec import DecodedEvents, decode_stored, gc_paused, key_of
from headwater.storage.sql.tables import TYPE_INDEXED, alert_state, run_events


class AlertsReader:
    """Reads ``alert_state`` and delivery attempts; one per store, holding its decode cache."""

    def __init__(self) -> None:
        self._decoded = DecodedEvents(AlertTransition.type_name)

    def states(self, conn: Connection) -> dict[tuple[str, AssetKey], AlertTransition]:
        c = alert_state.c
        with gc_paused():
            rows = conn.execute(select(c.rule, c.asset_key, c.event_id, c.payload)).all()
            events = self._decoded.decode(None, [(row[2], row[3]) for row in rows])
            return {(rule, key_of(key_text)): event  # type: ignore[misc]
                    for (rule, key_text, _id, _payload), event in zip(rows, events)}

    @staticmethod
    def deliveries(conn: Connection, limit: int) -> list[AlertDeliveryAttempt]:
        c = run_events.c
        stmt = (select(c.id, c.schema_version, c.payload).where(c.type == AlertDeliveryAttempt.type_name, TYPE_INDEXED)
                .order_by(c.id.desc()).limit(max(limit, 0)))
        return [decode_stored(event_id, AlertDeliveryAttempt.type_name, payload, version)  # type: ignore[misc]
                for event_id, version, payload in conn.execute(stmt)]
