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

from collections.abc import Iterable, Mapping

from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, StaleCauseKind

_THROUGH_PARENT = StaleCauseKind.UPSTREAM_STALE


def root_cause_counts(statuses: Mapping[AssetKey, AssetStatus],
                      wanted: Iterable[AssetKey] | None = None) -> dict[AssetKey, int]:
    """The number of distinct root causes of every stale asset in ``statuses`` (or of those
    in ``wanted`` only, which still needs their stale ancestors). ``statuses`` must hold
    parents before children, as every status pass returns them."""
    want = None if wanted is None else set(wanted)
    readers: dict[AssetKey, int] = {}  # stale children still to read a parent's set
    for st in statuses.values():
        if st.stale:
            for c in st.causes:
                if c.kind is _THROUGH_PARENT and c.dep is not None:
                    readers[c.dep] = readers.get(c.dep, 0) + 1
    bits: dict[int, int] = {}
    sets: dict[AssetKey, int] = {}
    out: dict[AssetKey, int] = {}
    for key, st in statuses.items():
        if not st.stale:
            continue
        mask = 0
        for c in st.causes:
            if c.kind is _THROUGH_PARENT and c.dep is not None and c.dep in statuses:
                mask |= sets.get(c.dep, 0)
                left = readers[c.dep] - 1
                if left:
                    readers[c.dep] = left
                else:
                    sets.pop(c.dep, None)
            else:
                bit = bits.get(id(c))
                if bit is None:
                    bit = bits[id(c)] = 1 << len(bits)
                mask |= bit
        if readers.get(key):
            sets[key] = mask
        if want is None or key in want:
            out[key] = mask.bit_count()
    return out
