"""Status in plain words: the causal chains behind ``headwater why``.

Pure text from the assessed health of the graph (and the stored facts): no printing,
no colour, so the CLI, the web UI and tests all say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized, InputState
from headwater.core.freshness import FreshnessState
from headwater.core.health import AssetHealth, Health
from headwater.core.keys import AssetKey
from headwater.core.partitions import format_partitioned_key
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.status import AssetStatus, MaterializationStatus, StaleCause, StaleCauseKind, bad_inputs


def format_time(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds >= 3600:
        h, rest = divmod(int(seconds), 3600)
        return f"{h}h{rest // 60:02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m"
    return f"{seconds:.0f}s"


def explain(health: AssetHealth, healths: Mapping[AssetKey, AssetHealth], graph: AssetGraph,
            facts: Mapping[AssetKey, AssetFacts], now: float) -> list[str]:
    """Lines of text; nested causes are indented by two spaces per level."""
    status = health.status
    statuses = {k: h.status for k, h in healths.items()}
    lines = [f"{status.key}: {health.health.value}"
             + (" — " + "; ".join(health.reasons) if health.health is not Health.HEALTHY else "")]
    lines += explain_status(status, statuses)
    lines += _skipped(status, facts.get(status.key))
    lines += _freshness(health, statuses, graph, facts, now)
    for c in health.checks:
        when = f" at {format_time(c.evaluated_at)}" if c.evaluated_at else ""
        detail = f": {c.detail}" if c.detail else ""
        lines.append(f"check {c.name} ({c.severity}{', blocking' if c.blocking else ''}): {c.state.value}"
                     f"{when}{detail}")
    return lines


def explain_status(status: AssetStatus, statuses: Mapping[AssetKey, AssetStatus]) -> list[str]:
    key = format_partitioned_key(status.key, status.partition)
    lines: list[str] = []
    if status.partitions is not None:
        lines += explain_partitions(status)
    mat = status.last_materialization
    if status.is_source:
        if status.status is MaterializationStatus.OBSERVED:
            lines.append(f"{key} is a source asset, last observed at {format_time(status.last_updated_at)} "
                         f"(data version {status.data_version}, data time {format_time(status.data_time)}).")
        else:
            lines.append(f"{key} is a source asset that has never been observed, so its version is unknown.")
        return lines
    if status.status is MaterializationStatus.RUNNING:
        lines.append(f"{key} is being materialized right now by run {status.last_attempt_run_id}.")
    elif status.status is MaterializationStatus.FAILED:
        msg = status.failure.message if status.failure else "unknown error"
        when = f"after its last success at {format_time(mat.timestamp)}" if mat else "and it has never succeeded"
        lines.append(f"{key} failed: the latest attempt (run {status.last_attempt_run_id}) failed {when}.")
        lines.append(f"  error: {msg}")
    elif mat is None:
        lines.append(f"{key} is missing: it has never been materialized.")
    if mat is not None:
        stale = " but is stale" if status.stale else ""
        lines.append(f"{key} was last materialized at {format_time(mat.timestamp)} by run {mat.run_id} "
                     f"(data version {mat.data_version}){stale}.")
    if status.stale:
        lines.append(f"{key} is stale because:")
        for cause in status.causes:
            _cause(cause, lines, 1)
        roots = status.root_causes()
        if any(c.kind is StaleCauseKind.UPSTREAM_STALE for c in status.causes):
            lines.append("root cause" + ("s" if len(roots) > 1 else "") + ": "
                         + "; ".join(f"{r.key}: {r.detail}" for r in roots))
    elif mat is not None and status.status is MaterializationStatus.MATERIALIZED:
        lines.append(f"{key} is up to date with its code and all of its upstream assets.")
    if mat is not None and mat.inputs:
        bad = [i for i in mat.inputs if i.state is not InputState.OK]
        if bad and any(i.partition for i in bad):
            lines.append("its last materialization ran on stale inputs:")
            lines.extend(f"  - {line}" for line in bad_inputs(mat, shown=5))
        elif bad:
            lines.append("its last materialization ran on stale inputs:")
            for i in bad:
                extra = f" ({i.detail})" if i.detail else ""
                lines.append(f"  - {i.key} was {i.state.value} when it was read{extra}")
        else:
            lines.append("every upstream input was current when its last materialization read it.")
    return lines


def explain_partitions(status: AssetStatus, shown: int = 5) -> list[str]:
    """A partitioned asset's roll-up in words, naming the first partitions in each bad state."""
    ps = status.partitions
    lines = [f"{status.key} has {ps.total} partition(s): {ps.summary()}."]
    for state in ("failed", "running", "missing", "stale"):
        keys = ps.with_state(state)
        if keys:
            more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
            lines.append(f"  {state}: " + ", ".join(keys[:shown]) + more
                         + f" (headwater why '{status.key}[{keys[0]}]')")
    return lines


