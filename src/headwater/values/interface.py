"""The value store interface.

Values are what asset functions return; they are passed to downstream assets, possibly
in another process or another run, so they must be persisted somewhere every worker can
reach. The event store records only the ``ref`` a value store hands back.
"""

from __future__ import annotations

from typing import Any, Protocol

from headwater.core.keys import AssetKey


class ValueStore(Protocol):
    name: str

    def save(self, key: AssetKey, partition: str, value: Any) -> str:
        """Persist ``value`` atomically and return a reference to it (recorded with the
        materialization). Raise ``ValueStoreError`` naming the asset if it cannot be stored."""

    def load(self, key: AssetKey, partition: str, ref: str) -> Any:
        """Load the value ``ref`` points to; ``ValueStoreError`` naming the asset if it is gone."""

    def config(self) -> dict[str, Any]:
        """Plain data from which a worker process can rebuild an equal store."""
