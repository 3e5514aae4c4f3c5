"""A backfill's progress, derived from the store (docs/design.md §5).

A backfill is planned once: its exact list of (asset, partition) targets is in its
``backfill_requested`` event. Nothing about its progress is stored: each target's state is
read from the latest attempt of that asset partition after the backfill began, and from the
backfill's own runs (queued or started ones hold their targets). So a crash of whoever
drives it loses nothing, and a resume launches exactly what is neither done nor in flight.

States of one target, in the order they are decided:

* ``done`` — its latest attempt since the backfill was created succeeded (whoever ran it);
* ``running`` — its latest attempt is in progress;
* ``failed`` — its latest attempt since the last (re)start failed or was canceled;
* ``skipped`` — its latest attempt since the last (re)start was skipped because an upstream
  partition failed, or it was never launched because one of its parent targets failed;
* ``queued`` — a queued or started run of the backfill holds it;
* ``remaining`` — none of the above: still to launch.

Pure: (the backfill, facts per target, its runs, the parents of each target, now).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from headwater.core.events import RunStatus
from headwater.core.keys import AssetKey, to_key
from headwater.core.partitions import format_partitioned_key
from headwater.core.records import AssetFacts, AttemptStatus, RunRecord

BACKFILL_TAG = "headwater/backfill"
RUN_KEY_PREFIX = "backfill:"
TARGETS_TAG = "headwater/targets"  # the same tag the worker plans a queued run with (service.partition_views)
MODES = ("missing", "failed", "stale")

Target = tuple[AssetKey, str]


class BackfillStatus(StrEnum):
    REQUESTED = "requested"   # being driven (by a foreground command or the daemon)
    COMPLETED = "completed"   # every target done
    FAILED = "failed"         # nothing more to launch, some targets failed or were skipped
    CANCELED = "canceled"     # stopped by a person; runs already started finish

    @property
    def is_terminal(self) -> bool:
        return self is not BackfillStatus.REQUESTED


class TargetState(StrEnum):
    DONE = "done"
    RUNNING = "running"
    FAILED = "failed"
    SKIPPED = "skipped"
    QUEUED = "queued"
    REMAINING = "remaining"


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    """A backfill as stored: what it plans, and its status (the ``backfills`` row)."""

    backfill_id: str
    status: BackfillStatus
    created_at: float
    updated_at: float
    selection: str
    mode: str
    partition_range: tuple[str, ...]
    targets: tuple[tuple[AssetKey, tuple[str, ...]], ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    chunk_size: int = 1
    reason: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BackfillRecord:
        return cls(
            backfill_id=row["backfill_id"], status=BackfillStatus(row["status"]), created_at=row["created_at"],
            updated_at=row["updated_at"] if row["updated_at"] is not None else row["created_at"],
            selection=row["selection"] or "", mode=row["mode"] or "all",
            partition_range=tuple(row["partition_range"] or ()),
            targets=tuple((to_key(k), tuple(ps)) for k, ps in row["targets"]), tags=dict(row["tags"] or {}),
            chunk_size=int(row["chunk_size"] or 1), reason=row["reason"] or "")

    @property
    def total(self) -> int:
        return sum(len(ps) for _k, ps in self.targets)

    @property
    def retry_since(self) -> float:
        """Failures before this instant are launched again: the last resume (or creation)."""
        return self.updated_at if self.status is BackfillStatus.REQUESTED else self.created_at

    def ordered_targets(self) -> list[Target]:
        return [(k, p) for k, ps in self.targets for p in ps]


def run_targets(run: RunRecord) -> dict[AssetKey, tuple[str, ...]]:
    """The exact partitions per asset a backfill run was launched with."""
    text = run.tags.get(TARGETS_TAG)
    if not text:
        return {k: ("",) for k in run.asset_keys}
    return {to_key(k): tuple(v) for k, v in json.loads(text).items()}


@dataclass(frozen=True, slots=True)
class AssetProgress:
    key: AssetKey
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """Where a backfill stands, derived; ``states`` has every target's state."""

    record: BackfillRecord
    states: Mapping[Target, TargetState]
    counts: Mapping[str, int]
    per_asset: tuple[AssetProgress, ...]
    failures: tuple[tuple[Target, str], ...]  # (target, why), failed and skipped ones
    runs: tuple[RunRecord, ...]
    run_counts: Mapping[str, int]
    started_at: float | None
    rate: float | None          # targets done per second since the first run started
    eta: float | None           # seconds to go at that rate (requested backfills only)
    now: float

    @property
    def total(self) -> int:
        return len(self.states)

    @property
    def done(self) -> int:
        return self.counts.get("done", 0)

    @property
    def in_flight(self) -> int:
        return self.counts.get("running", 0) + self.counts.get("queued", 0)

    @property
    def open_runs(self) -> int:
        return self.run_counts.get("queued", 0) + self.run_counts.get("started", 0)

    @property
    def settled(self) -> bool:
        """Nothing left to launch and nothing in flight: the backfill can be closed."""
        return self.in_flight == 0 and self.counts.get("remaining", 0) == 0 and self.open_runs == 0

    def final_status(self) -> BackfillStatus:
        bad = self.counts.get("failed", 0) + self.counts.get("skipped", 0)
        return BackfillStatus.FAILED if bad else BackfillStatus.COMPLETED

    def summary(self) -> str:
        """``120/300 done · 2 failed · 4 running · 174 remaining``"""
        parts = [f"{self.done}/{self.total} done"]
        for name in ("failed", "skipped", "running", "queued", "remaining"):
            n = self.counts.get(name, 0)
            if n:
                parts.append(f"{n} {name}")
        return " · ".join(parts)

    def remaining_of(self) -> list[Target]:
        return [t for t, s in self.states.items() if s is TargetState.REMAINING]


