"""Pydantic models: the OpenAPI description of the JSON API (requests validated, responses
documented). Asset rows are ``status --json`` rows (``reports.health_to_dict``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Cause(BaseModel):
    kind: str
    key: str
    dep: str | None = None
    detail: str


class CauseRef(BaseModel):
    """A cause in an asset row: what and where; ``GET /api/assets/KEY``'s ``why`` says it in words."""

    kind: str = Field(description="code_changed, deps_changed, upstream_updated, upstream_stale")
    key: str = Field(description="the asset whose cause it is")
    dep: str | None = Field(default=None, description="the upstream asset it came through (upstream_*)")


class Freshness(BaseModel):
    state: str
    policy: str
    overdue_since: str | None
    late_by_seconds: float | None
    next_deadline: str | None
    reason: str


class CheckState(BaseModel):
    name: str
    state: str
    severity: str
    blocking: bool
    evaluated_at: str | None
    run_id: str | None
    detail: str
    metadata: dict[str, Any]


class AssetRow(BaseModel):
    """One asset, exactly as ``headwater status --json`` prints it (plus ``cut``)."""

    key: str
    group: str
    kinds: list[str]
    owners: list[str] = Field(default_factory=list, description="who owns the asset (its definition's owners)")
    tags: dict[str, str] = Field(default_factory=dict, description="the definition's tags")
    is_source: bool
    status: str = Field(description="missing, running, failed, skipped (the latest attempt was skipped because "
                                    "something upstream failed: ``error`` says what), materialized; a source: "
                                    "observed or unobserved")
    stale: bool
    stale_causes: list[CauseRef] = Field(description="the first few direct causes (one of each kind among them)")
    stale_cause_count: int = Field(description="how many direct causes there are")
    stale_root_causes: list[CauseRef] = Field(description="the first few causes at the bottom of its chains "
                                                          "(``cut`` names this field when there are more)")
    last_materialized_at: str | None
    last_observed_at: str | None
    run_id: str | None
    last_attempt_run_id: str | None
    data_version: str | None
    data_time: str | None
    code_version: str | None
    ran_on_stale_inputs: bool
    error: str | None
    partitions: dict[str, int | str] | None = Field(
        default=None, description="a partitioned asset's counts by state and their summary "
                                  "(`331/338 materialized · 2 failed · 5 missing · 1 stale`); null when unpartitioned")
    health: Literal["healthy", "warning", "degraded", "unknown"]
    health_reasons: list[str]
    freshness: Freshness | None
    overdue_since: str | None
    checks: list[CheckState]
    cut: list[str] = Field(default=[], description="fields shortened in this row (absent with full=true)")


class ChangedAsset(BaseModel):
    key: str
    group: str
    health: Literal["healthy", "warning", "degraded", "unknown"]
    status: str
    stale: bool
    last_updated_at: str | None = Field(description="materialized (a source: observed) at")
    freshness: str | None
    failing_checks: list[str]
    reasons: list[str] = Field(default_factory=list, description="the health's reasons, in words")


class Changes(BaseModel):
    cursor: str = Field(description="poll again with ?since= this")
    as_of: str | None
    full: bool = Field(description="true: every asset is listed (no cursor, or one too old or from before a restart)")
    changed: int = Field(description="how many assets changed (0: nothing to do)")
    assets: list[ChangedAsset]


class ChangedNode(BaseModel):
    id: str
    class_: str = Field(alias="class")
    body: str = Field(description="the SVG inside the node's <g>, escaped")
    tip: str


class GraphChanges(BaseModel):
    cursor: str
    as_of: str | None
    full: bool
    changed: int = Field(description="how many assets changed, on the page or not (0: nothing to do)")
    nodes: list[ChangedNode]
    summary: dict[str, int] | None = Field(default=None, description="assets shown per health (when nodes changed)")
    shown: int | None = None
    total: int | None = None
    shape: str | None = Field(default=None, description="names the set of nodes drawn; another shape than the "
                                                        "page's means its layout is out of date")


class Event(BaseModel):
    id: int | None = None
    type: str
    time: str
    timestamp: float | None = None
    data: dict[str, Any]
    text: str | None = None
    level: str | None = None


class Definition(BaseModel):
    key: str
    group: str
    description: str | None
    code_version: str | None
    owners: list[str]
    tags: dict[str, str]
    kinds: list[str]
    deps: list[str]
    is_source: bool
    source_file: str | None
    source_line: int | None
    freshness_policy: str | None
    automation: str | None
    checks: list[dict[str, Any]]
    metadata: dict[str, Any]


class LineageNode(BaseModel):
    key: str
    direction: Literal["self", "upstream", "downstream"]
    health: str
    status: str


class Lineage(BaseModel):
    nodes: list[LineageNode]
    edges: list[list[str]]


class ColumnLineageRow(BaseModel):
    column: str
    direct: list[str]
    upstream: list[str]
    unresolved: list[str]


class ColumnLineage(BaseModel):
    """Where each column of a dbt model comes from (null for assets that are not dbt nodes)."""

    columns: list[ColumnLineageRow]
    error: str | None
    note: str | None = None


