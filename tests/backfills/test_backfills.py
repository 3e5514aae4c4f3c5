"""Backfills through the public ``Instance`` API, on SQLite and PostgreSQL: planned once,
run in chunks, progress derived, failures skipped downstream, resume builds nothing twice,
cancel, modes, bad input, and a driver that died taken over."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from bf_helpers import builds

from headwater.core.backfills import BackfillStatus, TargetState
from headwater.core.events import RunStatus
from headwater.core.keys import AssetKey
from headwater.errors import HeadwaterError

E, E3, S, SUM = (
    AssetKey(("events",)), AssetKey(("events_3d",)), AssetKey(("sales",)), AssetKey(("summary",)))
RANGE = ("2026-01-02", "2026-01-05")


def test_planned_once_through_mappings_and_run_to_the_end(instance, defs, project_dir):
    record = instance.launch_backfill(defs, "events+", partition_range=RANGE, chunk_size=2)
    targets = dict(record.targets)
    assert targets[E] == ("2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05")
    # the rolling 3-day window reads a changed day for three days: 02..07
    assert targets[E3] == tuple(f"2026-01-0{d}" for d in range(2, 8))
    assert targets[S] == tuple(f"2026-01-0{d}|{r}" for d in range(2, 6) for r in ("eu", "us"))
    assert targets[SUM] == ("",)
    assert [k for k, _ in record.targets] == [E, E3, S, SUM]  # upstream first
    assert instance.backfill_progress(defs, record.backfill_id).counts["remaining"] == 19

    seen = []
    final = instance.run_backfill(defs, record.backfill_id, on_progress=lambda p, note: seen.append(p.done))
    assert final.record.status is BackfillStatus.COMPLETED
    assert final.done == final.total == 19 and final.rate and final.rate > 0
    assert seen == sorted(seen) and seen[-1] == 19
    built = Counter(builds(project_dir))
    assert set(built.values()) == {1} and len(built) == 19
    runs = instance.backfill_runs(record.backfill_id)
    assert len(runs) == 2 and all(r.status is RunStatus.SUCCEEDED for r in runs)
    assert all(r.tags["headwater/backfill"] == record.backfill_id for r in runs)
    # the summary (all of the rolling window) was built once, after every day it reads
    assert builds(project_dir)[-1] == "summary[]"


def test_failure_skips_readers_and_resume_builds_nothing_twice(instance, defs, project_dir):
    (project_dir / "fail").write_text("2026-01-03")
    record = instance.launch_backfill(defs, "events+", partition_range=RANGE, chunk_size=1)
    first = instance.run_backfill(defs, record.backfill_id)
    assert first.record.status is BackfillStatus.FAILED
    states = first.states
    assert states[(E, "2026-01-03")] is TargetState.FAILED
    skipped = {t for t, s in states.items() if s is TargetState.SKIPPED}
    assert skipped == {(E3, "2026-01-03"), (E3, "2026-01-04"), (E3, "2026-01-05"), (S, "2026-01-03|eu"),
                       (S, "2026-01-03|us"), (SUM, "")}
    assert first.done == 19 - 7
    assert dict(first.failures)[(E, "2026-01-03")] == "no data for 2026-01-03"
    done_first = set(builds(project_dir))

    (project_dir / "fail").unlink()
    resumed = instance.resume_backfill(record.backfill_id[:8])
    assert resumed.status is BackfillStatus.REQUESTED
    final = instance.run_backfill(defs, record.backfill_id)
    assert final.record.status is BackfillStatus.COMPLETED and final.done == 19
    built = builds(project_dir)
    assert set(Counter(built).values()) == {1}, "a partition was built twice"
    assert set(built) - done_first == {"events[2026-01-03]", "events_3d[2026-01-03]", "events_3d[2026-01-04]",
                                       "events_3d[2026-01-05]", "sales[2026-01-03|eu]", "sales[2026-01-03|us]",
                                       "summary[]"}
    with pytest.raises(HeadwaterError, match="completed; nothing to resume"):
        instance.resume_backfill(record.backfill_id)


def test_only_missing_keeps_readers_of_what_it_rebuilds(instance, defs, project_dir):
    instance.materialize(defs, "events", partition_range=("2026-01-01", "2026-01-10"))
    instance.materialize(defs, "events_3d", partition_range=("2026-01-01", "2026-01-10"))
    instance.materialize(defs, "sales", partition_range=("2026-01-01", "2026-01-10"))
    # one day of events fails to exist: write a failed attempt by running with the fail file
    (project_dir / "fail").write_text("2026-01-04")
    instance.materialize(defs, "events", partition="2026-01-04")  # the day stays materialized from before
    (project_dir / "fail").unlink()
    record = instance.launch_backfill(defs, "events+", partition_range=("2026-01-01", "2026-01-10"),
                                      only="failed")
    targets = dict(record.targets)
    assert targets[E] == ("2026-01-04",)
    assert targets[E3] == ("2026-01-04", "2026-01-05", "2026-01-06")
    assert targets[S] == ("2026-01-04|eu", "2026-01-04|us")
    assert targets[SUM] == ("",)  # it was never built: missing, and it reads a rebuilt day anyway
    with pytest.raises(HeadwaterError, match="nothing to backfill"):
        instance.launch_backfill(defs, "events", partition_range=("2026-01-01", "2026-01-10"), only="missing")


BAD = [
    (dict(selection="events", partition_range=("2025-12-01", "2026-01-03")), "outside the partitions"),
    (dict(selection="events", partitions=["2026-13-01"]), "unknown partition '2026-13-01'"),
    (dict(selection="summary"), "no selected asset is partitioned"),
    (dict(selection="nope+"), "nope"),
    (dict(selection="events", only="stale,old"), "unknown backfill mode 'old'"),
    (dict(selection="events", chunk_size=0), "chunk size"),
    (dict(selection="events", partition_range=("2026-01-05", "2026-01-02")), "empty partition range"),
]


def test_bad_input_is_one_error_and_stores_nothing(instance, defs):
    before = instance.store.last_event_id()
    for kwargs, message in BAD:
        options = dict(kwargs)
        selection = options.pop("selection")
        with pytest.raises(HeadwaterError, match=message):
            instance.launch_backfill(defs, selection, **options)
    assert instance.store.last_event_id() == before
    assert instance.backfills() == []


def test_daemon_driving_cancel_and_resume(instance, defs, project_dir):
    record = instance.launch_backfill(defs, "events", partition_range=("2026-01-01", "2026-01-10"), chunk_size=1)
    queued = instance.drive_backfills(defs, None, "host-a:1", max_in_flight=3)
    assert len(queued) == 3  # at most three runs of one backfill in flight
    assert instance.drive_backfills(defs, None, "host-a:1", max_in_flight=3) == []  # still three in flight
    runs = instance.backfill_runs(record.backfill_id)
    assert [dict(r.tags)["headwater/targets"] for r in runs] == [
        '{"events":["2026-01-01"]}', '{"events":["2026-01-02"]}', '{"events":["2026-01-03"]}']
    # a worker executes the first queued run
    instance.claim(runs[0])
    instance.execute_queued(defs, runs[0].run_id)
    progress = instance.backfill_progress(defs, record.backfill_id)
    assert (progress.done, progress.counts["queued"], progress.counts["remaining"]) == (1, 2, 7)

    canceled, run_ids = instance.cancel_backfill(record.backfill_id)
    assert canceled.status is BackfillStatus.CANCELED and set(run_ids) == {runs[1].run_id, runs[2].run_id}
    assert all(instance.run(r).status is RunStatus.CANCELED for r in run_ids)
    assert instance.drive_backfills(defs, None, "host-a:1") == []  # canceled: nothing launched
    with pytest.raises(HeadwaterError, match="already canceled"):
        instance.cancel_backfill(record.backfill_id)

    instance.resume_backfill(record.backfill_id)
    final = instance.run_backfill(defs, record.backfill_id)
    assert final.record.status is BackfillStatus.COMPLETED
    assert Counter(builds(project_dir)) == Counter(f"events[2026-01-{d:02d}]" for d in range(1, 11))


def test_a_dead_driver_is_taken_over_and_in_flight_runs_are_not_launched_again(instance, defs):
    import os
    import socket

    record = instance.launch_backfill(defs, "events", partition_range=("2026-01-01", "2026-01-04"), chunk_size=1)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_owner = f"{socket.gethostname()}:{gone.stdout.strip()}"
    assert len(instance.drive_backfills(defs, None, dead_owner, ttl=3600, max_in_flight=2)) == 2
    # its process is gone on this host: a new driver takes over at once (no waiting out the
    # hour-long lease), and the two runs it queued are in flight, so it queues only the others
    me = f"{socket.gethostname()}:{os.getpid()}"
    assert len(instance.drive_backfills(defs, None, me, ttl=3600, max_in_flight=4)) == 2
    assert instance.backfill_driver(record.backfill_id) == me
    # a live driver (this process) is never taken over by another one
    assert instance.drive_backfills(defs, None, "another-host:1", ttl=3600, max_in_flight=10) == []
    runs = instance.backfill_runs(record.backfill_id)
    assert sorted(r.tags["headwater/targets"] for r in runs) == [
        f'{{"events":["2026-01-0{d}"]}}' for d in range(1, 5)]


def test_the_foreground_driver_waits_for_the_concurrency_limit(instance, defs, project_dir):
    import os
    import socket

    import project  # the same assets (they read their steering files when they run)

    import headwater as hw
    from headwater.core.events import RunFinished, RunStarted

    limited = hw.Definitions(assets=[project.events, project.events_3d, project.sales, project.summary],
                             max_concurrent_runs=1)
    other = "other-run"
    instance.store.write([RunStarted(run_id=other, timestamp=instance.clock(), selection="x", asset_keys=(SUM,),
                                     executor="in_process", pid=os.getpid(), host=socket.gethostname())])
    record = instance.launch_backfill(limited, "events", partition_range=("2026-01-01", "2026-01-02"))
    notes: list[str] = []

    def on_progress(progress, note):  # type: ignore[no-untyped-def]
        notes.append(note)
        if "the limit is 1" in note:  # the driver waits: let the other run end
            instance.store.write([RunFinished(run_id=other, timestamp=instance.clock(), status=RunStatus.SUCCEEDED)])

    final = instance.run_backfill(limited, record.backfill_id, on_progress=on_progress, poll=0.05)
    assert final.record.status is BackfillStatus.COMPLETED
    waited = [n for n in notes if "the limit is 1" in n]
    assert waited and notes.index(waited[0]) < next(i for i, n in enumerate(notes) if n.startswith("running"))


def test_a_target_that_no_longer_exists_fails_instead_of_being_launched_forever(instance, defs):
    import project

    import headwater as hw

    record = instance.launch_backfill(defs, "events+", partition_range=("2026-01-01", "2026-01-01"))
    smaller = hw.Definitions(assets=[project.events, project.events_3d])  # sales and summary removed
    final = instance.run_backfill(smaller, record.backfill_id)
    assert final.record.status is BackfillStatus.FAILED
    failures = dict(final.failures)
    assert failures[(S, "2026-01-01|eu")] == "asset sales is no longer defined"
    assert final.states[(E, "2026-01-01")] is TargetState.DONE


def test_a_foreground_resume_takes_back_runs_queued_for_a_daemon_that_is_gone(instance, defs, project_dir):
    record = instance.launch_backfill(defs, "events", partition_range=("2026-01-01", "2026-01-04"), chunk_size=1)
    queued = instance.drive_backfills(defs, None, "elsewhere:1", ttl=0.001, max_in_flight=2)  # then it died
    assert len(queued) == 2
    final = instance.run_backfill(defs, record.backfill_id)
    assert final.record.status is BackfillStatus.COMPLETED
    assert {instance.run(r).status for r in queued} == {RunStatus.CANCELED}
    assert Counter(builds(project_dir)) == Counter(f"events[2026-01-0{d}]" for d in range(1, 5))
