"""Fixtures for executors on a cluster: one real Dask cluster (command-line scheduler and two
workers) for the whole session, and a PostgreSQL schema per test
(``pg_schema_url`` of ``tests/conftest.py``) for the store they share."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # dask_procs, imported by plain name

from dask_procs import DaskProcesses  # noqa: E402


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    """``dask scheduler`` + worker w1 (resources memory=16e9) + worker w2, from the command line.
    Steps fail over fast in tests: their leases run out after 3 s unrenewed."""
    procs = DaskProcesses(tmp_path_factory.mktemp("dask"))
    try:
        procs.start_scheduler()
        procs.start_worker(resources="memory=16e9")
        procs.start_worker()
        try:
            procs.wait_for_workers(2)
        except Exception as exc:
            pytest.fail(f"the Dask cluster did not start: {exc}\n{procs.log()}")
        yield procs
    finally:
        procs.stop()


@pytest.fixture
def on_cluster(dask_cluster: DaskProcesses, pg_schema_url: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DaskProcesses, str]]:
    """An Instance's settings pointing at the session's cluster and a fresh PostgreSQL schema."""
    monkeypatch.setenv("HEADWATER_DASK_ADDRESS", dask_cluster.address)
    monkeypatch.setenv("HEADWATER_STEP_LEASE_TTL", "3")
    dask_cluster.wait_for_workers(2)  # a test that killed a worker waits for the nanny's new one
    yield dask_cluster, pg_schema_url
