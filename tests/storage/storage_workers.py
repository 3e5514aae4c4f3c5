"""Functions run in separate OS processes by the concurrency tests (spawned, so importable)."""

from __future__ import annotations

import time
import traceback
from typing import Any

from storage_events import T0, materialized, queued, step_started, step_succeeded

from headwater.core.events import LogMessage
from headwater.storage.sql.store import open_store


def write_batches(url: str, worker: str, batches: int, start: Any, results: Any) -> None:
    """Write ``batches`` small batches as fast as possible once everyone is at ``start``."""
    try:
        store = open_store(url)
        try:
            start.wait(timeout=60)
            began = time.time()
            for i in range(batches):
                asset = f"{worker}/asset_{i % 50}"
                run_id = f"{worker}-run"
                at = T0 + i
                store.write([step_started(run_id, f"{worker}-{i}", asset, at=at),
                             LogMessage(run_id=run_id, timestamp=at, message=f"{worker} batch {i}"),
                             materialized(run_id, asset, at, f"{worker}-v{i}"),
                             step_succeeded(run_id, f"{worker}-{i}", asset, at=at)])
            ended = time.time()
        finally:
            store.close()
        results.put((worker, ("ok", began, ended)))
    except BaseException:  # report everything: the parent asserts on it
        results.put((worker, traceback.format_exc()))


def open_together(urls: list[str], worker: str, barrier: Any, results: Any) -> None:
    """Open each brand-new database at the same moment as the other worker, and write to it."""
    outcome = "ok"
    for url in urls:
        try:
            barrier.wait(timeout=60)
            store = open_store(url)
            try:
                store.write([LogMessage(run_id=f"{worker}", timestamp=T0, message="hello")])
            finally:
                store.close()
        except BaseException:
            outcome = traceback.format_exc()
            barrier.abort()  # don't leave the other worker waiting
            break
    results.put((worker, outcome))


def race_for_keys_and_leases(url: str, worker: str, rounds: int, step: Any, results: Any) -> None:
    """Round after round, both workers meet at ``step`` and then, at the same moment, queue a
    run under the round's run key and try to take the round's lease."""
    try:
        store = open_store(url)
        try:
            won = []
            for i in range(rounds):
                step.wait(timeout=60)
                store.write([queued(f"{worker}-{i}", T0 + i, f"key-{i}", origin=worker)])
                won.append(store.acquire_lease(f"lease-{i}", worker, 60.0, T0))
        finally:
            store.close()
        results.put((worker, ("ok", won)))
    except BaseException:  # report everything: the parent asserts on it
        step.abort()  # don't leave the other worker waiting
        results.put((worker, traceback.format_exc()))
