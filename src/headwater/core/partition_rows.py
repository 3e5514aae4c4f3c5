"""Every stored partition of one asset as the rows the store read, facts built on first ask.

A cold status of 1,000 assets × 365 days reads 365,000 partitions. Building an
``AssetFacts`` and a materialization summary per row cost more than the read itself and
the derivation together, and a roll-up looks at almost none of them: it needs, per
partition, a few values (is it materialized, its versions, its attempt) that the row
already holds. So the store hands back ``PartitionRows``: a ``Mapping[str, AssetFacts]``
whose ``AssetFacts`` is built from its row the first time someone asks for that partition
(a partition page, ``why``, a run's status view), and whose ``rows`` the status pass
(``core.partition_status``) reads directly.

The row's layout is fixed here (``ROW_*`` indices), the store fills it; what needs a
decoder (the JSON of deps, inputs, failures) is parsed by the store's ``RowDecoder``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts

# A stored partition row, in this order: key text, partition; the row's identity (what a
# later read compares to see whether it changed): materialization id, observation id,
# attempt run id, attempt status (text), attempt time, failure (text); when a source was
# last checked; then the materialization's summary columns: time, run id, code version,
# data version, data time, deps (text), inputs (text); the observation (text); the write
# that last changed the row.
(ROW_KEY, ROW_PARTITION, ROW_MAT_ID, ROW_OBS_ID, ROW_ATTEMPT_RUN_ID, ROW_ATTEMPT_STATUS, ROW_ATTEMPT_AT,
 ROW_FAILURE, ROW_CHECKED_AT, ROW_MAT_AT, ROW_MAT_RUN_ID, ROW_CODE_VERSION, ROW_DATA_VERSION, ROW_DATA_TIME,
 ROW_DEPS, ROW_INPUTS, ROW_OBSERVATION, ROW_UPDATED_ID) = range(18)
IDENTITY = slice(ROW_MAT_ID, ROW_CHECKED_AT + 1)

Row = tuple[Any, ...]


class RowDecoder(Protocol):
    """What only the store that read a row knows how to decode."""

    def facts(self, row: Row) -> AssetFacts:
        """The row as ``AssetFacts``."""
        ...

    def deps(self, text: str) -> tuple[AssetKey, ...]:
        """The declared deps recorded by the materialization (``ROW_DEPS``)."""
        ...

    def input_versions(self, text: str) -> Sequence[Sequence[Any]]:
        """``[key text, partition, data version(, state)]`` per recorded input (``ROW_INPUTS``)."""
        ...


class PartitionRows(Mapping[str, AssetFacts]):
    """See the module docstring. Never changed once handed out: a store that reads newer
    rows hands back a new ``PartitionRows`` (``replaced``), so identity means unchanged."""

    __slots__ = ("rows", "decoder", "_built")

    def __init__(self, rows: dict[str, Row], decoder: RowDecoder, built: dict[str, AssetFacts] | None = None) -> None:
        self.rows = rows
        self.decoder = decoder
        self._built: dict[str, AssetFacts] = built if built is not None else {}

    def __getitem__(self, partition: str) -> AssetFacts:
        facts = self._built.get(partition)
        if facts is None:
            facts = self._built[partition] = self.decoder.facts(self.rows[partition])
        return facts

    def get(self, partition: str, default: Any = None) -> Any:  # type: ignore[override]
        facts = self._built.get(partition)
        if facts is not None:
            return facts
        row = self.rows.get(partition)
        if row is None:
            return default
        facts = self._built[partition] = self.decoder.facts(row)
        return facts

    def __contains__(self, partition: object) -> bool:
        return partition in self.rows

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def built(self, partition: str) -> AssetFacts | None:
        """The ``AssetFacts`` of ``partition`` if it was built already (a copy of this mapping
        into a ``dict`` holds these very objects), without building it."""
        return self._built.get(partition)

    def replaced(self, rows: Mapping[str, Row]) -> PartitionRows:
        """A copy with ``rows`` put in place (same partition, new row); facts already built for
        the other partitions are kept, so they keep their identity."""
        built = {p: f for p, f in self._built.items() if p not in rows}
        return PartitionRows({**self.rows, **rows}, self.decoder, built)

    def __repr__(self) -> str:
        return f"PartitionRows({dict(self)!r})"

    def __reduce__(self) -> Any:
        return dict, (list(self.items()),)
