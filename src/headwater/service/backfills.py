"""Backfills: planned once and stored, driven in chunks of runs, progress derived (docs/design.md §5).

A mixin on ``Instance``, like ``PartitionViews``: this module owns the backfill concern and
reaches the store, the clock and the run machinery through the instance.

* ``launch_backfill`` validates and plans (the exact (asset, partition) list) and stores
  it as one ``backfill_requested`` event: bad input raises and stores nothing.
* ``backfill_progress`` derives where it stands from the store (``core.backfills``).
* One driver at a time holds the lease ``backfill:ID`` and launches what is launchable:
  ``run_backfill`` in the foreground (each run executed in this process, one at a time,
  under the definitions' concurrency limits), or the daemon's ``drive_backfills`` (runs
  queued, launched by the daemon's queue under the same limits). A driver that dies stops
  renewing its lease; the daemon, or ``resume``, takes over and launches only what is
  neither done nor in flight.
* ``cancel_backfill`` stops launching and cancels the backfill's queued runs; runs already
  started finish, unless asked to cancel them too (``service/run_cancel.py``). ``resume_backfill`` launches again what failed, was skipped or canceled.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from headwater.automation.run_queue import build_limits, runs_to_launch
from headwater.core.backfills import (
    BACKFILL_TAG,
    RUN_KEY_PREFIX,
    BackfillProgress,
    BackfillRecord,
    BackfillStatus,
    Target,
    derive_progress,
)
from headwater.core.events import (
    BackfillRequested,
    BackfillUpdated,
    RunFinished,
    RunQueued,
    RunStarted,
    RunStatus,
)
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, RunRecord
from headwater.core.selection import select
from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation
from headwater.errors import HeadwaterError
from headwater.execution.backfill_plan import next_runs, parse_modes, plan_backfill, target_parents
from headwater.service.partition_views import TARGETS_TAG

if TYPE_CHECKING:
    from headwater.storage.interfaces import EventStore

LEASE_TTL = 30.0  # a dead foreground driver holds its backfill this long at most
DAEMON_LEASE = "daemon"  # automation.daemon.LEASE: held while a daemon is alive
ProgressCallback = Callable[[BackfillProgress, str], None]


class BackfillNotFoundError(HeadwaterError):
    """No backfill has this id (or the prefix is ambiguous)."""


class BackfillViews:
    store: EventStore
    clock: Callable[[], float]

    # -- creating --------------------------------------------------------------------------

    def launch_backfill(self, defs: Definitions, selection: str, *, partition_range: tuple[str | None, str | None]
                        = (None, None), partitions: Sequence[str] | None = None, only: str | Sequence[str] | None = None,
                        chunk_size: int = 10, tags: dict[str, str] | None = None) -> BackfillRecord:
        """Plan the backfill once and store it (status ``requested``); nothing runs yet."""
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise HeadwaterError(f"chunk size must be a whole number of partitions, at least 1, not {chunk_size!r}")
        modes = parse_modes(only)
        start, end = partition_range
        chosen = select(defs.graph, selection)
        ctx = self.partition_context(defs)  # type: ignore[attr-defined]
        req = self.partition_targets(defs, list(partitions or ()), start, end, ctx=ctx)  # type: ignore[attr-defined]
        statuses = self.statuses(defs) if modes else None  # type: ignore[attr-defined]
        targets = plan_backfill(defs.graph, chosen, req, modes, statuses)
        backfill_id = uuid.uuid4().hex
        self.store.write([BackfillRequested(
            run_id=None, timestamp=self.clock(), backfill_id=backfill_id, selection=selection,
            mode=",".join(modes) or "all", partition_range=(start or "", end or ""),
            targets=tuple((str(k), ps) for k, ps in targets), tags=dict(tags or {}), chunk_size=chunk_size)])
        return self.backfill(backfill_id)

    # -- reading ---------------------------------------------------------------------------

    def backfills(self, limit: int = 50) -> list[BackfillRecord]:
        """Newest first."""
        return [BackfillRecord.from_row(r) for r in self.store.backfills(limit)]

    def backfill(self, backfill_id: str) -> BackfillRecord:
        """One backfill by id, or by a unique prefix of it (as ``headwater backfills`` shows it)."""
        row = self.store.backfill(backfill_id)
        if row is None and 0 < len(backfill_id) < 32:
            matches = [r for r in self.store.backfills(10_000) if r["backfill_id"].startswith(backfill_id)]
            if len(matches) > 1:
                raise BackfillNotFoundError(f"backfill id prefix {backfill_id!r} is ambiguous; give more characters")
            row = matches[0] if matches else None
        if row is None:
            raise BackfillNotFoundError(f"no backfill {backfill_id!r} (headwater backfills lists them)")
        return BackfillRecord.from_row(row)

    def backfill_runs(self, backfill_id: str) -> list[RunRecord]:
        """The runs the backfill launched, oldest first."""
        return self.store.runs_with_key_prefix(f"{RUN_KEY_PREFIX}{backfill_id}:")

    def backfill_progress(self, defs: Definitions, backfill: str | BackfillRecord) -> BackfillProgress:
        """Where the backfill stands, derived from the store now."""
        record = backfill if isinstance(backfill, BackfillRecord) else self.backfill(backfill)
        runs = self.backfill_runs(record.backfill_id)
        return derive_progress(record, self._target_facts(record), runs, self._parents(defs, record), self.clock(),
                               self._gone(defs, record))

    def _gone(self, defs: Definitions, record: BackfillRecord) -> dict[Target, str]:
        """Targets that cannot be built any more: their asset or their partition key is gone."""
        out: dict[Target, str] = {}
        ctx = None
        for key, parts in record.targets:
            if key not in defs.graph:
                out.update({(key, p): f"asset {key} is no longer defined" for p in parts})
                continue
            d = defs.graph.spec(key).partitions
            if d is None or parts == ("",):
                continue
            ctx = ctx or self.partition_context(defs)  # type: ignore[attr-defined]
            index = ctx.index(d)
            out.update({(key, p): f"partition {p!r} of {key} no longer exists" for p in parts if p not in index})
        return out

    def _target_facts(self, record: BackfillRecord) -> dict[Target, AssetFacts | None]:
        partitioned = [k for k, ps in record.targets if ps != ("",)]
        plain = [k for k, ps in record.targets if ps == ("",)]
        per = self.store.partition_facts(partitioned) if partitioned else {}
        flat = self.store.latest_facts(plain) if plain else {}
        out: dict[Target, AssetFacts | None] = {}
        for key, parts in record.targets:
            if parts == ("",):
                out[(key, "")] = flat.get(key)
                continue
            facts = per.get(key, {})
            for p in parts:
                out[(key, p)] = facts.get(p)
        return out

    def _parents_cache(self) -> dict[str, dict[Target, tuple[Target, ...]]]:
        cache = self.__dict__.get("_backfill_parents")
        if cache is None:
            cache = self.__dict__["_backfill_parents"] = {}
        return cache

    def _parents(self, defs: Definitions, record: BackfillRecord) -> dict[Target, tuple[Target, ...]]:
        """Which targets each target reads (the targets never change, so this is computed once)."""
        cache = self._parents_cache()
        found = cache.get(record.backfill_id)
        if found is None:
            known = tuple((k, ps) for k, ps in record.targets if k in defs.graph)
            found = cache[record.backfill_id] = target_parents(defs.graph, known, self.partition_context(defs))  # type: ignore[attr-defined]
        return found

    # -- cancel / resume -------------------------------------------------------------------

    def cancel_backfill(self, backfill_id: str, reason: str = "", cancel_started: bool = False,
                        ) -> tuple[BackfillRecord, list[str]]:
        """Stop launching; cancel the backfill's queued runs, and with ``cancel_started`` its
        started ones (their coordinators stop them); otherwise started ones finish. Returns the
        backfill and the ids of the runs canceled (or asked to stop)."""
        record = self.backfill(backfill_id)
        if record.status.is_terminal:
            raise HeadwaterError(f"backfill {record.backfill_id[:8]} is already {record.status.value}; "
                                 "nothing to cancel")
        now = self.clock()
        why = reason or "canceled by a person"
        runs = self.backfill_runs(record.backfill_id)
        queued = [r for r in runs if r.status is RunStatus.QUEUED]
        run_reason = f"backfill {record.backfill_id[:8]} canceled"
        self.store.write([BackfillUpdated(run_id=None, timestamp=now, backfill_id=record.backfill_id,
                                          status=BackfillStatus.CANCELED.value, reason=why)]
                         + [RunFinished(run_id=r.run_id, timestamp=now, status=RunStatus.CANCELED,
                                        reason=run_reason) for r in queued])
        canceled = [r.run_id for r in queued]
        for r in runs if cancel_started else ():
            if r.status is RunStatus.STARTED:
                try:
                    self.cancel_run(r.run_id, reason=run_reason, requested_by="backfill")  # type: ignore[attr-defined]
                except HeadwaterError:
                    continue  # it ended meanwhile
                canceled.append(r.run_id)
        return self.backfill(record.backfill_id), canceled

    def resume_backfill(self, backfill_id: str) -> BackfillRecord:
        """Make a backfill active again (failed, canceled, or requested with no live driver):
        what failed, was skipped or canceled is launched again, what is done or in flight is not."""
        record = self.backfill(backfill_id)
        if record.status is BackfillStatus.COMPLETED:
            raise HeadwaterError(f"backfill {record.backfill_id[:8]} completed; nothing to resume")
        self.reap_dead_runs()  # type: ignore[attr-defined]  # a dead driver's run fails before the resume
        if record.status is BackfillStatus.REQUESTED:
            driver = self.backfill_driver(record)
            if driver is not None:
                raise HeadwaterError(f"backfill {record.backfill_id[:8]} is being driven by {driver}; follow it "
                                     f"with headwater backfill show {record.backfill_id[:8]} --watch")
        # A new activation: failures before now are launched again (a driver that died left
        # its run failed), and the lease of whoever drove it before no longer applies.
        self.store.write([BackfillUpdated(run_id=None, timestamp=self.clock(), backfill_id=record.backfill_id,
                                          status=BackfillStatus.REQUESTED.value, reason="resumed")])
        return self.backfill(record.backfill_id)

    # -- driving ---------------------------------------------------------------------------

    def _finish_if_settled(self, progress: BackfillProgress) -> BackfillProgress | None:
        """Close a backfill with nothing left to launch or wait for; the closed progress, or None."""
        if progress.record.status is not BackfillStatus.REQUESTED or not progress.settled:
            return None
        final = progress.final_status()
        self.store.write([BackfillUpdated(run_id=None, timestamp=self.clock(), backfill_id=progress.record.backfill_id,
                                          status=final.value, reason=progress.summary())])
        return replace(progress, record=self.backfill(progress.record.backfill_id), eta=None)

    def _take_lease(self, record: BackfillRecord, owner: str, ttl: float) -> bool:
        """Take the backfill's lease; one held by a process of this host that died is taken over."""
        name = _lease_name(record)
        now = time.time()
        if self.store.acquire_lease(name, owner, ttl, now):
            return True
        holder = self.store.lease_holder(name)
        if holder is None or not _dead_here(holder[0]):
            return False
        # The holder died without releasing it: the lease is as good as expired.
        return (self.store.acquire_lease(name, owner, ttl, max(now, holder[1]))
                and self.store.acquire_lease(name, owner, ttl, now))

    def backfill_driver(self, backfill: str | BackfillRecord) -> str | None:
        """Who drives the backfill now (the lease holder, if alive and unexpired), or None."""
        record = backfill if isinstance(backfill, BackfillRecord) else self.backfill(backfill)
        if record.status.is_terminal:
            return None
        holder = self.store.lease_holder(_lease_name(record))
        if holder is None or holder[1] <= time.time() or _dead_here(holder[0]):
            return None
        return holder[0]

    def drive_backfills(self, defs: Definitions, location: DefinitionsLocation | None, owner: str,
                        ttl: float = LEASE_TTL, max_in_flight: int | None = None) -> list[str]:
        """One daemon tick's work: queue the next runs of every active backfill it can lead.

        Each backfill keeps at most ``max_in_flight`` runs queued or started (default: the
        definitions' ``max_concurrent_runs``, else 4), so other runs are not starved.
        """
        cap = max_in_flight or defs.max_concurrent_runs or 4
        queued: list[str] = []
        for backfill_id in self.store.backfill_ids(BackfillStatus.REQUESTED.value):
            record = self.backfill(backfill_id)
            if not self._take_lease(record, owner, ttl):
                continue
            progress = self.backfill_progress(defs, record)
            if self._finish_if_settled(progress) is not None:
                self.store.release_lease(_lease_name(record), owner)
                continue
            chunks = next_runs(record.ordered_targets(), progress.states, self._parents(defs, record),
                               record.chunk_size, cap - progress.open_runs)
            for i, chunk in enumerate(chunks):
                run, _ = self.enqueue(  # type: ignore[attr-defined]
                    defs, record.selection, asset_keys=_ordered_keys(defs, chunk),
                    run_key=f"{RUN_KEY_PREFIX}{backfill_id}:{len(progress.runs) + i}",
                    tags={**record.tags, BACKFILL_TAG: backfill_id}, origin=f"backfill:{backfill_id[:8]}",
                    mode="all", location=location, targets=chunk)
                queued.append(run.run_id)
        return queued

    def run_backfill(self, defs: Definitions, backfill_id: str, *, executor: str = "in_process",
                     workers: int | None = None, location: DefinitionsLocation | None = None,
                     on_progress: ProgressCallback | None = None, poll: float = 0.5) -> BackfillProgress:
        """Drive the backfill to its end in this process: each run is executed here, one at a
        time, when the definitions' concurrency limits allow it. Returns the final progress."""
        record = self.backfill(backfill_id)
        backfill_id = record.backfill_id
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        if record.status.is_terminal:
            raise HeadwaterError(f"backfill {backfill_id[:8]} is {record.status.value}; resume it first")
        lease = _lease_name(record)
        if not self._take_lease(record, owner, LEASE_TTL):
            raise HeadwaterError(f"backfill {backfill_id[:8]} is being driven by {self.backfill_driver(record)}; "
                                 f"follow it with headwater backfill show {backfill_id[:8]} --watch")
        renewal = _LeaseRenewal(self.store, lease, owner, LEASE_TTL)
        self._take_back_queued(record)
        try:
            while True:
                self.reap_dead_runs()  # type: ignore[attr-defined]
                record = self.backfill(backfill_id)
                progress = self.backfill_progress(defs, record)
                if record.status is not BackfillStatus.REQUESTED:
                    _tell(on_progress, progress, f"backfill {record.status.value}")
                    return progress
                closed = self._finish_if_settled(progress)
                if closed is not None:
                    _tell(on_progress, closed, f"backfill {closed.record.status.value}")
                    return closed
                chunks = next_runs(record.ordered_targets(), progress.states, self._parents(defs, record),
                                   record.chunk_size, 1)
                if not chunks:
                    _tell(on_progress, progress, "waiting for runs in flight")
                    time.sleep(poll)
                    continue
                chunk = chunks[0]
                keys = _ordered_keys(defs, chunk)
                waiting = self._blocked_by_limits(defs, keys)
                if waiting:
                    _tell(on_progress, progress, waiting)
                    time.sleep(poll)
                    continue
                _tell(on_progress, progress, "running " + _describe(chunk))
                run_id = self._claim_chunk(record, keys, chunk, len(progress.runs), executor, location)
                if run_id is not None:
                    self.execute_queued(defs, run_id, executor=executor, workers=workers,  # type: ignore[attr-defined]
                                        location=location)
        finally:
            renewal.stop()
            self.store.release_lease(lease, owner)

    def _take_back_queued(self, record: BackfillRecord) -> None:
        """Runs a daemon queued for this backfill wait for a daemon; with none alive they would
        hold their partitions forever, so the foreground driver cancels them and launches the
        partitions itself (a run canceled before it started built nothing)."""
        holder = self.store.lease_holder(DAEMON_LEASE)
        if holder is not None and holder[1] > time.time() and not _dead_here(holder[0]):
            return
        queued = [r for r in self.backfill_runs(record.backfill_id) if r.status is RunStatus.QUEUED]
        if queued:
            now = self.clock()
            self.store.write([RunFinished(run_id=r.run_id, timestamp=now, status=RunStatus.CANCELED,
                                          reason="no daemon is running: the foreground driver of backfill "
                                                 f"{record.backfill_id[:8]} launches its partitions itself")
                              for r in queued])

    def _blocked_by_limits(self, defs: Definitions, keys: tuple[AssetKey, ...]) -> str:
        """Why a run of ``keys`` may not start now under the concurrency limits ('' when it may)."""
        if defs.max_concurrent_runs is None and not defs.concurrency_limits:
            return ""
        candidate = RunRecord(run_id="candidate", status=RunStatus.QUEUED, asset_keys=keys)
        running = self.store.list_runs(limit=1000, statuses=[RunStatus.STARTED])
        limits = build_limits(defs.concurrency_limits, lambda s: select(defs.graph, s))
        decision = runs_to_launch([candidate], running, defs.max_concurrent_runs, limits)
        return decision.waiting.get("candidate", "")

    def _claim_chunk(self, record: BackfillRecord, keys: tuple[AssetKey, ...], chunk: dict[AssetKey, tuple[str, ...]],
                     seq: int, executor: str, location: DefinitionsLocation | None) -> str | None:
        """Queue and claim a run in one write, so no daemon can take it from the queue."""
        run_id = uuid.uuid4().hex
        run_key = f"{RUN_KEY_PREFIX}{record.backfill_id}:{seq}"
        tags = {**record.tags, BACKFILL_TAG: record.backfill_id,
                TARGETS_TAG: json.dumps({str(k): list(v) for k, v in chunk.items()}, separators=(",", ":"))}
        now = self.clock()
        where = location.to_json() if location else None
        self.store.write([
            RunQueued(run_id=run_id, timestamp=now, selection=record.selection, asset_keys=keys, tags=tags,
                      run_key=run_key, origin=f"backfill:{record.backfill_id[:8]}", mode="all", location=where),
            RunStarted(run_id=run_id, timestamp=now, selection=record.selection, asset_keys=keys, tags=tags,
                       executor=executor, pid=os.getpid(), host=socket.gethostname(), location=where)])
        stored = self.store.run_for_key(run_key)
        return run_id if stored is not None and stored.run_id == run_id else None