class InputRead(BaseModel):
    key: str
    state: str
    data_version: str | None
    detail: str


class AttemptOut(BaseModel):
    run_id: str
    step_key: str
    state: Literal["failed", "skipped"]
    time: str | None
    timestamp: float
    duration: float | None
    message: str


class LogLine(BaseModel):
    time: str | None
    level: str
    message: str


class CauseOut(BaseModel):
    state: Literal["failed", "skipped"]
    run_id: str
    step_key: str | None
    message: str
    traceback: str
    upstream: str | None = Field(description="for a skip: the upstream asset whose failure caused it")
    logs: list[LogLine] = Field(description="the failing step's last log lines")


class AssetDetail(BaseModel):
    asset: AssetRow
    definition: Definition
    why: list[str]
    ran_on_stale_inputs: list[InputRead]
    materializations: list[Event]
    observations: list[Event]
    check_history: dict[str, list[Event]]
    lineage: Lineage
    as_of: str
    attempts: list[AttemptOut] = Field(default_factory=list, description="failed and skipped attempts, newest first")
    latest_cause: CauseOut | None = Field(default=None, description="why the latest attempt produced nothing "
                                                                    "(a failed or skipped status)")
    column_lineage: ColumnLineage | None = None


class Run(BaseModel):
    run_id: str
    status: str
    selection: str
    asset_keys: list[str]
    tags: dict[str, str]
    parent_run_id: str | None
    executor: str
    started_at: str | None
    ended_at: str | None
    duration: float | None
    reason: str
    cancel_requested_at: str | None = Field(default=None, description="when a cancel was first asked of the "
                                                                      "run while it ran")
    waiting: str | None = None  # a queued run: its place in the queue and what holds it back


class Step(BaseModel):
    step_key: str
    status: str
    asset_keys: list[str]
    attempt: int
    started_at: str | None
    ended_at: str | None
    error: str | None
    detail: str


class RunDetail(Run):
    steps: list[Step]


class EventsPage(BaseModel):
    run_id: str
    status: str
    events: list[Event]
    last_id: int


class GraphNode(BaseModel):
    id: str
    x: float
    y: float
    w: float
    h: float
    group: str
    group_box: bool
    members: int
    health: str | None = None
    status: str | None = None
    counts: dict[str, int] = {}


class GraphLane(BaseModel):
    group: str
    x: float
    y: float
    w: float
    h: float
    size: int
    collapsed: bool


class GraphEdge(BaseModel):
    source: str
    target: str


class GraphOut(BaseModel):
    nodes: list[GraphNode]
    lanes: list[GraphLane]
    edges: list[GraphEdge]
    width: float
    height: float
    as_of: str


class Instigator(BaseModel):
    kind: str
    name: str
    enabled: bool
    detail: str
    target: str
    last_tick: str | None
    last_status: str | None
    next_time: str | None
    cursor: str | None


class Automation(BaseModel):
    schedules: list[Instigator]
    sensors: list[Instigator]


class Tick(BaseModel):
    instigator: str
    status: str
    time: str
    tick_time: str | None
    run_ids: list[str]
    run_keys: list[str]
    skip_reason: str
    error: str | None


class Session(BaseModel):
    csrf_token: str
    read_only: bool
    token_required: bool
    authenticated: bool


# -- requests ---------------------------------------------------------------------------------


class Target(BaseModel):
    """An exact asset key, or a selection in the selection language (docs/selection.md)."""

    key: str | None = Field(default=None, max_length=1000)
    selection: str | None = Field(default=None, max_length=10_000)


class CatalogMatch(BaseModel):
    """Every asset the catalog lists for these filters (its "select all matching")."""

    select: str | None = Field(default=None, max_length=10_000)
    health: str | None = Field(default=None, max_length=20)
    status: str | None = Field(default=None, max_length=20)
    q: str | None = Field(default=None, max_length=1000)


class MaterializeRequest(Target):
    downstream: bool = Field(default=False, description="the target and everything downstream of it "
                                                        "(with a selection too)")
    mode: Literal["all", "stale", "missing"] = Field(default="all", description="all, or only the stale ones, "
                                                                                "or only the missing ones")
    keys: list[str] | None = Field(default=None, max_length=100_000, description="exact asset keys (a selection "
                                                                                   "made on the graph or catalog)")
    match: CatalogMatch | None = None
    tags: dict[str, str] = Field(default_factory=dict, max_length=50, description="run tags")
    executor: str | None = Field(default=None, max_length=50, description="in_process or multiprocess; the "
                                                                          "worker's default when absent")


class ToggleRequest(BaseModel):
    enabled: bool


class RunResponse(BaseModel):
    run: Run


class CancelResponse(BaseModel):
    run: Run
    requested: bool  # the run was started: its coordinator stops it (follow the run); else it ended here


class ObserveResponse(BaseModel):
    observed: list[Event]
    failures: list[str]


class CheckResponse(BaseModel):
    results: list[Event]


class ToggleResponse(BaseModel):
    kind: str
    name: str
    enabled: bool


class Problem(BaseModel):
    detail: str
