"""Health reasons stay short and readable however many root causes a stale asset has: a lone
root cause with its detail, else the first few in a few words and where to read the rest."""

from headwater.core.health import MAX_ROOTS_IN_REASON, Health, derive_health
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, MaterializationStatus, StaleCause, StaleCauseKind

K = AssetKey.parse


def _stale(n: int) -> AssetStatus:
    causes = tuple(StaleCause(StaleCauseKind.UPSTREAM_UPDATED, K("x"), K(f"p{i}"), detail=f"p{i} is newer")
                   for i in range(n))
    return AssetStatus(K("x"), MaterializationStatus.MATERIALIZED, stale=True, causes=causes, roots=causes)


def test_a_lone_root_cause_is_told_with_its_detail():
    h = derive_health(_stale(1), None)
    assert h.health is Health.WARNING and h.reasons == ("stale: x: p0 is newer",)


def test_a_few_root_causes_are_all_named_without_their_details():
    h = derive_health(_stale(MAX_ROOTS_IN_REASON), None)
    assert h.health is Health.WARNING
    assert h.reasons == ("stale: " + "; ".join(f"x: upstream p{i} updated" for i in range(MAX_ROOTS_IN_REASON))
                         + " (headwater why x tells each)",)


def test_many_root_causes_are_cut_and_say_where_to_find_the_rest():
    [reason] = derive_health(_stale(40), None).reasons
    assert reason.count("updated") == MAX_ROOTS_IN_REASON and "is newer" not in reason
    assert reason.endswith("; and more (headwater why x lists every root cause)")


def test_each_kind_has_its_words():
    causes = (StaleCause(StaleCauseKind.CODE_CHANGED, K("a"), detail="code version changed from '1' to '2'"),
              StaleCause(StaleCauseKind.DEPS_CHANGED, K("b"), detail="declared upstream assets changed: added c"),
              StaleCause(StaleCauseKind.UPSTREAM_STALE, K("d"), K("e"), detail="e is stale"))
    st = AssetStatus(K("x"), MaterializationStatus.MATERIALIZED, stale=True, causes=causes, roots=causes)
    assert derive_health(st, None).reasons == (
        "stale: a: code changed; b: declared upstream assets changed; d: upstream e stale "
        "(headwater why x tells each)",)
