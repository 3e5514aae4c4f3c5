"""Reads for partitions: the latest facts of every partition of some assets, the keys of
dynamic partitions definitions, and backfills.

Partition facts come from the same ``asset_latest`` rows as unpartitioned ones (one row per
(asset, partition)), built once and kept while their identity is unchanged, as ``latest.py``
does for the partition ``''``: a status of 365,000 partitions rebuilds only the rows a write
touched since the previous read. Unlike ``latest.py`` it reads no payload: a partition's
materialization is built from the ``mat_*`` columns (migration 0005) as a
``SummarizedMaterialization`` that decodes its stored event only if asked for more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection

from headwater.core.events import AssetMaterialized, AssetObserved
from headwater.core.keys import AssetKey
from headwater.core.materialization_summary import SummarizedMaterialization, summarize
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.errors import StorageError
from headwater.storage.sql.codec import (
    decode_event,
    decode_stored,
    deps_from_json,
    error_from_json,
    gc_paused,
    input_versions_from_json,
    key_of,
    loads,
)
from headwater.storage.sql.driver import Driver
from headwater.storage.sql.latest import _IDENTITY
from headwater.storage.sql.writer import CHUNK

# The row: key, partition, its identity (what a kept decode is compared with), the summary
# columns of its materialization, the observation's payload, and which batch last changed it.
_COLUMNS = ("asset_key", "partition", *_IDENTITY, "last_materialized_at", "mat_run_id", "mat_code_version",
            "mat_data_version", "mat_data_time", "mat_deps", "mat_inputs", "last_observation", "updated_id")
_SELECT = ", ".join(f'"{c}"' for c in _COLUMNS)
_ATTEMPT = {s.value: s for s in AttemptStatus}
# An ``AssetFacts`` per stored partition, built by its slots' setters: its frozen ``__init__``
# costs twice as much, and a cold status builds 365,000 of them.
_FACT_SETTERS = tuple(getattr(AssetFacts, f.name).__set__ for f in fields(AssetFacts))
if tuple(f.name for f in fields(AssetFacts)) != (
        "key", "partition", "last_materialization", "last_observation", "last_attempt_run_id", "last_attempt_status",
        "last_attempt_at", "last_failure", "last_observation_checked_at"):  # pragma: no cover
    raise ImportError("AssetFacts changed its fields: update PartitionFactsReader._apply")
Read = Callable[[Callable[[Connection], Any]], Any]


class StoredMaterializations:
    """The ``MaterializationSource`` of the summaries a store hands out: the whole event is
    one primary-key read of ``asset_events`` away (retention keeps every latest fact)."""

    def __init__(self, read: Read) -> None:
        self._read = read

    def full(self, mat: SummarizedMaterialization) -> AssetMaterialized:
        return self.event(mat.event_id)

    def event(self, event_id: int) -> AssetMaterialized:
        def fetch(conn: Connection) -> Any:
            db = Driver(conn)
            try:
                return db.fetch(f"SELECT payload FROM asset_events WHERE id = {db.sql.mark}", [event_id])
            finally:
                db.close()

        rows = self._read(fetch)
        if not rows:
            raise StorageError(f"stored event {event_id} (materialization) is gone from asset_events")
        return decode_stored(event_id, AssetMaterialized.type_name, rows[0][0])  # type: ignore[return-value]

    input_versions = staticmethod(input_versions_from_json)


class PartitionFactsReader:
    """Reads the partitioned rows of ``asset_latest``; one per store, holding what it built.

    The first read of an asset builds all its partitions' facts, from columns only: a
    materialization comes back summarized (``SummarizedMaterialization``), its payload
    decoded when something asks for more than status reads. Later reads ask only for the
    rows changed since (``updated_id`` above the highest one seen) and hand back, for an
    asset none of whose rows changed, the very same mapping as before: the status pass then
    keeps its previous result for that asset without looking at its partitions one by one.
    """

    def __init__(self, read: Read) -> None:
        self._assets: dict[str, dict[str, AssetFacts]] = {}
        self._signatures: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._mark = 0  # the highest updated_id seen
        self.source = StoredMaterializations(read)

    def read(self, conn: Connection, keys: Iterable[AssetKey]) -> dict[AssetKey, dict[str, AssetFacts]]:
        texts = sorted({str(k) for k in keys})
        if conn.dialect.name == "sqlite" and not conn.in_transaction():
            conn.begin()  # one snapshot for every query of this read
        db = Driver(conn)
        try:
            with gc_paused():
                new = [t for t in texts if t not in self._assets]
                first = not self._assets
                if not first:
                    self._refresh(db)
                for i in range(0, len(new), CHUNK):
                    self._load(db, new[i:i + CHUNK], advance=first)
        finally:
            db.close()
        out: dict[AssetKey, dict[str, AssetFacts]] = {}
        for text in texts:
            per = self._assets.get(text)
            if per:
                out[key_of(text)] = per
        return out

    def _load(self, db: Driver, texts: list[str], advance: bool) -> None:
        """Build every partition of ``texts``. Only the first load moves the mark: on PostgreSQL
        two statements may see two snapshots, and a later load's newer rows must not hide a
        change to an asset loaded before that this read's refresh did not see."""
        mark = db.sql.mark
        rows = db.fetch(f'SELECT {_SELECT} FROM asset_latest WHERE asset_key IN ({", ".join([mark] * len(texts))}) '
                        f'AND "partition" <> {mark}', [*texts, ""])
        for text in texts:
            self._assets[text] = {}
        mark = self._mark
        self._apply(db, rows, copy=False)
        if not advance:
            self._mark = mark

    def _refresh(self, db: Driver) -> None:
        mark = db.sql.mark
        rows = db.fetch(f'SELECT {_SELECT} FROM asset_latest WHERE updated_id > {mark} AND "partition" <> {mark}',
                        [self._mark, ""])
        self._apply(db, [r for r in rows if r[0] in self._assets], copy=True)
        for r in rows:
            if r[-1] is not None and r[-1] > self._mark:
                self._mark = r[-1]

    def _apply(self, db: Driver, rows: list[Any], copy: bool) -> None:
        """Build ``rows`` into the kept mappings; with ``copy``, an asset that changes gets a
        new mapping (the old one may still be in a caller's hands, and identity means unchanged)."""
        copied: set[str] = set()
        new = object.__new__
        f_key, f_partition, f_mat, f_obs, f_run, f_status, f_at, f_failure, f_checked = _FACT_SETTERS
        signatures = self._signatures
        assets = self._assets
        source = self.source
        attempts = _ATTEMPT
        top = self._mark
        per: dict[str, AssetFacts] = {}
        current = None
        key = None
        for row in rows:
            text, partition = row[0], row[1]
            signature = row[2:9]
            ident = (text, partition)
            if text != current:
                current = text
                key = key_of(text)
                per = assets[text]
                if copy and text not in copied:
                    per = assets[text] = dict(per)
                    copied.add(text)
            old = per.get(partition)
            before = signatures.get(ident) if old is not None else None
            if before is not None and before == signature:
                continue
            mat_id, obs_id, run_id, status, at, failure, checked_at = signature
            if before is not None and before[0] == mat_id:
                mat: Any = old.last_materialization  # type: ignore[union-attr]
            elif mat_id is None:
                mat = None
            elif row[15] is None:  # no summary columns (never, past migration 0005): the whole event
                mat = source.event(mat_id)
            else:
                mat = summarize(source, mat_id, row[10], row[9], key, partition,  # type: ignore[arg-type]
                                row[11], row[12], row[13], deps_from_json(row[14]), row[15])
            if before is not None and before[1] == obs_id:
                obs: Any = old.last_observation  # type: ignore[union-attr]
            else:
                obs = decode_event(AssetObserved.type_name, row[16]) if row[16] else None
            per[partition] = facts = new(AssetFacts)
            f_key(facts, key)
            f_partition(facts, partition)
            f_mat(facts, mat)
            f_obs(facts, obs)
            f_run(facts, run_id)
            f_status(facts, attempts[status] if status else None)
            f_at(facts, at)
            f_failure(facts, error_from_json(failure) if failure else None)
            f_checked(facts, checked_at)
            signatures[ident] = signature
            if row[17] is not None and row[17] > top:
                top = row[17]
        self._mark = top


