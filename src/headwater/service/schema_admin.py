"""Bringing a store's schema up to date on purpose, for deployments.

Every process upgrades the schema when it opens an older store (``storage/sql/schema.py``:
under a lock, in one transaction), so a laptop never needs this. A cluster does: run the
upgrade once, from one place, before the new version's daemon, UI and workers start —
an older process refuses a newer schema, so the order is explicit rather than a race.
"""

from __future__ import annotations

from headwater.service.instance import Instance


def upgrade_schema(instance: Instance) -> str:
    """Open (creating or upgrading) the store; say where it is and at which revision."""
    from headwater.storage.sql.schema import HEAD

    store = instance.store
    return f"{store!r}: schema at revision {HEAD} (current)"