def derive_progress(record: BackfillRecord, facts: Mapping[Target, AssetFacts | None],
                    runs: Sequence[RunRecord], parents: Mapping[Target, Sequence[Target]],
                    now: float, gone: Mapping[Target, str] | None = None) -> BackfillProgress:
    """Every target's state and the roll-ups (see the module docstring for the rules).

    ``gone`` names targets that can no longer be built (the asset is no longer defined, the
    dynamic key was removed), with why: they are failed rather than launched forever."""
    gone = gone or {}
    created = record.created_at
    retry_since = record.retry_since
    held: set[Target] = set()
    run_counts: dict[str, int] = {}
    for run in runs:
        run_counts[run.status.value] = run_counts.get(run.status.value, 0) + 1
        if run.status in (RunStatus.QUEUED, RunStatus.STARTED):
            held.update((k, p) for k, ps in run_targets(run).items() for p in ps)
    states: dict[Target, TargetState] = {}
    failures: list[tuple[Target, str]] = []
    counts = {s.value: 0 for s in TargetState}
    per_asset: dict[AssetKey, dict[str, int]] = {}
    last_done: float | None = None
    for target in record.ordered_targets():
        fact = facts.get(target)
        state, why = _state(target, fact, created, retry_since, held, states, parents)
        if state is TargetState.REMAINING and target in gone:
            state, why = TargetState.FAILED, gone[target]
        if state is TargetState.DONE and fact is not None and fact.last_attempt_at is not None:
            last_done = fact.last_attempt_at if last_done is None else max(last_done, fact.last_attempt_at)
        states[target] = state
        counts[state.value] += 1
        asset_counts = per_asset.setdefault(target[0], {s.value: 0 for s in TargetState})
        asset_counts[state.value] += 1
        if why is not None:
            failures.append((target, why))
    # Rate over the current activation (since creation or the last resume), so a pause
    # between a failure and its resume does not drag it down.
    starts = [r.started_at or r.created_at for r in runs if (r.started_at or r.created_at) is not None]
    recent = [t for t in starts if t >= retry_since]  # type: ignore[operator]
    started_at = min(recent or starts) if starts else None  # type: ignore[type-var]
    rate = eta = None
    done = sum(1 for t, st in states.items() if st is TargetState.DONE and started_at is not None
               and (f := facts.get(t)) is not None and f.last_attempt_at is not None
               and f.last_attempt_at >= started_at)
    if started_at is not None and done:
        end = now if record.status is BackfillStatus.REQUESTED else (last_done or now)
        elapsed = max(end - started_at, 1e-6)
        rate = done / elapsed
        if record.status is BackfillStatus.REQUESTED:
            eta = (counts["remaining"] + counts["queued"] + counts["running"]) / rate
    return BackfillProgress(
        record=record, states=states, counts=counts,
        per_asset=tuple(AssetProgress(k, c) for k, c in per_asset.items()), failures=tuple(failures),
        runs=tuple(runs), run_counts=run_counts, started_at=started_at, rate=rate, eta=eta, now=now)


def _state(target: Target, fact: AssetFacts | None, created: float, retry_since: float, held: set[Target],
           states: Mapping[Target, TargetState], parents: Mapping[Target, Sequence[Target]]
           ) -> tuple[TargetState, str | None]:
    attempt = fact.last_attempt_status if fact is not None else None
    at = fact.last_attempt_at if fact is not None else None
    if attempt is not None and at is not None and at >= created:
        if attempt is AttemptStatus.SUCCEEDED:
            return TargetState.DONE, None
        if attempt is AttemptStatus.RUNNING:
            return TargetState.RUNNING, None
        if at >= retry_since and target not in held:
            why = fact.last_failure.message if fact is not None and fact.last_failure else attempt.value
            if attempt is AttemptStatus.SKIPPED:
                return TargetState.SKIPPED, why
            return TargetState.FAILED, why
    if target in held:
        return TargetState.QUEUED, None
    for parent in parents.get(target, ()):
        if states.get(parent) in (TargetState.FAILED, TargetState.SKIPPED):
            return TargetState.SKIPPED, f"upstream {format_partitioned_key(*parent)} {states[parent].value}"
    return TargetState.REMAINING, None
