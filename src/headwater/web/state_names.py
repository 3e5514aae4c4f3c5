"""The names of the states the filters offer: the graph page's form lists them before the
web stack is imported (``page_env.py``), and the views check a filter against them."""

from __future__ import annotations

from headwater.core.health import Health
from headwater.core.status import MaterializationStatus

HEALTHS = tuple(h.value for h in Health)
# What the status filter offers: every materialization status, and ``stale``.
STATUSES = tuple(s.value for s in MaterializationStatus)
STATUS_FILTERS = (*STATUSES, "stale")
