"""Reads for partitions: the latest facts of every partition of some assets, the keys of
dynamic partitions definitions, and backfills.

Partition facts come from the same ``asset_latest`` rows as unpartitioned ones (one row per
(asset, partition)), read once and kept while their identity is unchanged, as ``latest.py``
does for the partition ``''``: a status of 365,000 partitions reads again only the rows a
write touched since the previous read. Unlike ``latest.py`` it reads no payload and builds
nothing per row: an asset's partitions come back as ``PartitionRows`` (``core.partition_rows``),
the rows as fetched, an ``AssetFacts`` built from one (its materialization a
``SummarizedMaterialization`` from the ``mat_*`` columns of migration 0005) only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

from headwater.core.events import AssetMaterialized, AssetObserved
from headwater.core.keys import AssetKey
from headwater.core.materialization_summary import SummarizedMaterialization, summarize
from headwater.core.partition_rows import (
    IDENTITY,
    ROW_ATTEMPT_AT,
    ROW_ATTEMPT_RUN_ID,
    ROW_ATTEMPT_STATUS,
    ROW_CHECKED_AT,
    ROW_CODE_VERSION,
    ROW_DATA_TIME,
    ROW_DATA_VERSION,
    ROW_DEPS,
    ROW_FAILURE,
    ROW_INPUTS,
    ROW_MAT_AT,
    ROW_MAT_ID,
    ROW_MAT_RUN_ID,
    ROW_OBSERVATION,
    ROW_UPDATED_ID,
    PartitionRows,
    Row,
)
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

# The row, in the order ``core.partition_rows`` fixes: key, partition, its identity (what a
# kept row is compared with), the summary columns of its materialization, the observation's
# payload, and which batch last changed it.
_COLUMNS = ("asset_key", "partition", *_IDENTITY, "last_materialized_at", "mat_run_id", "mat_code_version",
            "mat_data_version", "mat_data_time", "mat_deps", "mat_inputs", "last_observation", "updated_id")
if (_COLUMNS.index("last_materialization_id"), _COLUMNS.index("last_observation_checked_at"), _COLUMNS.index(
        "last_materialized_at"), _COLUMNS.index("mat_inputs"), len(_COLUMNS) - 1) != (
        IDENTITY.start, IDENTITY.stop - 1, ROW_MAT_AT, ROW_INPUTS, ROW_UPDATED_ID):  # pragma: no cover
    raise ImportError("the partition row's columns no longer match core.partition_rows")
_SELECT = ", ".join(f'"{c}"' for c in _COLUMNS)
_LOOKED_UP = 20 * CHUNK
"""Up to this many assets' facts are looked up by key, a few hundred at a time; more are
read in one scan of the partition and filtered (a scan costs per stored asset, a lookup per
asset wanted: at 100,000 stored, 7,700 wanted took a tenth of the scan's time)."""
_ATTEMPT = {s.value: s for s in AttemptStatus}
_ASSET_KEY, _PARTITION, _UPDATED_ID = itemgetter(0), itemgetter(1), itemgetter(ROW_UPDATED_ID)
Read = Callable[[Callable[[Connection], Any]], Any]

# ``AssetFacts(...)`` through its slots' own setters (as ``summarize`` builds a summary): a
# frozen dataclass's ``__init__`` looks each attribute up by name, three times the cost, and
# a cold status builds one per stored row.
_FACT_FIELDS = ("key", "partition", "last_materialization", "last_observation", "last_attempt_run_id",
                "last_attempt_status", "last_attempt_at", "last_failure", "last_observation_checked_at")
if tuple(AssetFacts.__dataclass_fields__) != _FACT_FIELDS:  # pragma: no cover - a field was added or moved
    raise ImportError("AssetFacts's fields changed: update storage.sql.partitions._facts")
_F_KEY, _F_PARTITION, _F_MAT, _F_OBS, _F_RUN_ID, _F_STATUS, _F_AT, _F_FAILURE, _F_CHECKED = (
    AssetFacts.__dict__[name].__set__ for name in _FACT_FIELDS)
_new = object.__new__


def _facts(key: AssetKey, partition: str, mat: AssetMaterialized | None, obs: AssetObserved | None,
           run_id: str | None, status: AttemptStatus | None, at: float | None, failure: Any,
           checked_at: float | None) -> AssetFacts:
    facts = _new(AssetFacts)
    _F_KEY(facts, key)
    _F_PARTITION(facts, partition)
    _F_MAT(facts, mat)
    _F_OBS(facts, obs)
    _F_RUN_ID(facts, run_id)
    _F_STATUS(facts, status)
    _F_AT(facts, at)
    _F_FAILURE(facts, failure)
    _F_CHECKED(facts, checked_at)
    return facts


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


class StoredRows:
    """The ``RowDecoder`` of this store's partition rows."""

    def __init__(self, source: StoredMaterializations) -> None:
        self.source = source

    def facts(self, row: Row, shared: dict[Any, Any] | None = None) -> AssetFacts:
        """``shared``: values that repeat from row to row (run ids, code versions, data times)
        kept once there, for a caller that holds many rows' facts at once."""
        key = key_of(row[0])
        partition = row[1]
        mat_id = row[ROW_MAT_ID]
        run_id = row[ROW_ATTEMPT_RUN_ID]
        if shared is not None:
            run_id = shared.setdefault(run_id, run_id)
        mat: AssetMaterialized | None
        if mat_id is None:
            mat = None
        elif row[ROW_INPUTS] is None:  # no summary columns (never, past migration 0005): the whole event
            mat = self.source.event(mat_id)
        else:
            mat_run, code, data_time = row[ROW_MAT_RUN_ID], row[ROW_CODE_VERSION], row[ROW_DATA_TIME]
            if shared is not None:  # data times repeat too: passed down from the inputs
                mat_run, code = shared.setdefault(mat_run, mat_run), shared.setdefault(code, code)
                if data_time:  # (not 0.0, which is also -0.0)
                    data_time = shared.setdefault(data_time, data_time)
            mat = summarize(self.source, mat_id, mat_run, row[ROW_MAT_AT], key, partition, code,
                            row[ROW_DATA_VERSION], data_time, deps_from_json(row[ROW_DEPS]), row[ROW_INPUTS])
        obs = decode_event(AssetObserved.type_name, row[ROW_OBSERVATION]) if row[ROW_OBSERVATION] else None
        status = row[ROW_ATTEMPT_STATUS]
        failure = row[ROW_FAILURE]
        return _facts(key, partition, mat, obs, run_id,  # type: ignore[arg-type]
                          _ATTEMPT[status] if status else None, row[ROW_ATTEMPT_AT],
                          error_from_json(failure) if failure else None, row[ROW_CHECKED_AT])

    deps = staticmethod(deps_from_json)
    input_versions = staticmethod(input_versions_from_json)


class PartitionFactsReader:
    """Reads the partitioned rows of ``asset_latest``; one per store, holding what it read.

    The first read of an asset fetches all its partitions' rows and keeps them as they came
    (``PartitionRows``). Later reads ask only for the rows changed since (``updated_id``
    above the highest one seen) and hand back, for an asset none of whose rows changed, the
    very same mapping as before: the status pass then keeps its previous result for that
    asset without looking at its partitions one by one.
    """

    def __init__(self, read: Read) -> None:
        self._assets: dict[str, PartitionRows] = {}
        self._mark = 0  # the highest updated_id seen
        self.source = StoredMaterializations(read)
        self._decoder = StoredRows(self.source)

    def read(self, conn: Connection, keys: Iterable[AssetKey]) -> dict[AssetKey, PartitionRows]:
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
        out: dict[AssetKey, PartitionRows] = {}
        for text in texts:
            per = self._assets.get(text)
            if per:
                out[key_of(text)] = per
        return out

    def summaries(self, conn: Connection, keys: Iterable[AssetKey] | None, partition: str) -> dict[AssetKey, AssetFacts]:
        """The facts of one partition (``''``: unpartitioned assets) of ``keys`` (all when None),
        read once and kept by nobody: each materialization a summary of its ``mat_*`` columns
        (the whole event is fetched if something asks for more), each observation decoded.
        For a reader that reads the whole state once and exits (``headwater status``): decoding
        100,000 materialization payloads, and keeping them for a next read that never comes,
        was a third of its time and most of its memory (``latest.py`` keeps what it decodes)."""
        db = Driver(conn)
        try:
            mark = db.sql.mark
            sql = f'SELECT {_SELECT} FROM asset_latest WHERE "partition" = {mark}'
            wanted: set[str] | None = None
            queries: list[tuple[str, list[Any]]] = [(sql, [partition])]
            if keys is not None:
                wanted = {str(k) for k in keys}
                if not wanted:
                    return {}
                if len(wanted) <= _LOOKED_UP:  # a part of a big graph (a refresh's): by the primary key
                    ordered = sorted(wanted)
                    queries = [(sql + f' AND asset_key IN ({", ".join([mark] * len(chunk))})', [partition, *chunk])
                               for chunk in (ordered[at:at + CHUNK] for at in range(0, len(ordered), CHUNK))]
                # else: scan the partition and filter here
            with gc_paused():
                facts = self._decoder.facts
                shared: dict[Any, Any] = {}
                out: dict[AssetKey, AssetFacts] = {}
                for query, params in queries:
                    for rows in db.batches(query, params):
                        for row in rows:
                            if wanted is None or row[0] in wanted:
                                fact = facts(row, shared)
                                out[fact.key] = fact
                return out
        finally:
            db.close()

    def _load(self, db: Driver, texts: list[str], advance: bool) -> None:
        """Keep every partition row of ``texts``. Only the first load moves the mark: on
        PostgreSQL two statements may see two snapshots, and a later load's newer rows must not
        hide a change to an asset loaded before that this read's refresh did not see."""
        mark = db.sql.mark
        rows = db.fetch(f'SELECT {_SELECT} FROM asset_latest WHERE asset_key IN ({", ".join([mark] * len(texts))}) '
                        f'AND "partition" <> {mark}', [*texts, ""])
        grouped: dict[str, dict[str, Row]] = {text: {} for text in texts}
        for text, group in groupby(rows, _ASSET_KEY):  # in key order, but nothing relies on it
            same = list(group)
            grouped[text].update(zip(map(_PARTITION, same), same))
        top = max(self._mark, max(filter(None, map(_UPDATED_ID, rows)), default=0))
        decoder = self._decoder
        for text, per in grouped.items():
            self._assets[text] = PartitionRows(per, decoder)
        if advance:
            self._mark = top

    def _refresh(self, db: Driver) -> None:
        mark = db.sql.mark
        rows = db.fetch(f'SELECT {_SELECT} FROM asset_latest WHERE updated_id > {mark} AND "partition" <> {mark}',
                        [self._mark, ""])
        changed: dict[str, dict[str, Row]] = {}
        assets = self._assets
        for row in rows:
            text = row[0]
            kept = assets.get(text)
            if kept is not None:
                old = kept.rows.get(row[1])
                if old is None or old[IDENTITY] != row[IDENTITY]:
                    changed.setdefault(text, {})[row[1]] = row
            updated = row[ROW_UPDATED_ID]
            if updated is not None and updated > self._mark:
                self._mark = updated
        for text, new in changed.items():
            assets[text] = assets[text].replaced(new)


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
