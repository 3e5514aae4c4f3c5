"""Dependencies on assets of other code locations, while one location loads alone.

In a workspace, an asset may depend (``deps=[...]`` or ``ins=``) on an asset that another
location defines. The process that loads one location sees only its own code, so while it
loads it turns this on: ``Definitions`` then accepts keys it does not know, holds them as
``external_keys`` (placeholder sources in its own graph) and the workspace checks them
against every location's keys when it joins the graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ALLOWED: ContextVar[bool] = ContextVar("headwater_external_deps", default=False)


def external_deps_allowed() -> bool:
    return _ALLOWED.get()


@contextmanager
def allow_external_deps() -> Iterator[None]:
    token = _ALLOWED.set(True)
    try:
        yield
    finally:
        _ALLOWED.reset(token)
