"""``root_cause_counts`` is the number of root causes ``AssetStatus.roots`` derives, for every
stale asset of random histories, and for a subset asked for alone."""

from headwater.core.root_counts import root_cause_counts
from headwater.core.status import compute_statuses

from .test_status import _random_history


def test_counts_are_the_lengths_of_the_derived_roots():
    biggest = 0
    for seed in range(30):
        g, f = _random_history(seed)
        statuses = compute_statuses(g, f)
        counts = root_cause_counts(statuses)
        assert counts == {k: len(s.root_causes()) for k, s in statuses.items() if s.stale}
        wanted = [k for k in list(counts)[::3]]
        assert root_cause_counts(statuses, wanted) == {k: counts[k] for k in wanted}
        biggest = max(biggest, *counts.values(), 0)
    assert biggest > 8  # shared causes reached through several paths were counted once


def test_nothing_stale_counts_nothing():
    g, f = _random_history(0)
    statuses = {k: s for k, s in compute_statuses(g, f).items() if not s.stale}
    assert root_cause_counts(statuses) == {}


def test_counted_a_few_root_causes_at_a_time_the_counts_are_the_same(monkeypatch):
    """Many passes of a narrow window (a big graph's root causes are counted 16,384 at a
    time, each pass holding only its window's bits) add up to the counts of one pass."""
    from headwater.core import root_counts

    for seed in range(30):
        g, f = _random_history(seed)
        statuses = compute_statuses(g, f)
        whole = root_cause_counts(statuses)
        for window in (1, 2, 5):
            monkeypatch.setattr(root_counts, "WINDOW", window)
            assert root_cause_counts(statuses) == whole == {k: len(s.root_causes()) for k, s in statuses.items()
                                                             if s.stale}
            monkeypatch.undo()
