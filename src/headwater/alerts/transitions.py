"""Which alerts start or stop now: a pure function of rules, health and the last transitions.

Deduplication lives here. The key is (rule, asset): a rule whose condition holds for an
asset emits one FIRING transition, nothing while it keeps holding, and one RESOLVED
transition once it stops. Stored transitions are the memory (``previous`` is what the
store's ``alert_states()`` returns), so the outcome does not depend on which process
evaluated last or how often.

Three deliberate cases:

* an asset the rule selects but whose health is not given keeps its current state (we
  know nothing new about it, so we neither fire nor resolve);
* an asset that was firing and is no longer selected (the selection changed, the asset
  was removed) is RESOLVED, so nobody is left with an alert that can never clear;
* a rule missing from ``rules`` is left alone: its stored state stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from headwater.alerts.rules import AlertRule, Condition, ConditionKind, validate_rules
from headwater.core.checks import CheckState
from headwater.core.events import AlertState, AlertTransition
from headwater.core.freshness import FreshnessState
from headwater.core.health import AssetHealth, Health
from headwater.core.keys import AssetKey
from headwater.core.status import MaterializationStatus


def is_active(condition: Condition, health: AssetHealth) -> bool:
    """Does ``condition`` hold for the asset described by ``health``?"""
    kind = condition.kind
    if kind is ConditionKind.FAILED:
        return health.status.status == MaterializationStatus.FAILED
    if kind is ConditionKind.OVERDUE:
        return health.freshness is not None and health.freshness.state == FreshnessState.OVERDUE
    if kind is ConditionKind.DEGRADED:
        return health.health == Health.DEGRADED
    return bool(_failing_checks(condition, health))


def active_conditions(rule: AlertRule, health: AssetHealth) -> tuple[Condition, ...]:
    return tuple(c for c in rule.when if is_active(c, health))


def transitions(rules: Iterable[AlertRule], selected: Mapping[str, Iterable[AssetKey]],
                healths: Mapping[AssetKey, AssetHealth],
                previous: Mapping[tuple[str, AssetKey], AlertTransition], now: float) -> list[AlertTransition]:
    """The transitions to record and deliver now, rule by rule, assets in key order.

    ``selected`` maps each rule's name to the assets it watches (see
    `resolve_selections`); ``previous`` is the latest transition per (rule, asset).
    """
    rules = validate_rules(rules)
    firing_by_rule: dict[str, list[AlertTransition]] = {}
    for (name, _key), stored in previous.items():
        if stored.state == AlertState.FIRING:
            firing_by_rule.setdefault(name, []).append(stored)
    out: list[AlertTransition] = []
    for rule in rules:
        if rule.name not in selected:
            raise ValueError(f"no selected assets given for alert rule {rule.name!r}")
        keys = set(selected[rule.name])
        for key in sorted(keys, key=str):
            health = healths.get(key)
            if health is None:
                continue
            last = previous.get((rule.name, key))
            firing = last is not None and last.state == AlertState.FIRING
            active = active_conditions(rule, health)
            if active and not firing:
                out.append(_transition(rule, key, AlertState.FIRING, ",".join(map(str, active)),
                                       _firing_detail(key, active, health), now))
            elif firing and not active:
                assert last is not None
                out.append(_transition(rule, key, AlertState.RESOLVED, last.condition,
                                       _resolved_detail(key, last.condition, health), now))
        for gone in sorted(firing_by_rule.get(rule.name, ()), key=lambda t: str(t.key)):
            if gone.key not in keys:
                detail = f"{gone.key} is no longer selected by rule {rule.name} ({rule.selection})"
                out.append(_transition(rule, gone.key, AlertState.RESOLVED, gone.condition, detail, now))
    return out


def _transition(rule: AlertRule, key: AssetKey, state: AlertState, condition: str, detail: str,
                now: float) -> AlertTransition:
    return AlertTransition(run_id=None, timestamp=now, rule=rule.name, key=key, state=state,
                           condition=condition, detail=detail)


def _failing_checks(condition: Condition, health: AssetHealth) -> list[str]:
    return [c.name for c in health.checks
            if c.state == CheckState.FAILED and (condition.check is None or c.name == condition.check)]


def _phrase(condition: Condition, health: AssetHealth) -> str:
    if condition.kind is ConditionKind.CHECK_FAILED:
        names = _failing_checks(condition, health)
        return ("failing check " if len(names) == 1 else "failing checks ") + ", ".join(names)
    return str(condition.kind)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _firing_detail(key: AssetKey, active: tuple[Condition, ...], health: AssetHealth) -> str:
    """``sales/revenue is overdue and failed: overdue: data is 5h old, ...; the latest ...``"""
    text = f"{key} is {_and([_phrase(c, health) for c in active])}"
    return text + (": " + "; ".join(health.reasons) if health.reasons else "")


def _resolved_detail(key: AssetKey, condition: str, health: AssetHealth) -> str:
    """``sales/revenue is no longer overdue; it is now healthy: materialized and up to date``"""
    words = []
    for part in filter(None, condition.split(",")):
        kind, _, check = part.partition(":")
        words.append(f"failing check {check}" if check else
                     "failing a check" if kind == ConditionKind.CHECK_FAILED else kind)
    text = f"{key} is no longer {_and(words) if words else 'alerting'}; it is now {health.health}"
    return text + (": " + "; ".join(health.reasons) if health.reasons else "")
