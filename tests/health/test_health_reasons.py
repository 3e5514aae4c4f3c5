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
    assert h.reasons == ("stale: upstream " + ", ".join(f"p{i}" for i in range(MAX_ROOTS_IN_REASON))
                         + " updated (headwater why x)",)


def test_many_root_causes_are_cut_and_say_where_to_find_the_rest():
    [reason] = derive_health(_stale(40), None).reasons
    assert reason == ("stale: upstream " + ", ".join(f"p{i}" for i in range(MAX_ROOTS_IN_REASON))
                      + " updated, and more (headwater why x)")


def test_root_causes_are_named_by_kind_in_the_order_met():
    causes = (StaleCause(StaleCauseKind.CODE_CHANGED, K("a"), detail="code version changed from '1' to '2'"),
              StaleCause(StaleCauseKind.UPSTREAM_UPDATED, K("b"), K("c"), detail="c has a new data version"),
              StaleCause(StaleCauseKind.DEPS_CHANGED, K("d"), detail="declared upstream assets changed: added e"),
              StaleCause(StaleCauseKind.CODE_CHANGED, K("f"), detail="code version changed from '1' to '2'"))
    st = AssetStatus(K("x"), MaterializationStatus.MATERIALIZED, stale=True, causes=causes, roots=causes)
    assert derive_health(st, None).reasons == (
        "stale: code of a changed; upstream c updated; declared upstream assets of d changed, and more "
        "(headwater why x)",)
    st = AssetStatus(K("x"), MaterializationStatus.MATERIALIZED, stale=True, causes=causes, roots=causes[::3])
    assert derive_health(st, None).reasons == ("stale: code of a, f changed (headwater why x)",)
