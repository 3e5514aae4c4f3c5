"""Partitions whose status is settled: told from their stored rows, built when asked.

A partition is *settled* when its status is materialized (or missing) with nothing stale,
failed or running. A cold status of 365,000 partitions finds almost all of them settled, and
a roll-up needs of those only counts and the one partition that speaks for the asset. So the
pass (``core.partition_status``) tells a settled partition from its stored row alone
(``core.partition_rows``) with ``SettledRows`` — the same comparisons as the full derivation,
on the row's columns and on its parents' rows — and keeps the row in place of the status:
``PartitionStatuses`` builds a settled partition's ``AssetStatus`` the first time someone
asks, exactly as the pass would have. Every other partition's status is derived at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from headwater.core.partition_rows import (
    ROW_ATTEMPT_STATUS,
    ROW_CODE_VERSION,
    ROW_DATA_VERSION,
    ROW_DEPS,
    ROW_INPUTS,
    ROW_MAT_ID,
    PartitionRows,
)
from headwater.core.partitions import PartitionContext
from headwater.core.records import AssetFacts
from headwater.core.specs import AssetSpec
from headwater.core.status import AssetStatus, MaterializationStatus

MATERIALIZED = MaterializationStatus.MATERIALIZED
MISSING = MaterializationStatus.MISSING
FAILED = MaterializationStatus.FAILED
RUNNING = MaterializationStatus.RUNNING
ABSENT: Any = object()  # not a key at all (``None`` is a key with nothing stored)
NEVER: Any = object()  # an input that was not read


class PartitionStatuses(Mapping[str, AssetStatus]):
    """Every partition's status of one asset, in the definition's order (see the module
    docstring). A cell holds the partition's ``AssetStatus``, or, for a settled partition
    not asked for yet, its stored row (``None``: nothing stored, missing). Asking builds the
    status from the row exactly as the pass would have and keeps it. Treat it as a read-only
    ``dict``: it compares and copies as one."""

    __slots__ = ("cells", "_settled")

    def __init__(self, settled: Callable[[str], AssetStatus]) -> None:
        self.cells: dict[str, Any] = {}
        self._settled = settled  # a settled partition's status, derived as the pass would

    def __getitem__(self, partition: str) -> AssetStatus:
        cell = self.cells[partition]
        if type(cell) is AssetStatus:
            return cell
        st = self.cells[partition] = self._settled(partition)
        return st

    def get(self, partition: str, default: Any = None) -> Any:  # type: ignore[override]
        cell = self.cells.get(partition, ABSENT)
        if cell is ABSENT:
            return default
        if type(cell) is AssetStatus:
            return cell
        st = self.cells[partition] = self._settled(partition)
        return st

    def __contains__(self, partition: object) -> bool:
        return partition in self.cells

    def __iter__(self) -> Iterator[str]:
        return iter(self.cells)

    def __len__(self) -> int:
        return len(self.cells)

    def state(self, partition: str) -> tuple[MaterializationStatus, bool]:
        """The partition's materialization status and whether it is stale, building nothing."""
        return cell_state(self.cells[partition])

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> Any:
        return dict, (list(self.items()),)


def cell_state(cell: Any) -> tuple[MaterializationStatus, bool]:
    """A cell's materialization status and whether it is stale."""
    if type(cell) is AssetStatus:
        return cell.status, cell.stale
    return (MISSING if cell is None or cell[ROW_MAT_ID] is None else MATERIALIZED), False


def tally(counts: Any, cell: Any, sign: int) -> None:
    """Count ``cell`` in (``sign`` 1) or out (-1) of ``counts``, as the pass counts it."""
    state, stale = cell_state(cell)
    if state is MATERIALIZED:
        counts.materialized += sign
    elif state is MISSING:
        counts.missing += sign
    elif state is FAILED:
        counts.failed += sign
    elif state is RUNNING:
        counts.running += sign
    if stale:
        counts.stale += sign


def recorded_version(versions: Sequence[Sequence[Any]], dep: str, q: str):  # type: ignore[no-untyped-def]
    """The version recorded for ``dep[q]`` (``NEVER`` if it was not read)."""
    for i in versions:
        if i[0] == dep and i[1] == q:
            return i[2]
    return NEVER


