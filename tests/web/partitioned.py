"""A small partitioned project for the partition UI tests: ten days of ``events`` (a day
fails while its FAIL-<day> file exists; its data version is the VERSION file's text),
``sales`` by day × region, a rolling week over events, and an unpartitioned summary of all
days. ``seed`` gives it a history with every state: materialized, failed, missing, stale."""

from __future__ import annotations

from pathlib import Path

from headwater.definitions.loader import DefinitionsLocation

from .conftest import Web

PIPELINE = '''
from pathlib import Path

import headwater as hw
from headwater.core.partition_mappings import AllPartitions, TimeWindowMapping
from headwater.core.partitions import DailyPartitions, MultiPartitions, StaticPartitions
from headwater.definitions.decorators import Dep

HERE = Path(__file__).parent
daily = DailyPartitions(start="2026-03-01", end="2026-03-11")
regions = StaticPartitions(["eu", "us", "apac"])


@hw.asset(partitions=daily, code_version="1", group="raw")
def events(context):
    day = context.partition_key
    if (HERE / ("FAIL-" + day)).exists():
        raise RuntimeError("no events landed for " + day)
    version = (HERE / "VERSION").read_text().strip()
    return hw.Output(day, data_version=day + ":" + version, metadata={"rows": 100})


@hw.asset(partitions=MultiPartitions(day=daily, region=regions), deps=["events"], group="marts")
def sales(context):
    return context.partition_key


@hw.asset(partitions=daily, deps=[Dep("events", mapping=TimeWindowMapping(start_offset=-6))], group="marts")
def events_7d(context):
    return context.partition_key


@hw.asset(deps=[Dep("events", mapping=AllPartitions())], group="marts")
def summary():
    return 1


@hw.check(asset="events")
def events_not_empty(events) -> hw.CheckResult:
    return hw.CheckResult(passed=True, metadata={"day": events})


defs = hw.Definitions(assets=[events, sales, events_7d, summary], checks=[events_not_empty])
'''


def partitioned_web(folder: Path, **config) -> Web:
    from headwater.web import UiConfig

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.py").write_text(PIPELINE)
    (folder / "VERSION").write_text("v1")
    location = DefinitionsLocation(file=str(folder / "pipeline.py"), working_dir=str(folder))
    config.setdefault("launch", "queue")
    return Web(folder, location, UiConfig(**config))


def seed(web: Web) -> None:
    """events: 03-01..03-05 materialized, 03-06 failed, the rest missing; sales of 03-01|eu
    and 03-02|us; then events[2026-03-02] gets a new version, so sales[2026-03-02|us] is stale."""
    inst, defs = web.instance, web.defs
    assert inst.materialize(defs, "events", partition_range=("2026-03-01", "2026-03-05")).success
    (web.folder / "FAIL-2026-03-06").write_text("")
    assert not inst.materialize(defs, "events", partition="2026-03-06").success
    (web.folder / "FAIL-2026-03-06").unlink()
    assert inst.materialize(defs, "sales", partition=["2026-03-01|eu", "2026-03-02|us"]).success
    (web.folder / "VERSION").write_text("v2")
    assert inst.materialize(defs, "events", partition="2026-03-02").success

