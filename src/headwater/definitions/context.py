"""The context handed to asset and observe functions that ask for a ``context`` parameter.

It is how user code talks back to Headwater while running: log lines that land in the
run's event log, metadata attached to the output, and which keys this step must produce.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from headwater.core.events import Event, LogMessage
from headwater.core.keys import AssetKey, CoercibleToKey, to_key


class RunLogger:
    """``context.log.info(...)``: each line is an event in the run's log, visible live."""

    def __init__(self, emit: Callable[[Event], None], run_id: str, step_key: str) -> None:
        self._emit = emit
        self._run_id = run_id
        self._step_key = step_key

    def _log(self, level: str, message: str) -> None:
        self._emit(LogMessage(run_id=self._run_id, timestamp=time.time(), step_key=self._step_key,
                              level=level, message=str(message)))

    def debug(self, message: str) -> None:
        self._log("debug", message)

    def info(self, message: str) -> None:
        self._log("info", message)

    def warning(self, message: str) -> None:
        self._log("warning", message)

    def error(self, message: str) -> None:
        self._log("error", message)


@dataclass
class AssetContext:
    run_id: str
    step_key: str
    selected_keys: tuple[AssetKey, ...]
    resources: Mapping[str, Any]
    log: RunLogger
    attempt: int = 1
    partition: str = ""
    # The run's tags (``headwater materialize --tag k=v``): per-run settings an asset may read,
    # e.g. ``dbt/full_refresh``, without a resource or an environment variable.
    tags: Mapping[str, str] = field(default_factory=dict)
    # Every partition this step builds (a range step builds several), and the time they span.
    partition_keys: tuple[str, ...] = ()
    time_window: Any = None  # core.partitions.TimeWindow, for a time-partitioned asset
    _metadata: dict[AssetKey, dict[str, Any]] = field(default_factory=dict)

    @property
    def partition_key(self) -> str:
        """The partition being built (for a step over a range, use ``partition_keys``)."""
        if len(self.partition_keys) > 1:
            raise ValueError(f"step {self.step_key} builds {len(self.partition_keys)} partitions; use "
                             "context.partition_keys or context.time_window")
        if not self.partition:
            raise ValueError(f"step {self.step_key} is not partitioned: it has no partition key")
        return self.partition

    @property
    def asset_key(self) -> AssetKey:
        """The key being produced (for a multi-asset, use ``selected_keys``)."""
        if len(self.selected_keys) != 1:
            raise ValueError(f"step {self.step_key} produces several assets; use context.selected_keys")
        return self.selected_keys[0]

    def add_output_metadata(self, metadata: Mapping[str, Any], key: CoercibleToKey | None = None) -> None:
        target = to_key(key) if key is not None else self.asset_key
        self._metadata.setdefault(target, {}).update(metadata)

    def metadata_for(self, key: AssetKey) -> dict[str, Any]:
        return self._metadata.get(key, {})
