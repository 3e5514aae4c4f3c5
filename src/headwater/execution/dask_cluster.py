"""Where the Dask executor's steps run: an existing scheduler, or a LocalCluster of our own.

Configuration, in order: ``$HEADWATER_DASK_ADDRESS``, then ``[tool.headwater.dask] address``
in the project's pyproject.toml. With neither, a ``distributed.LocalCluster`` sized to the
machine (or to ``--workers``) is started for the run and stopped after it.

Everything here fails before a run is recorded: an unreachable scheduler, a scheduler with
no workers, or a SQLite store with a scheduler whose workers may be on other hosts.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.errors import HeadwaterError

DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class DaskSettings:
    address: str | None  # None: start a LocalCluster
    source: str  # where the address came from, for error messages
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT


def dask_settings(working_dir: str | os.PathLike[str] | None = None) -> DaskSettings:
    timeout = _float_env("HEADWATER_DASK_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)
    env = os.environ.get("HEADWATER_DASK_ADDRESS", "").strip()
    if env:
        return DaskSettings(env, "$HEADWATER_DASK_ADDRESS", timeout)
    base = Path(working_dir or os.getcwd()).resolve()
    for folder in (base, *base.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("headwater", {}).get("dask", {})
            except tomllib.TOMLDecodeError:
                return DaskSettings(None, "a LocalCluster", timeout)  # the loader reports a broken file
            address = table.get("address") if isinstance(table, dict) else None
            if address is not None and not isinstance(address, str):
                raise HeadwaterError(f"[tool.headwater.dask] address in {pyproject} must be a string like "
                                     f"'tcp://scheduler:8786', not {address!r}")
            if address:
                return DaskSettings(address, f"[tool.headwater.dask] in {pyproject}", timeout)
            break
    return DaskSettings(None, "a LocalCluster", timeout)


def check_store_reachable(database_url: str, settings: DaskSettings) -> None:
    """A SQLite file is on this host only: refuse it unless every worker is ours (LocalCluster)."""
    if settings.address and database_url.startswith("sqlite"):
        raise HeadwaterError(
            f"the dask executor with the scheduler at {settings.address} (from {settings.source}) cannot use the "
            f"SQLite store {database_url}: workers on other hosts cannot reach a local file. Use PostgreSQL "
            "(HEADWATER_DATABASE_URL=postgresql://user@host/db), or unset the address to run a LocalCluster here")


def connect(settings: DaskSettings, workers: int | None) -> tuple[Any, Any]:
    """(client, the cluster we started or None). Raises ``HeadwaterError`` when the scheduler
    cannot be reached or has no worker, naming the address and where it was configured."""
    from distributed import Client, LocalCluster

    if settings.address is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1 if workers else None, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)  # a free port, never a clash
        try:
            return Client(cluster, set_as_default=False), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        client = Client(settings.address, timeout=settings.connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise HeadwaterError(
            f"cannot reach the Dask scheduler at {settings.address} (from {settings.source}) within "
            f"{settings.connect_timeout:g} s: {exc}; nothing was run") from None
    try:
        client.wait_for_workers(1, timeout=settings.connect_timeout)
    except (OSError, TimeoutError):
        client.close()
        raise HeadwaterError(
            f"the Dask scheduler at {settings.address} has no workers (waited {settings.connect_timeout:g} s); "
            f"start one with: dask worker {settings.address}") from None
    return client, None


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HeadwaterError(f"${name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise HeadwaterError(f"${name} must be positive, not {raw!r}")
    return value