class _LeaseRenewal:
    """Renews a lease from a thread while a long run executes in the driving thread."""

    def __init__(self, store: Any, name: str, owner: str, ttl: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(store, name, owner, ttl), daemon=True,
                                        name=f"lease {name}")
        self._thread.start()

    def _loop(self, store: Any, name: str, owner: str, ttl: float) -> None:
        while not self._stop.wait(ttl / 3):
            try:
                store.acquire_lease(name, owner, ttl, time.time())
            except HeadwaterError:  # a busy store this time; the next renewal is well before expiry
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _lease_name(record: BackfillRecord) -> str:
    """One lease per activation (creation or resume): whoever drove it before a cancel or a
    failure has no say over the resumed backfill."""
    return f"{RUN_KEY_PREFIX}{record.backfill_id}@{record.updated_at!r}"


def _ordered_keys(defs: Definitions, chunk: dict[AssetKey, tuple[str, ...]]) -> tuple[AssetKey, ...]:
    known = [k for k in chunk if k in defs.graph]
    return tuple(defs.graph.toposorted(set(known))) + tuple(k for k in chunk if k not in defs.graph)


def _describe(chunk: dict[AssetKey, tuple[str, ...]]) -> str:
    parts = sorted({p for ps in chunk.values() for p in ps if p})
    label = parts[0] if len(parts) == 1 else f"{parts[0]}…{parts[-1]}" if parts else ""
    return f"{', '.join(map(str, chunk))}" + (f" [{label}]" if label else "")


def _tell(callback: ProgressCallback | None, progress: BackfillProgress, note: str) -> None:
    if callback is not None:
        callback(progress, note)


def _dead_here(owner: str) -> bool:
    """Whether a lease owner ``host:pid[:...]`` is a process of this host that is gone."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
