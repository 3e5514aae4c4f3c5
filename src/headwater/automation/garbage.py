"""The daemon's garbage collection: the project's retention policy, applied every
``gc_interval`` and recorded as a tick of the instigator ``gc`` (what it deleted and the
bytes it gave back are the tick's evaluations, so ``headwater ticks --instigator gc``
shows the store's upkeep)."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from headwater.core.events import ErrorInfo, TickRecorded, TickStatus
from headwater.core.retention import RetentionPolicy
from headwater.definitions.loader import DefinitionsLocation
from headwater.definitions.project_settings import find_settings

log = logging.getLogger("headwater.daemon")
GC = "gc"


def retention_of(location: DefinitionsLocation | None) -> RetentionPolicy:
    if location is None:
        return RetentionPolicy()
    near = Path(location.file).parent if location.file else Path(location.working_dir)
    return find_settings(near).retention


def collect_if_due(instance: Any, policy: RetentionPolicy, now: float, states: dict[str, Any],
                   ticks: list[TickRecorded]) -> TickRecorded | None:
    """Collect when ``gc_interval`` has passed since the last collection (never: at once)."""
    if policy.gc_interval is None:
        return None
    state = states.get(GC)
    last = state.last_tick_time if state is not None else None
    if last is not None and 0 <= now - last < policy.gc_interval:
        return None
    try:
        report = instance.gc(policy, convert=False)  # never a full VACUUM inside a tick
        tick = TickRecorded(run_id=None, timestamp=now, instigator=GC, status=TickStatus.SUCCESS, tick_time=now,
                            skip_reason=f"deleted {report.total_rows} row(s), freed {report.bytes_freed} bytes",
                            evaluations={"report": report.to_dict()})
    except Exception as exc:  # noqa: BLE001 - recorded; tried again next interval
        log.exception("garbage collection failed")
        tick = TickRecorded(run_id=None, timestamp=now, instigator=GC, status=TickStatus.FAILED, tick_time=now,
                            error=ErrorInfo.from_exception(exc, traceback.format_exc()))
    instance.store.write([tick])
    ticks.append(tick)
    return tick