class SettledRows:
    """Tells from a partition's stored row whether its status is settled (see the module
    docstring): exactly when ``core.partition_status``'s derivation would find it materialized or missing, with no
    stale cause — the same comparisons as its causes, on the row's columns and on the
    parents' cells. Anything it cannot tell from the row (a failure, a run, an old row
    without summary columns) is left to ``core.partition_status``'s derivation."""

    __slots__ = ("code_version", "deps", "decoder", "reads", "_deps_seen", "partitions", "ctx")

    def __init__(self, spec: AssetSpec, deps: Sequence[Any], facts: Mapping[str, AssetFacts],
                 ctx: PartitionContext) -> None:
        self.code_version = spec.code_version
        self.deps = spec.deps
        self.decoder = facts.decoder if type(facts) is PartitionRows else None
        self._deps_seen: str | None = None  # a deps text found equal to the declared deps
        # Per dependency read: (key text, how: 0 the parent as a whole, 1 the same key, 2 mapped;
        # the parent's roll-up, its cells, the mapping, the parent's definition).
        self.reads: list[tuple[str, int, AssetStatus, Any, Any, Any]] | None = []
        for d in deps:
            parent = d.parent
            if parent is None:
                continue
            if d.statuses is None or d.mapping is None:
                self.reads.append((d.key._str, 0, parent, None, None, None))
            elif type(d.statuses) is not PartitionStatuses:
                self.reads = None  # pragma: no cover - every partitioned parent's statuses are
                break
            else:
                self.reads.append((d.key._str, 1 if d.same_key else 2, parent, d.statuses.cells, d.mapping,
                                   d.parent_def))
        self.partitions = spec.partitions
        self.ctx = ctx

    def settled(self, partition: str, row: Any) -> bool:
        if row is None:
            return True  # nothing stored: missing
        reads = self.reads
        if reads is None:
            return False
        attempt = row[ROW_ATTEMPT_STATUS]
        if attempt is not None and attempt != "succeeded" and attempt != "canceled":
            return False  # running, failed or skipped: derived in full
        if row[ROW_MAT_ID] is None:
            return True  # missing
        if row[ROW_INPUTS] is None or row[ROW_CODE_VERSION] != self.code_version:
            return False
        text = row[ROW_DEPS]
        if text is not self._deps_seen and text != self._deps_seen:
            if self.decoder.deps(text) != self.deps:  # type: ignore[union-attr]
                return False
            self._deps_seen = text
        versions: Any = None
        recorded: Any = None
        for dep_text, how, parent, cells, mapping, parent_def in reads:
            if how == 1:  # the same key: most reads, kept short
                cell = cells.get(partition)  # None: no such key upstream, or missing there
                if cell is None:
                    continue
                if type(cell) is AssetStatus:
                    if cell.stale:
                        return False
                    version = cell.data_version
                elif cell[ROW_MAT_ID] is None:
                    continue
                else:
                    version = cell[ROW_DATA_VERSION]
                if version is None:
                    continue
                if versions is None:
                    versions = self.decoder.input_versions(row[ROW_INPUTS])  # type: ignore[union-attr]
                    recorded = {(i[0], i[1]): i[2] for i in versions} if len(versions) > 8 else None
                if recorded is not None:
                    if recorded.get((dep_text, partition), NEVER) != version:
                        return False
                    continue
                for i in versions:  # as ``recorded_version``: the first input read from there
                    if i[0] == dep_text and i[1] == partition:
                        if i[2] != version:
                            return False
                        break
                else:
                    return False  # not read at all
                continue
            if how == 0:
                pairs: Any = (("", parent),)
            else:
                pairs = [(q, cells[q]) for q in mapping.upstream(partition, self.partitions, parent_def, self.ctx)
                         if q in cells]
            for q, cell in pairs:
                if cell is None:
                    continue  # missing: no version, not stale
                if type(cell) is AssetStatus:
                    if cell.stale:
                        return False
                    version = cell.data_version
                else:
                    version = cell[ROW_DATA_VERSION] if cell[ROW_MAT_ID] is not None else None
                if version is None:
                    continue
                if versions is None:
                    versions = self.decoder.input_versions(row[ROW_INPUTS])  # type: ignore[union-attr]
                    recorded = {(i[0], i[1]): i[2] for i in versions} if len(versions) > 8 else None
                seen = recorded.get((dep_text, q), NEVER) if recorded is not None else recorded_version(versions, dep_text, q)
                if version != seen:
                    return False
        return True
