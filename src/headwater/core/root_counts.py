"""How many root causes each stale asset has, without listing them.

``status --json`` gives each stale asset its first few root causes and how many there are
(the whole list stays one ``headwater why`` away): listing all of them made the output grow
with the number of paths through the graph (291 MB for 10,000 assets). Counting them by
deriving every asset's list costs as much as the lists themselves; this counts them as
bit sets instead: each distinct root cause gets one bit, an asset's set is the OR of its own
root causes and of the sets of the stale parents its ``upstream_stale`` causes came
through, which is exactly how ``AssetStatus.roots`` is derived (root causes are told apart by
identity there too). An OR of two sets is one C loop over machine words, so 10,000 assets with
9,500 distinct root causes count in ~30 ms where deriving the lists takes ~170 ms. A set is
dropped once every stale child has read it, so memory follows the graph's width.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping

from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, StaleCauseKind

_THROUGH_PARENT = StaleCauseKind.UPSTREAM_STALE


WINDOW = 1 << 14
"""Root causes counted per pass (bits of a set): see ``root_cause_counts``."""


def root_cause_counts(statuses: Mapping[AssetKey, AssetStatus],
                      wanted: Iterable[AssetKey] | None = None) -> dict[AssetKey, int]:
    """The number of distinct root causes of every stale asset in ``statuses`` (or of those
    in ``wanted`` only, which still needs their stale ancestors). ``statuses`` must hold
    parents before children, as every status pass returns them.

    Each root cause is numbered in the order met and stands for bit ``n`` of a set; the bit
    is made when a set takes it, never kept: keeping each root cause's one-bit integer
    (``1 << n`` is n/8 bytes) cost the square of their number, 550 MB at 100,000 assets
    with 93,000 root causes. A set is as wide as the highest root cause in it, and waits
    for its last stale child, which can be anywhere further down; so that a big graph
    never holds many sets that wide, root causes are counted ``WINDOW`` at
    a time, a pass per window whose sets hold only its bits, starting at the first asset
    whose own root causes reach it (none above can hold one of its bits). Up to ``WINDOW``
    root causes (10,000 assets: 9,500) it is one pass; at 100,000 assets, six passes hold
    30 MB of sets where one would hold 115 MB, for no more CPU."""
    index: dict[AssetKey, int] = {}  # stale asset -> its position among the stale ones
    # Per stale asset, flat (machine words, not a tuple of int objects each: 100,000 assets'
    # lists took 20 MB beside the sets): the stale parents its upstream_stale causes came
    # through, ``through[through_end[at - 1]:through_end[at]]``, and the numbers of its own
    # root causes, ``own[own_end[at - 1]:own_end[at]]``.
    through, through_end, own, own_end = array("q"), array("q"), array("q"), array("q")
    numbers: dict[int, int] = {}  # root cause (by identity) -> its number, in the order met
    readers = array("q")  # stale children still to read a stale asset's set
    first: list[int] = []  # first[w]: the first stale asset with an own root cause in window w
    for key, st in statuses.items():
        if not st.stale:
            continue
        at = len(readers)
        for c in st.causes:
            if c.kind is _THROUGH_PARENT and c.dep is not None and c.dep in statuses:
                parent = index.get(c.dep)
                if parent is not None:  # a parent that is not stale holds no set (its cause is odd)
                    through.append(parent)
                    readers[parent] += 1
            else:
                n = numbers.get(id(c))
                if n is None:
                    n = numbers[id(c)] = len(numbers)
                    if n % WINDOW == 0:
                        first.append(at)
                own.append(n)
        index[key] = at
        through_end.append(len(through))
        own_end.append(len(own))
        readers.append(0)
    del numbers
    totals = [0] * len(readers)
    for w, start in enumerate(first):
        _count_window(w * WINDOW, through, through_end, own, own_end, readers, start, totals)
    want = None if wanted is None else set(wanted)
    return {key: totals[at] for key, at in index.items() if want is None or key in want}


def _count_window(low: int, through: array[int], through_end: array[int], own: array[int], own_end: array[int],
                  readers: array[int], start: int, totals: list[int]) -> None:
    """Add to ``totals`` how many of each stale asset's root causes are numbered ``low`` to
    ``low + WINDOW``: each set the OR of its own bits and its stale parents' sets, a parent's
    dropped once its last stale child read it (memory follows the graph's width)."""
    high = low + WINDOW
    left = array("q", readers)
    sets: list[int] = [0] * len(readers)
    p = through_end[start - 1] if start else 0
    o = own_end[start - 1] if start else 0
    for at in range(start, len(readers)):
        mask = 0
        end = through_end[at]
        if end > p:
            for parent in through[p:end]:
                mask |= sets[parent]
                n = left[parent] - 1
                left[parent] = n
                if not n:
                    sets[parent] = 0
            p = end
        end = own_end[at]
        if end > o:
            for n in own[o:end]:
                if low <= n < high:
                    mask |= 1 << (n - low)
            o = end
        if mask:
            totals[at] += mask.bit_count()
            if left[at]:
                sets[at] = mask
