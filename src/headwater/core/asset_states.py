"""Which assets are in which state now: the input ``status:`` selection terms resolve against.

Kept apart from the selection language because it reads health, which the language must not
depend on (the language resolves against any mapping of state name to keys), and apart from
health because it only sorts assets into the selection vocabulary, deriving nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable

from headwater.core.freshness import FreshnessState
from headwater.core.health import AssetHealth, Health
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, MaterializationStatus

__all__ = ["is_skipped", "state_index"]

# The error kept for a skipped attempt carries this type name (storage writes it so): a
# skipped attempt after the last success counts as "failed" in status, but it did not fail.
SKIPPED_TYPE = "skipped"


def is_skipped(status: AssetStatus) -> bool:
    """The latest attempt was skipped (an upstream failed or the run was canceled)."""
    return (status.status is MaterializationStatus.FAILED and status.failure is not None
            and status.failure.type_name == SKIPPED_TYPE)


def state_index(healths: Iterable[AssetHealth]) -> dict[str, frozenset[AssetKey]]:
    """State name (``selection.STATES``) -> the keys in that state.

    failed: the latest attempt failed (not skipped); skipped: it was skipped; missing: never
    materialized (or a source never observed); stale: materialized but stale; overdue: its
    data time misses the freshness policy; degraded: health says degraded.
    """
    out: dict[str, set[AssetKey]] = {n: set() for n in
                                     ("failed", "stale", "missing", "skipped", "overdue", "degraded")}
    for h in healths:
        st = h.status
        if st.status is MaterializationStatus.FAILED:
            out["skipped" if is_skipped(st) else "failed"].add(st.key)
        elif st.status in (MaterializationStatus.MISSING, MaterializationStatus.UNOBSERVED):
            out["missing"].add(st.key)
        if st.stale:
            out["stale"].add(st.key)
        if h.freshness is not None and h.freshness.state is FreshnessState.OVERDUE:
            out["overdue"].add(st.key)
        if h.health is Health.DEGRADED:
            out["degraded"].add(st.key)
    return {name: frozenset(keys) for name, keys in out.items()}
