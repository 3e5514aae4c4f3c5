"""``location:NAME`` in the selection language: the assets a workspace code location defines.

Its own module so the language's core (``selection.py``) only routes the term here. Like a
group, a location is a name the user declared: one that matches nothing is an error.
"""

from __future__ import annotations

import difflib
import re

from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey


def location_keys(graph: AssetGraph, pattern: str) -> set[AssetKey]:
    """Keys whose spec names a code location matching ``pattern`` (``*`` globs); raises
    ``ValueError`` with the reason when none does."""
    by_location: dict[str, set[AssetKey]] = {}
    for spec in graph.specs:
        if spec.code_location is not None:
            by_location.setdefault(spec.code_location, set()).add(spec.key)
    if not by_location:
        raise ValueError(f"no code location named {pattern!r}: this project is a single location "
                         "(declare [[tool.headwater.locations]] for a workspace)")
    if "*" not in pattern:
        if pattern in by_location:
            return by_location[pattern]
        close = difflib.get_close_matches(pattern, by_location, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (locations: {', '.join(sorted(by_location))})"
        raise ValueError(f"no code location named {pattern!r}{hint}")
    regex = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")
    found = {k for name, keys in by_location.items() if regex.match(name) for k in keys}
    if not found:
        raise ValueError(f"location:{pattern} matches no code location")
    return found