def dynamic_partition_keys(conn: Connection) -> dict[str, tuple[str, ...]]:
    """Every dynamic partitions definition's keys, in the order they were added."""
    out: dict[str, list[str]] = {}
    for name, key in conn.exec_driver_sql(
            "SELECT name, partition_key FROM dynamic_partitions ORDER BY name, event_id, partition_key"):
        out.setdefault(name, []).append(key)
    return {name: tuple(keys) for name, keys in out.items()}


_BACKFILL_COLUMNS = ("backfill_id", "status", "created_at", "updated_at", "selection", "mode", "partition_range",
                     "targets", "total", "tags", "chunk_size", "reason")


def backfill_rows(conn: Connection, backfill_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Backfills as stored, newest first (or the one asked for), JSON columns parsed."""
    columns = ", ".join(_BACKFILL_COLUMNS)
    if backfill_id is not None:
        result = conn.exec_driver_sql(
            f"SELECT {columns} FROM backfills WHERE backfill_id = {'?' if conn.dialect.name == 'sqlite' else '%s'}",
            (backfill_id,))
    else:
        result = conn.exec_driver_sql(f"SELECT {columns} FROM backfills ORDER BY created_at DESC LIMIT {int(limit)}")
    out = []
    for row in result:
        d = dict(zip(_BACKFILL_COLUMNS, row))
        d["partition_range"] = tuple(loads(d["partition_range"] or "[]"))
        d["targets"] = tuple((k, tuple(ps)) for k, ps in loads(d["targets"]))
        d["tags"] = loads(d["tags"] or "{}")
        out.append(d)
    return out
