"""A small partitioned project for the backfill tests: ten daily ``events``, a rolling
three-day window over them, a region split, and an unpartitioned summary of all.

Behaviour is steered through files in ``$HW_BACKFILL_DIR`` so that worker processes obey
the test too: ``fail`` lists partitions of ``events`` that raise, ``hold`` a partition that
waits (writing ``holding``) until ``release`` exists; every build appends a line to
``builds.log``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import headwater as hw
from headwater.core.partition_mappings import AllPartitions, TimeWindowMapping
from headwater.core.partitions import DailyPartitions, MultiPartitions, StaticPartitions
from headwater.definitions.decorators import Dep

daily = DailyPartitions(start="2026-01-01", end="2026-01-11")
regions = StaticPartitions(["eu", "us"])


def _dir() -> Path:
    return Path(os.environ["HW_BACKFILL_DIR"])


def _log(asset: str, partition: str) -> None:
    with open(_dir() / "builds.log", "a") as f:
        f.write(f"{asset}[{partition}] {os.getpid()}\n")


@hw.asset(partitions=daily)
def events(context):  # type: ignore[no-untyped-def]
    key = context.partition_key
    failing = (_dir() / "fail").read_text().split() if (_dir() / "fail").exists() else []
    if key in failing:
        raise RuntimeError(f"no data for {key}")
    hold = _dir() / "hold"
    if hold.exists() and hold.read_text().strip() == key:
        (_dir() / "holding").write_text(str(os.getpid()))
        while not (_dir() / "release").exists():
            time.sleep(0.05)
    _log("events", key)
    return key


@hw.asset(partitions=daily, deps=[Dep("events", mapping=TimeWindowMapping(start_offset=-2))])
def events_3d(context):  # type: ignore[no-untyped-def]
    _log("events_3d", context.partition_key)
    return context.partition_key


@hw.asset(partitions=MultiPartitions(day=daily, region=regions), deps=["events"])
def sales(context):  # type: ignore[no-untyped-def]
    _log("sales", context.partition_key)
    return context.partition_key


@hw.asset(deps=[Dep("events_3d", mapping=AllPartitions())])
def summary(context):  # type: ignore[no-untyped-def]
    _log("summary", "")
    return 1


defs = hw.Definitions(assets=[events, events_3d, sales, summary])
