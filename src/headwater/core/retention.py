"""Retention policy: how long each kind of stored event is kept (issue 17, docs/design.md §5).

Pure data and pure arithmetic: the policy says, per kind, how many seconds of history to
keep, and ``cutoffs(now)`` turns that into the timestamps before which storage may
delete. What is never deleted (the latest fact of every asset partition, run summaries,
the latest tick of every instigator, anything a derived table points at) is storage's
rule, not a setting: a policy cannot make status forget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from headwater.errors import DefinitionError

DAY = 86400.0
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Seconds of history kept per kind; ``None`` keeps that kind forever.

    * ``logs`` — log lines of finished runs;
    * ``step_events`` — step lifecycle events and the per-step rows of finished runs (the
      run's own record stays, as its summary), and "observed, unchanged" notes;
    * ``asset_facts`` — materializations, observations, check results and alert
      transitions older than this, except the latest per asset partition (per check);
    * ``ticks`` — daemon ticks and alert deliveries, except each instigator's latest tick;
    * ``gc_interval`` — how often the daemon collects (``None``: never, only ``headwater gc``).
    """

    logs: float | None = 30 * DAY
    step_events: float | None = 30 * DAY
    asset_facts: float | None = 90 * DAY
    ticks: float | None = 7 * DAY
    gc_interval: float | None = 6 * 3600.0

    @staticmethod
    def from_config(table: Mapping[str, Any], where: str) -> RetentionPolicy:
        """From ``[tool.headwater.retention]``: numbers are days, strings carry a unit
        (``"12h"``, ``"30d"``), ``"forever"`` keeps everything of that kind."""
        known = {f.name for f in fields(RetentionPolicy)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise DefinitionError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        values = {name: parse_duration(value, f"{where}: {name}") for name, value in table.items()}
        return RetentionPolicy(**values)

    def cutoffs(self, now: float) -> dict[str, float | None]:
        """Per kind, the time before which events may go (``None``: keep all)."""
        return {name: (None if keep is None else now - keep) for name, keep in
                (("logs", self.logs), ("step_events", self.step_events), ("asset_facts", self.asset_facts),
                 ("ticks", self.ticks))}

    def describe(self) -> dict[str, str]:
        return {f.name: format_duration(getattr(self, f.name)) for f in fields(self)}


def parse_duration(value: Any, where: str) -> float | None:
    """Days as a number, or a string with a unit; ``"forever"`` is ``None``."""
    if isinstance(value, str):
        if value.strip().lower() in ("forever", "never", "none"):
            return None
        m = _DURATION.match(value)
        if m is None:
            raise DefinitionError(f"{where}: {value!r} is not a duration: write a number of days, or e.g. "
                                  "'12h', '30d', '2w', or 'forever'")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        seconds = float(value) * DAY
    else:
        raise DefinitionError(f"{where}: {value!r} is not a duration (a number of days, or e.g. '30d')")
    if seconds <= 0:
        raise DefinitionError(f"{where}: a retention must be positive, got {value!r}")
    return seconds


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "forever"
    for unit, size in (("w", 7 * DAY), ("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
