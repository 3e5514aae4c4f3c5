"""One way to hold off Python's cyclic garbage collector around whole-graph work.

Reading or deriving the state of a big graph allocates hundreds of thousands of small
objects that all stay alive (records, statuses, checks) and hold no reference cycles: a
collector running meanwhile rescans the growing heap again and again and frees nothing,
a third of the time of such a read. It runs once, after the outermost pause ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Nestable: only the outermost pause turns the collector back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
