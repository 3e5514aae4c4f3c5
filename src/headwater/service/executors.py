"""Which executor a run uses, built from its name: the one place that knows every executor.

In-process runs steps here; multiprocess forks workers that share the definitions already
loaded, or, where forking is not safe (``execution/worker_start.py``), spawns workers that
load them from their location; Dask sends steps to a cluster (``distributed`` is imported
only when asked for).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation, load_definitions
from headwater.errors import HeadwaterError
from headwater.execution.executor import Executor, InProcessExecutor
from headwater.execution.multiprocess import MultiprocessExecutor, WorkerBootstrap
from headwater.service.executor_names import EXECUTORS
from headwater.storage.interfaces import EventStore
from headwater.values.filesystem import FilesystemValueStore, value_store_from_config


def build_executor(defs: Definitions, name: str, workers: int | None, location: DefinitionsLocation | None, *,
                   store: EventStore, database_url: str, values: FilesystemValueStore,
                   clock: Callable[[], float]) -> Executor:
    workspace = getattr(defs, "workspace", None)
    if workspace is not None and name != "dask":  # every step runs in its own location's process
        return workspace.executor(database_url, values.config())
    if name == "in_process":
        return InProcessExecutor(defs, store, values, clock)
    if name == "multiprocess":
        from headwater.storage.sql.store import open_store

        n = workers or os.cpu_count() or 2
        load = functools.partial(load_definitions, location) if location is not None else functools.partial(_given, defs)
        boot = WorkerBootstrap(load, functools.partial(open_store, database_url),
                               functools.partial(value_store_from_config, values.config()),
                               loaded=defs, after_fork=forked_worker_starts, spawnable=location is not None)
        return MultiprocessExecutor(boot, n)
    if name == "dask":
        from headwater.service.dask_wiring import build_dask_executor  # distributed loads only when asked

        return build_dask_executor(defs, store, database_url, values.config(), workers, location)
    raise HeadwaterError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


def _given(defs: Definitions) -> Definitions:
    return defs


def forked_worker_starts() -> None:
    """What a worker forked from this process lets go of first: the SQLite connections it
    inherited (``close_inherited_sqlite``) and any dbt child started ahead for the coordinator
    (its pipes; the child itself stays the coordinator's to use or stop)."""
    from headwater.storage.sql.engines import close_inherited_sqlite

    close_inherited_sqlite()
    invocation = sys.modules.get("headwater.integrations.dbt.invocation")
    if invocation is not None:
        invocation.forget_warm_in_child()
