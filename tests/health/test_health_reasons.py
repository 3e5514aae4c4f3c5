"""Health reasons stay readable however many root causes a stale asset has."""

from headwater.core.health import MAX_ROOTS_IN_REASON, Health, derive_health
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, MaterializationStatus, StaleCause, StaleCauseKind

K = AssetKey.parse


def _stale(n: int) -> AssetStatus:
    causes = tuple(StaleCause(StaleCauseKind.UPSTREAM_UPDATED, K("x"), K(f"p{i}"), detail=f"p{i} is newer")
                   for i in range(n))
    return AssetStatus(K("x"), MaterializationStatus.MATERIALIZED, stale=True, causes=causes, roots=causes)


def test_a_few_root_causes_are_all_listed():
    h = derive_health(_stale(MAX_ROOTS_IN_REASON), None)
    assert h.health is Health.WARNING
    assert h.reasons == ("stale: " + "; ".join(f"x: p{i} is newer" for i in range(MAX_ROOTS_IN_REASON)),)


def test_many_root_causes_are_cut_and_say_where_to_find_the_rest():
    [reason] = derive_health(_stale(40), None).reasons
    assert reason.count("is newer") == MAX_ROOTS_IN_REASON
    assert reason.endswith("; and more (headwater why x lists every root cause)")
