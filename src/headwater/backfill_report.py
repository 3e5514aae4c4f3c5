"""Plain-data shape of a backfill and its progress, shared by ``headwater backfill ... --json``
and the web API, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

from headwater.core.backfills import BackfillProgress, BackfillRecord
from headwater.core.partitions import format_partitioned_key
from headwater.reports import iso, run_to_dict


def backfill_to_dict(record: BackfillRecord) -> dict[str, Any]:
    start, end = (tuple(record.partition_range) + ("", ""))[:2]
    return {
        "backfill_id": record.backfill_id,
        "status": record.status.value,
        "selection": record.selection,
        "mode": record.mode,
        "from": start or None,
        "to": end or None,
        "chunk_size": record.chunk_size,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "reason": record.reason or None,
        "tags": dict(record.tags),
        "total": record.total,
        "assets": [{"key": str(k), "partitions": len(ps)} for k, ps in record.targets],
    }


def progress_to_dict(progress: BackfillProgress, runs: bool = True, failures: int = 50) -> dict[str, Any]:
    """The backfill, its counts, rate and ETA, per-asset counts, the first failures, its runs."""
    out = backfill_to_dict(progress.record)
    out.update({
        "counts": dict(progress.counts),
        "summary": progress.summary(),
        "in_flight": progress.in_flight,
        "rate_per_second": round(progress.rate, 4) if progress.rate is not None else None,
        "eta_seconds": round(progress.eta, 1) if progress.eta is not None else None,
        "started_at": iso(progress.started_at),
        "per_asset": [{"key": str(a.key), "counts": dict(a.counts)} for a in progress.per_asset],
        "failures": [{"partition": format_partitioned_key(*t), "reason": why}
                     for t, why in progress.failures[:failures]],
        "failures_total": len(progress.failures),
        "run_counts": dict(progress.run_counts),
    })
    if runs:
        out["runs"] = [run_to_dict(r) for r in progress.runs]
    return out
