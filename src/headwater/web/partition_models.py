"""Pydantic models of the partition endpoints (``partition_api.py``): requests validated,
responses described in ``/openapi.json`` like the rest of the API (``models.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from headwater.web.models import Cause, CheckState, Event, Run

State = Literal["materialized", "missing", "failed", "running", "stale"]


class PartitionCounts(BaseModel):
    """The roll-up of a partitioned asset: ``331/338 materialized · 2 failed · 5 missing · 1 stale``."""

    total: int
    materialized: int
    missing: int
    failed: int
    running: int
    stale: int = Field(description="materialized partitions that are stale (counted in materialized too)")
    summary: str


class Dimension(BaseModel):
    name: str = Field(description="'' for a one-dimensional definition")
    description: str
    kind: str = Field(description="time, static or dynamic")
    count: int = Field(description="keys it has now")


class PartitionsDefinitionOut(BaseModel):
    description: str
    dimensions: list[Dimension]


class PartitionRow(BaseModel):
    partition: str
    address: str = Field(description="asset[partition], the key syntax the CLI, API and selection share")
    dimensions: dict[str, str] = Field(description="the key of each dimension (multi-dimensional only)")
    status: str = Field(description="missing, running, failed or materialized")
    state: State = Field(description="the strip's state: the status, or stale for a stale materialized partition")
    stale: bool
    stale_causes: list[Cause]
    reason: str = Field(description="one line: why it is in its state")
    error: str | None
    last_materialized_at: str | None
    run_id: str | None
    last_attempt_run_id: str | None
    data_version: str | None
    data_time: str | None
    ran_on_stale_inputs: bool


class StripCell(BaseModel):
    first: str = Field(description="the first partition (or column key) the cell covers")
    last: str
    count: int
    state: State = Field(description="its state, or the worst state inside an aggregated cell")
    title: str
    href: str = Field(description="the partition's page, or the strip zoomed into the cell's range")


class StripOut(BaseModel):
    """The strip as the UI draws it: a cell per partition, or per bucket past 2,000."""

    bucket: str | None = Field(description="null: a cell per partition; else day, week, month, year or 'N keys'")
    shown: int
    total: int
    counts: dict[str, int]
    from_: str | None = Field(alias="from")
    to: str | None
    columns: str | None = Field(description="the dimension along the columns of a heat-map")
    cells: list[StripCell]


class PartitionsPage(BaseModel):
    key: str
    definition: PartitionsDefinitionOut
    counts: dict[str, int]
    summary: str
    status: str = Field(description="the asset's rolled-up status")
    matching: int = Field(description="partitions matching the state filter (all of them without one)")
    offset: int
    limit: int
    partitions: list[PartitionRow]
    strip: StripOut | None = Field(default=None, description="with ?strip=true")
    as_of: str | None


class UpstreamPartition(BaseModel):
    address: str
    state: str


class UpstreamRead(BaseModel):
    key: str
    mapping: str
    total: int = Field(description="partitions of the parent this partition reads")
    counts: dict[str, int]
    partitions: list[UpstreamPartition] = Field(description="the first few, troubled ones first")


class TimeWindowOut(BaseModel):
    start: str | None
    end: str | None


class PartitionDetail(BaseModel):
    key: str
    partition: PartitionRow
    time_window: TimeWindowOut | None
    why: list[str]
    upstream: list[UpstreamRead]
    materializations: list[Event]
    checks: list[CheckState]
    check_history: dict[str, list[Event]]
    previous: str | None
    next: str | None
    asset_summary: str | None
    as_of: str | None


class MaterializePartitionsRequest(BaseModel):
    """Which partitions of one asset to build: keys, or a range, optionally only those missing
    or failed (or stale); or only those, over every partition."""

    key: str = Field(max_length=1000)
    partitions: list[str] = Field(default=[], max_length=100_000, description="partition keys")
    from_: str | None = Field(default=None, alias="from", max_length=1000, description="first key of a range")
    to: str | None = Field(default=None, max_length=1000, description="last key of a range (inclusive)")
    only: str | None = Field(default=None, max_length=100, description="missing, failed, stale, or several: "
                                                                       "'missing,failed'")
    downstream: bool = Field(default=False, description="and the downstream partitions that read them")

    model_config = {"populate_by_name": True}


class MaterializePartitionsResponse(BaseModel):
    run: Run
    partitions: list[str] = Field(description="the partitions the run builds (of the asset asked for)")
    count: int

