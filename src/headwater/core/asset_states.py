"""Which assets are in which state now: the input ``status:`` selection terms resolve against.

Kept apart from the selection language because it reads health, which the language must not
depend on (the language resolves against any mapping of state name to keys), and apart from
health because it only sorts assets into the selection vocabulary, deriving nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from headwater.core.freshness import FreshnessState
from headwater.core.health import AssetHealth, Health
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.status import AssetStatus, MaterializationStatus

__all__ = ["is_skipped", "state_index"]

def is_skipped(status: AssetStatus, fact: AssetFacts | None) -> bool:
    """The latest attempt was skipped (an upstream failed, the run was canceled) and nothing
    succeeded since: status shows such an asset as it was before (missing or materialized),
    so the attempt is read from the stored facts."""
    if fact is None or fact.last_attempt_status is not AttemptStatus.SKIPPED or fact.last_attempt_at is None:
        return False
    mat = status.last_materialization
    return mat is None or fact.last_attempt_at >= mat.timestamp


def state_index(healths: Iterable[AssetHealth],
                facts: Mapping[AssetKey, AssetFacts] | None = None) -> dict[str, frozenset[AssetKey]]:
    """State name (``selection.STATES``) -> the keys in that state.

    failed: the latest attempt failed; skipped: it was skipped (needs ``facts``); missing:
    never materialized (or a source never observed); stale: materialized but stale;
    overdue: its data time misses the freshness policy; degraded: health says degraded.
    """
    out: dict[str, set[AssetKey]] = {n: set() for n in
                                     ("failed", "stale", "missing", "skipped", "overdue", "degraded")}
    facts = facts or {}
    for h in healths:
        st = h.status
        if st.status is MaterializationStatus.FAILED:
            out["failed"].add(st.key)
        elif st.status in (MaterializationStatus.MISSING, MaterializationStatus.UNOBSERVED):
            out["missing"].add(st.key)
        if is_skipped(st, facts.get(st.key)):
            out["skipped"].add(st.key)
        if st.stale:
            out["stale"].add(st.key)
        if h.freshness is not None and h.freshness.state is FreshnessState.OVERDUE:
            out["overdue"].add(st.key)
        if h.health is Health.DEGRADED:
            out["degraded"].add(st.key)
    return {name: frozenset(keys) for name, keys in out.items()}
