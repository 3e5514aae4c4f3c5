"""Building the Dask executor: settings, the cluster, and how a worker rebuilds our world.

A worker gets factories that are module-level functions with plain arguments (pickled by
reference): load the definitions from their location, open the store at the URL, open the
value store from its config. So the definitions must have a location; for definitions
built in Python the location is inferred when they are a module-level name of the module
that defines their assets.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation, load_definitions
from headwater.errors import HeadwaterError
from headwater.execution.dask_cluster import check_store_reachable, connect, dask_settings
from headwater.execution.dask_executor import DaskExecutor
from headwater.execution.dask_worker import StepAddress, run_step
from headwater.execution.multiprocess import WorkerBootstrap
from headwater.execution.requests import StepRequest
from headwater.execution.step_lease import lease_ttl
from headwater.storage.interfaces import EventStore
from headwater.values.filesystem import value_store_from_config


def build_dask_executor(defs: Definitions, store: EventStore, database_url: str, values_config: dict[str, Any],
                        workers: int | None, location: DefinitionsLocation | None) -> DaskExecutor:
    workspace = getattr(defs, "workspace", None)
    if workspace is not None:  # each step runs in its code location's interpreter, on the worker
        settings = dask_settings(workspace.location.working_dir)
        address_for, task = _location_addresses(defs, database_url, values_config)
    else:
        location = location or infer_location(defs)
        settings = dask_settings(location.working_dir)
        address_for, task = _addresses(location, database_url, values_config), run_step
    check_store_reachable(database_url, settings)  # before any connection: nothing is recorded
    client, cluster = connect(settings, workers)
    try:
        description = (f"the Dask scheduler at {settings.address}" if settings.address
                       else f"a LocalCluster ({len(cluster.workers)} workers)")
        return DaskExecutor(client, defs, store, address_for, cluster=cluster, lease_ttl=lease_ttl(),
                            description=description, task=task)
    except BaseException:
        client.close()
        if cluster is not None:
            cluster.close()
        raise


def _addresses(location: DefinitionsLocation, database_url: str, values_config: dict[str, Any]) -> Any:
    from headwater.storage.sql.store import open_store

    # A canceled step's task runs on (Dask cannot kill it): its worker's store drops what the
    # step reports once the run has ended (storage/sql/writer.py).
    boot = WorkerBootstrap(functools.partial(load_definitions, location),
                           functools.partial(open_store, database_url, drop_late_reports=True),
                           functools.partial(value_store_from_config, values_config))
    loc = location.to_json()
    values = json.dumps(values_config, sort_keys=True)
    ttl = lease_ttl()

    def address_for(request: StepRequest, abandon_event: str, outcome_topic: str) -> StepAddress:
        return StepAddress(loc, database_url, values, request, boot, ttl, abandon_event, outcome_topic)

    return address_for


def _location_addresses(defs: Any, database_url: str, values_config: dict[str, Any]) -> tuple[Any, Any]:
    """A workspace's steps travel with their location's name and configuration: the task on the
    worker runs each in that location's interpreter (``execution/dask_location.py``)."""
    from headwater.execution.dask_location import LocationStepAddress, run_location_step
    from headwater.storage.sql.store import open_store

    store = functools.partial(open_store, database_url)
    configs = {c.name: json.dumps(c.to_dict(), sort_keys=True) for c in defs.workspace.config.locations}
    values = json.dumps(values_config, sort_keys=True)
    ttl = lease_ttl()

    def address_for(request: StepRequest, abandon_event: str, outcome_topic: str) -> LocationStepAddress:
        name = defs.location_of_step(request.step_key)
        return LocationStepAddress(name, configs[name], database_url, values, request, store, ttl, abandon_event,
                                   outcome_topic)

    return address_for, run_location_step


def infer_location(defs: Definitions) -> DefinitionsLocation:
    """Where workers can load ``defs`` from: the module of its assets, if it binds ``defs`` to a
    name (``defs = hw.Definitions(...)`` at module level)."""
    seen: set[str] = set()
    for definition in defs._given_assets:  # noqa: SLF001 - the functions as the user gave them
        module_name = getattr(getattr(definition, "fn", None), "__module__", None)
        if not module_name or module_name in seen:
            continue
        seen.add(module_name)
        module = sys.modules.get(module_name)
        path = getattr(module, "__file__", None)
        if module is None or not path:
            continue
        for attribute, value in vars(module).items():
            if value is defs:
                folder = str(Path(path).resolve().parent)
                return DefinitionsLocation(file=str(Path(path).resolve()), attribute=attribute, working_dir=folder)
    raise HeadwaterError(
        "the dask executor loads the definitions on every worker, so it needs to know where they are: pass "
        "location=DefinitionsLocation(file=..., attribute=...) or bind them to a module-level name "
        "(defs = hw.Definitions(...)) in the module of your assets")
