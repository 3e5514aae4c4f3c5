"""What the CLI and UI ask about automation: schedules, sensors, ticks, explanations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from headwater.core.events import InstigatorToggled
from headwater.core.keys import CoercibleToKey, to_key
from headwater.definitions.definitions import Definitions
from headwater.errors import HeadwaterError


@dataclass(frozen=True)
class InstigatorRow:
    name: str
    enabled: bool
    detail: str          # cron + zone, or the interval
    target: str
    last_tick: float | None
    last_status: str | None
    next_time: float | None
    cursor: str | None = None


class AutomationViews:
    """Mixed into ``Instance``; needs ``self.store`` and ``self.clock``."""

    store: Any
    clock: Any

    def _find(self, defs: Definitions, kind: str, name: str) -> Any:
        items = defs.schedules if kind == "schedule" else defs.sensors
        for item in items:
            if item.name == name:
                return item
        known = ", ".join(sorted(i.name for i in items)) or "none"
        raise HeadwaterError(f"no {kind} named {name!r} (known: {known})")

    def toggle(self, defs: Definitions, kind: str, name: str, enabled: bool) -> None:
        self._find(defs, kind, name)
        self.store.write([InstigatorToggled(run_id=None, timestamp=self.clock(), instigator=f"{kind}:{name}",
                                            enabled=enabled)])

    def schedule_rows(self, defs: Definitions) -> list[InstigatorRow]:
        from headwater.automation.schedules import preview

        states = self.store.instigator_states()
        rows = []
        now = self.clock()
        for s in defs.schedules:
            st = states.get(f"schedule:{s.name}")
            enabled = s.default_enabled if st is None or st.enabled is None else st.enabled
            nxt = preview(s, now, 1)
            rows.append(InstigatorRow(s.name, enabled, f"{s.cron.expression} ({s.cron.timezone})", s.selection,
                                      st.last_tick_time if st else None, st.last_status if st else None,
                                      nxt[0] if nxt and enabled else None))
        return rows

    def sensor_rows(self, defs: Definitions) -> list[InstigatorRow]:
        states = self.store.instigator_states()
        rows = []
        for s in defs.sensors:
            st = states.get(f"sensor:{s.name}")
            enabled = s.default_enabled if st is None or st.enabled is None else st.enabled
            last = st.last_tick_time if st else None
            rows.append(InstigatorRow(s.name, enabled, f"every {s.interval:g}s", getattr(s, "watch_selection", "")
                                      or "", last, st.last_status if st else None,
                                      (last + s.interval) if last is not None and enabled else None,
                                      st.cursor if st else None))
        return rows

    def schedule_preview(self, defs: Definitions, name: str, count: int = 10) -> list[tuple[str, str]]:
        from headwater.automation.schedules import preview

        s = self._find(defs, "schedule", name)
        zone = ZoneInfo(s.cron.timezone)
        return [(datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M %Z"),
                 datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC"))
                for t in preview(s, self.clock(), count)]

    def automation_explain(self, defs: Definitions, key: CoercibleToKey) -> list[str]:
        from headwater.automation.conditions import explain

        k = to_key(key)
        spec = defs.graph.get(k)
        if spec is None:
            raise HeadwaterError(f"no asset {k}")
        from headwater.service.gate_view import hold_lines

        gate = hold_lines(self.store, defs, k)  # a gate overrides whatever the condition says
        if spec.automation is None:
            return [*gate, f"{k} has no automation condition (set @hw.asset(automation=...))"]
        ticks = self.store.ticks("automation", limit=1)
        if not ticks:
            return [*gate, f"the daemon has not evaluated automation yet; {k}'s condition is {spec.automation.label}"]
        tick = ticks[0]
        evaluation = tick.evaluations.get(str(k))
        if evaluation is None:
            return [*gate, f"{k} was not evaluated on the last tick ({datetime.fromtimestamp(tick.timestamp, UTC):%Y-%m-%d %H:%M UTC})"]
        when = datetime.fromtimestamp(tick.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return [*gate, f"last automation tick: {when}", *explain(evaluation)]