def _skipped(status: AssetStatus, fact: AssetFacts | None) -> list[str]:
    """A skipped attempt is no failure (the status does not change), but it is why the asset
    is not newer: say so, with the reason the run recorded."""
    if fact is None or fact.last_attempt_status is not AttemptStatus.SKIPPED or fact.last_attempt_at is None:
        return []
    mat = status.last_materialization
    if mat is not None and fact.last_attempt_at < mat.timestamp:
        return []
    why = fact.last_failure.message if fact.last_failure is not None else "something upstream of it failed"
    return [f"its latest attempt (run {fact.last_attempt_run_id}, at {format_time(fact.last_attempt_at)}) "
            f"was skipped: {why}."]


def _cause(cause: StaleCause, lines: list[str], depth: int) -> None:
    pad = "  " * depth
    if cause.kind is StaleCauseKind.UPSTREAM_STALE:
        lines.append(f"{pad}- upstream {cause.dep} is stale, because:")
        for child in cause.children:
            _cause(child, lines, depth + 1)
    elif cause.kind is StaleCauseKind.UPSTREAM_UPDATED:
        lines.append(f"{pad}- upstream {cause.dep} was updated since {cause.key} read it: {cause.detail}")
    else:
        lines.append(f"{pad}- {cause.key}: its {cause.detail}")


def _freshness(health: AssetHealth, statuses: Mapping[AssetKey, AssetStatus], graph: AssetGraph,
               facts: Mapping[AssetKey, AssetFacts], now: float) -> list[str]:
    fresh = health.freshness
    if fresh is None:
        return []
    key = health.key
    policy = f"policy: {fresh.policy.describe()}"
    if fresh.state is FreshnessState.UNKNOWN:
        return [f"freshness unknown ({policy}): {fresh.reason}."]
    lines = []
    if fresh.state is FreshnessState.OVERDUE:
        since = fresh.overdue_since
        lines.append(f"{key} is overdue since {format_time(since)} ({format_duration(now - since)} ago) — "
                     f"{policy}: {fresh.reason}.")
    elif fresh.state is FreshnessState.WARN:
        lines.append(f"{key} freshness warning — {policy}: {fresh.reason}.")
    else:
        nxt = f"; it becomes overdue at {format_time(fresh.next_deadline)} unless newer data arrives" \
            if fresh.next_deadline else ""
        lines.append(f"{key} is fresh — {policy}: {fresh.reason}{nxt}.")
    lines += _data_time_origin(key, statuses, graph, facts)
    return lines


def _data_time_origin(key: AssetKey, statuses: Mapping[AssetKey, AssetStatus], graph: AssetGraph,
                      facts: Mapping[AssetKey, AssetFacts]) -> list[str]:
    """Follow the oldest input back to where the data time came from, and say what happened there."""
    status = statuses[key]
    if status.is_source:
        return [f"its data time is {format_time(status.data_time)}, as last observed"
                + _checked(facts.get(key), status) + "."]
    mat = status.last_materialization
    if mat is None:
        return []
    chain: list[AssetKey] = []
    reader: AssetMaterialized = mat
    origin = None
    while True:
        oldest = min((i for i in reader.inputs if i.data_time is not None and i.data_time == reader.data_time),
                     key=lambda i: str(i.key), default=None)
        if oldest is None:
            break
        chain.append(oldest.key)
        origin = oldest
        up = statuses.get(oldest.key)
        if up is None or up.is_source or up.last_materialization is None \
                or up.last_materialization.data_time != oldest.data_time:
            break
        reader = up.last_materialization
    if origin is None:
        return [f"its data time is {format_time(mat.data_time)}: its own materialization time (no input "
                "carried an older one)."]
    lines = [f"its data time is {format_time(mat.data_time)}, inherited from " + " <- ".join(map(str, chain)) + "."]
    src = statuses.get(origin.key)
    if src is not None and src.is_source:
        lines.append(f"{origin.key}: last observed data time {format_time(src.data_time)}"
                     + _checked(facts.get(origin.key), src) + ".")
    if src is not None and src.data_time is not None and origin.data_time is not None \
            and src.data_time > origin.data_time:
        lines.append(f"run {reader.run_id} (at {format_time(reader.timestamp)}) read {origin.key} before its "
                     f"newer data (data time {format_time(src.data_time)}) arrived at "
                     f"{format_time(src.last_updated_at)}; materialize again to catch up.")
    elif src is not None and src.is_source:
        lines.append(f"{origin.key} has delivered nothing newer since: the delay is upstream of Headwater.")
    return lines


def _checked(fact: AssetFacts | None, status: AssetStatus) -> str:
    at = fact.last_observation_checked_at if fact else None
    at = at or status.last_updated_at
    return f" (last observed at {format_time(at)})" if at else ""
