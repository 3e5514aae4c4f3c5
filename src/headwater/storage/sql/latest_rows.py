"""The rows of ``asset_latest`` as status reads them, and the facts they make, with no
SQLAlchemy: shared by the store's readers (``partitions.py``) and by the standard library's
read of a SQLite store (``sqlite_reads.py``), which a ``status`` computed once uses so as not
to import SQLAlchemy (~0.3 s of such a command).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from headwater.core.events import AssetMaterialized, AssetObserved, CheckEvaluated
from headwater.core.keys import AssetKey
from headwater.core.materialization_summary import summarize
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
    Row,
)
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.storage.sql.codec import (
    decode_event,
    deps_from_json,
    error_from_json,
    gc_paused,
    input_versions_from_json,
    key_of,
)

CHUNK = 500  # keys per IN (...): far below every backend's parameter limit

# The row's identity (what a reader that keeps rows compares) first, then the payloads.
IDENTITY_COLUMNS = ("last_materialization_id", "last_observation_id", "last_attempt_run_id", "last_attempt_status",
                    "last_attempt_at", "last_failure", "last_observation_checked_at")
_IDENTITY = IDENTITY_COLUMNS

# The row, in the order ``core.partition_rows`` fixes: key, partition, its identity (what a
# kept row is compared with), the summary columns of its materialization, the observation's
# payload, and which batch last changed it.
COLUMNS = ("asset_key", "partition", *_IDENTITY, "last_materialized_at", "mat_run_id", "mat_code_version",
            "mat_data_version", "mat_data_time", "mat_deps", "mat_inputs", "last_observation", "updated_id")
if (COLUMNS.index("last_materialization_id"), COLUMNS.index("last_observation_checked_at"), COLUMNS.index(
        "last_materialized_at"), COLUMNS.index("mat_inputs"), len(COLUMNS) - 1) != (
        IDENTITY.start, IDENTITY.stop - 1, ROW_MAT_AT, ROW_INPUTS, ROW_UPDATED_ID):  # pragma: no cover
    raise ImportError("the partition row's columns no longer match core.partition_rows")
SELECT = ", ".join(f'"{c}"' for c in COLUMNS)
_LOOKED_UP = 20 * CHUNK
"""Up to this many assets' facts are looked up by key, ``CHUNK`` at a time; more are read in
one scan of the partition and filtered (a scan costs per stored asset, a lookup per asset
wanted: a refresh after an edit wants a few thousand of 100,000)."""
_ATTEMPT = {s.value: s for s in AttemptStatus}

# ``AssetFacts(...)`` through its slots' own setters (as ``summarize`` builds a summary): a
# frozen dataclass's ``__init__`` looks each attribute up by name, three times the cost, and
# a cold status builds one per stored row.
_FACT_FIELDS = ("key", "partition", "last_materialization", "last_observation", "last_attempt_run_id",
                "last_attempt_status", "last_attempt_at", "last_failure", "last_observation_checked_at")
if tuple(AssetFacts.__dataclass_fields__) != _FACT_FIELDS:  # pragma: no cover - a field was added or moved
    raise ImportError("AssetFacts's fields changed: update storage.sql.latest_rows._facts")
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


class StoredRows:
    """The ``RowDecoder`` of a store's partition rows; ``source`` fetches a whole event."""

    def __init__(self, source: Any) -> None:
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


def summary_queries(mark: str, partition: str, keys: Iterable[AssetKey] | None
                    ) -> tuple[list[tuple[str, list[Any]]], set[str] | None]:
    """The statements (with their parameters, in the driver's ``mark`` style) that read the rows
    of ``keys`` (all when None) in ``partition``, and the key texts wanted (None: all)."""
    sql = f'SELECT {SELECT} FROM asset_latest WHERE "partition" = {mark}'
    if keys is None:
        return [(sql, [partition])], None
    wanted = {str(k) for k in keys}
    if not wanted or len(wanted) > _LOOKED_UP:  # none; or most of a big graph: scan and filter here
        return ([(sql, [partition])] if wanted else []), wanted
    ordered = sorted(wanted)
    return [(sql + f' AND asset_key IN ({", ".join([mark] * len(chunk))})', [partition, *chunk])
            for chunk in (ordered[at:at + CHUNK] for at in range(0, len(ordered), CHUNK))], wanted


def summaries_from(batches: Iterable[list[Row]], wanted: set[str] | None, decoder: StoredRows) -> dict[AssetKey, AssetFacts]:
    """The facts of the fetched rows (of ``wanted`` alone, when given): see ``PartitionFactsReader.summaries``."""
    with gc_paused():
        facts = decoder.facts
        shared: dict[Any, Any] = {}
        out: dict[AssetKey, AssetFacts] = {}
        for rows in batches:
            for row in rows:
                if wanted is None or row[0] in wanted:
                    fact = facts(row, shared)
                    out[fact.key] = fact
        return out


CHECK_COLUMNS = ("asset_key", "check_name", "event_id", "payload")
"""What a read of ``check_latest`` selects: ``check_results`` groups its rows."""


def check_results(rows: Sequence[Row], events: Sequence[Any]) -> Mapping[AssetKey, Mapping[str, CheckEvaluated]]:
    """The rows of ``check_latest`` (``CHECK_COLUMNS``) and their decoded events, by asset
    and check name, read-only."""
    grouped: dict[AssetKey, dict[str, CheckEvaluated]] = {}
    for (key_text, name, _id, _payload), event in zip(rows, events):
        key = key_of(key_text)
        checks = grouped.get(key)
        if checks is None:
            checks = grouped[key] = {}
        checks[name] = event
    return MappingProxyType({key: MappingProxyType(checks) for key, checks in grouped.items()})
