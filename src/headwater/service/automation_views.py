"""What the CLI and UI ask about automation: schedules, sensors, ticks, explanations."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from headwater.core.events import InstigatorToggled
from headwater.core.keys import CoercibleToKey
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

    def automation_explain(self, defs: Definitions, key: CoercibleToKey, tick: int = 0,
                           run_id: str | None = None) -> AutomationExplanation:
        """Why ``key``'s condition was true or false on one tick: the newest (``tick=0``), the
        ``tick``-th before it, or the tick that requested ``run_id`` (a unique prefix will do)."""
        k = self._known(defs, key)  # type: ignore[attr-defined]
        spec = defs.graph.spec(k)
        label = spec.automation.label if spec.automation is not None else None
        if label is None:
            return AutomationExplanation(k, None, None, False, None, (
                f"{k} has no automation condition (set @hw.asset(automation=...))",))
        if tick < 0:
            raise HeadwaterError(f"--tick {tick}: give 0 for the newest tick, 1 for the one before, ...")
        if run_id is not None:
            chosen = next((t for t in self.store.ticks(AUTOMATION, limit=TICKS_SEARCHED)
                           if any(r.startswith(run_id) for r in t.run_ids)), None)
            if chosen is None:
                raise HeadwaterError(f"no automation tick among the last {TICKS_SEARCHED} requested run {run_id!r}")
        else:
            ticks = self.store.ticks(AUTOMATION, limit=tick + 1)
            if not ticks:
                return AutomationExplanation(k, label, None, False, None, (
                    f"the daemon has not evaluated automation yet; {k}'s condition is {label}",))
            if len(ticks) <= tick:
                raise HeadwaterError(f"--tick {tick}: only {len(ticks)} automation tick(s) are recorded")
            chosen = ticks[tick]
        found = _explanation(k, label, chosen)
        from headwater.service.gate_view import hold_lines

        gate = hold_lines(self.store, defs, k)  # a gate holds whatever the condition says
        return replace(found, lines=(*gate, *found.lines)) if gate else found

    def automation_history(self, defs: Definitions, key: CoercibleToKey, limit: int = 20
                           ) -> list[AutomationExplanation]:
        """``key``'s evaluation on each of the last ``limit`` automation ticks, newest first."""
        k = self._known(defs, key)  # type: ignore[attr-defined]
        spec = defs.graph.spec(k)
        if spec.automation is None:
            raise HeadwaterError(f"{k} has no automation condition (set @hw.asset(automation=...))")
        return [_explanation(k, spec.automation.label, t) for t in self.store.ticks(AUTOMATION, limit=limit)]


AUTOMATION = "automation"
TICKS_SEARCHED = 500


@dataclass(frozen=True)
class AutomationExplanation:
    """One asset on one automation tick: the tick, whether it asked for a run, the tree."""

    key: Any
    condition: str | None
    tick_time: float | None
    requested: bool
    tree: dict[str, Any] | None
    lines: tuple[str, ...]
    run_ids: tuple[str, ...] = ()
    evaluated: bool = True

    @property
    def value(self) -> bool | None:
        return bool(self.tree.get("value")) if self.tree else None


def _explanation(key: Any, label: str, tick: Any) -> AutomationExplanation:
    from headwater.automation.conditions import explain

    when = datetime.fromtimestamp(tick.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    evaluation = tick.evaluations.get(str(key))
    if evaluation is None:
        return AutomationExplanation(key, label, tick.timestamp, False, None,
                                     (f"{key} was not evaluated on the tick of {when}",), tuple(tick.run_ids), False)
    tree = evaluation.get("tree") if isinstance(evaluation.get("tree"), dict) else None
    return AutomationExplanation(key, label, tick.timestamp, bool(evaluation.get("requested")), tree,
                                 (f"automation tick: {when}", *explain(evaluation)), tuple(tick.run_ids))
