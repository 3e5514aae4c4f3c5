"""Status in plain words: the causal chain behind ``headwater why``.

Pure text from an ``AssetStatus`` (and its parents'): no printing, no colour, so the
CLI, the web UI and tests all say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from headwater.core.events import InputState
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, MaterializationStatus, StaleCause, StaleCauseKind


def format_time(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def explain(status: AssetStatus, statuses: Mapping[AssetKey, AssetStatus],
            fmt: Callable[[float | None], str] = format_time) -> list[str]:
    """Lines of text, indented by two spaces per level of the causal chain."""
    key = status.key
    lines: list[str] = []
    mat = status.last_materialization
    if status.is_source:
        if status.status is MaterializationStatus.OBSERVED:
            lines.append(f"{key} is a source asset, last observed at {fmt(status.last_updated_at)} "
                         f"(data version {status.data_version}, data time {fmt(status.data_time)}).")
        else:
            lines.append(f"{key} is a source asset that has never been observed, so its version is unknown.")
        return lines
    if status.status is MaterializationStatus.RUNNING:
        lines.append(f"{key} is being materialized right now by run {status.last_attempt_run_id}.")
    elif status.status is MaterializationStatus.FAILED:
        msg = status.failure.message if status.failure else "unknown error"
        when = f"after its last success at {fmt(mat.timestamp)}" if mat else "and it has never succeeded"
        lines.append(f"{key} failed: the latest attempt (run {status.last_attempt_run_id}) failed {when}.")
        lines.append(f"  error: {msg}")
    elif mat is None:
        lines.append(f"{key} is missing: it has never been materialized.")
    if mat is not None:
        stale = " but is stale" if status.stale else ""
        lines.append(f"{key} was last materialized at {fmt(mat.timestamp)} by run {mat.run_id} "
                     f"(data version {mat.data_version}){stale}.")
    if status.stale:
        lines.append(f"{key} is stale because:")
        for cause in status.causes:
            _cause(cause, statuses, lines, 1)
        roots = status.root_causes()
        if any(c.kind is StaleCauseKind.UPSTREAM_STALE for c in status.causes):
            lines.append("root cause" + ("s" if len(roots) > 1 else "") + ": "
                         + "; ".join(f"{r.key}: {r.detail}" for r in roots))
    elif mat is not None and status.status is MaterializationStatus.MATERIALIZED:
        lines.append(f"{key} is up to date with its code and all of its upstream assets.")
    if mat is not None and mat.inputs:
        bad = [i for i in mat.inputs if i.state is not InputState.OK]
        if bad:
            lines.append("its last materialization ran on stale inputs:")
            for i in bad:
                extra = f" ({i.detail})" if i.detail else ""
                lines.append(f"  - {i.key} was {i.state.value} when it was read{extra}")
        else:
            lines.append("every upstream input was current when its last materialization read it.")
    return lines


def _cause(cause: StaleCause, statuses: Mapping[AssetKey, AssetStatus], lines: list[str], depth: int) -> None:
    pad = "  " * depth
    if cause.kind is StaleCauseKind.UPSTREAM_STALE:
        lines.append(f"{pad}- upstream {cause.dep} is stale, because:")
        for child in cause.children:
            _cause(child, statuses, lines, depth + 1)
    elif cause.kind is StaleCauseKind.UPSTREAM_UPDATED:
        lines.append(f"{pad}- upstream {cause.dep} was updated since {cause.key} read it: {cause.detail}")
    elif cause.kind is StaleCauseKind.CODE_CHANGED:
        lines.append(f"{pad}- {cause.key}: its {cause.detail}")
    else:
        lines.append(f"{pad}- {cause.key}: its {cause.detail}")
