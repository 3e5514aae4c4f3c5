"""The run queue's entrance: queueing a run (the daemon, the UI, ``materialize --queue``,
backfills) and claiming one before its worker starts. A mixin of ``Instance``; executing a
queued run stays on the instance, beside ``materialize``, which it mirrors.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from headwater.core.backfills import TARGETS_TAG
from headwater.core.events import RunQueued, RunStarted
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord
from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.errors import HeadwaterError
from headwater.execution.plan import PlanMode
from headwater.service.partition_views import partition_tags

if TYPE_CHECKING:
    from headwater.storage.interfaces import EventStore


class RunQueueViews:
    store: EventStore
    clock: Callable[[], float]

    def enqueue(self, defs: Definitions, selection: str = "*", *, asset_keys: Iterable[AssetKey] = (),
                run_key: str | None = None, tags: dict[str, str] | None = None, origin: str = "cli",
                mode: str = "all", location: DefinitionsLocation | None = None,
                partition: str | Sequence[str] | None = None,
                partition_range: tuple[str | None, str | None] | None = None,
                targets: dict[AssetKey, tuple[str, ...]] | None = None) -> tuple[RunRecord, bool]:
        """Queue a run for a worker process; returns (the run, whether this call queued it).

        With a ``run_key`` that was queued before, nothing new is queued and the earlier run is
        returned: requests are idempotent, so a retried tick cannot launch a run twice.
        Partitions travel as run tags: a key or keys, a range, or the exact ``targets`` per asset.
        """
        keys = tuple(asset_keys) or tuple(defs.graph.toposorted(self.select(defs, selection)))  # type: ignore[attr-defined]
        PlanMode(mode)
        start, end = partition_range or (None, None)
        tags = {**(tags or {}), **partition_tags(partition, start, end)}
        if targets:
            tags[TARGETS_TAG] = json.dumps({str(k): list(v) for k, v in targets.items()}, separators=(",", ":"))
        run_id = uuid.uuid4().hex
        self.store.write([RunQueued(
            run_id=run_id, timestamp=self.clock(), selection=selection, asset_keys=keys, tags=dict(tags or {}),
            run_key=run_key, origin=origin, mode=mode, location=location.to_json() if location else None)])
        record = self.store.run_for_key(run_key) if run_key else self.store.get_run(run_id)
        if record is None:
            raise HeadwaterError(f"run {run_id} was queued but cannot be read back")
        return record, record.run_id == run_id

    def claim(self, run: RunRecord, executor: str = "queued") -> None:
        """Mark a queued run as taken before its worker starts, so no second launcher takes it;
        a claim whose worker never reports is failed by ``reap_dead_runs`` after a while."""
        self.store.write([RunStarted(run_id=run.run_id, timestamp=self.clock(), selection=run.selection,
                                     asset_keys=run.asset_keys, tags=dict(run.tags), executor=executor,
                                     pid=None, host=socket.gethostname(), location=run.location)])
