"""Record alert transitions and deliver them through their rules' channels.

Order matters. The transitions are written first, in one write, before anything is
sent: once a transition is stored it is the deduplication state, so a crash or a dead
webhook cannot make the next evaluation fire the same alert again. Delivery is then
at-least-tried: every channel of the rule gets up to ``max_attempts`` tries, each one
written as an `AlertDeliveryAttempt` the moment it ends, and a channel failing (or
raising something unexpected) never stops the other channels or alerts.

Two processes evaluating at the same moment could both see "not firing" and both fire;
call `evaluate_alerts` from one place (the daemon).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from headwater.alerts.channels import Channel, DeliveryError
from headwater.alerts.rules import AlertRule, SelectionResolver, resolve_selections, validate_rules
from headwater.alerts.transitions import transitions as compute_transitions
from headwater.core.events import AlertDeliveryAttempt, AlertTransition
from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey
from headwater.storage.interfaces import AlertStateReader, EventWriter

log = logging.getLogger("headwater.alerts")

MAX_BACKOFF = 60.0
MAX_DETAIL = 1000


class AlertStore(AlertStateReader, EventWriter, Protocol):
    """What alert evaluation needs from the store: the last transitions, and a writer."""


@dataclass(frozen=True, slots=True)
class AlertEvaluation:
    """What one evaluation did: the transitions it recorded and every delivery attempt."""

    transitions: tuple[AlertTransition, ...]
    attempts: tuple[AlertDeliveryAttempt, ...]

    @property
    def failed_deliveries(self) -> list[tuple[str, AssetKey, str]]:
        """(rule, asset, channel) whose last attempt failed: alerts nobody may have received."""
        last: dict[tuple[str, AssetKey, str, str], AlertDeliveryAttempt] = {}
        for a in self.attempts:
            last[(a.rule, a.key, str(a.state), a.channel)] = a
        return [(a.rule, a.key, a.channel) for a in last.values() if not a.ok]


def backoff_delay(channel: Channel, attempt: int) -> float:
    """Seconds to wait after failed try ``attempt`` (1-based): backoff, 2x, 4x, ... capped."""
    return min(MAX_BACKOFF, float(channel.backoff) * 2.0 ** (attempt - 1))


def deliver(transitions: Iterable[AlertTransition], rules: Iterable[AlertRule], writer: EventWriter,
            sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.time) -> list[AlertDeliveryAttempt]:
    """Write ``transitions`` (one write), then deliver each through every channel of its rule.

    Returns every attempt, in order; each was also written as it ended. A transition
    whose rule is not in ``rules`` is recorded but not delivered (and logged).
    """
    by_name = {r.name: r for r in validate_rules(rules)}
    pending = list(transitions)
    if not pending:
        return []
    writer.write(pending)
    attempts: list[AlertDeliveryAttempt] = []
    for transition in pending:
        rule = by_name.get(transition.rule)
        if rule is None:
            log.warning("alert rule %s is not defined: %s %s for %s not delivered", transition.rule,
                        transition.state, transition.condition, transition.key)
            continue
        for channel in rule.channels:
            attempts.extend(_deliver_one(transition, channel, writer, sleep, clock))
    return attempts


def _deliver_one(transition: AlertTransition, channel: Channel, writer: EventWriter,
                 sleep: Callable[[float], None], clock: Callable[[], float]) -> list[AlertDeliveryAttempt]:
    label = _label(channel)
    out: list[AlertDeliveryAttempt] = []
    tries = max(1, int(channel.max_attempts))
    for n in range(1, tries + 1):
        ok, retryable, detail = _try(channel, transition, label)
        attempt = AlertDeliveryAttempt(run_id=None, timestamp=clock(), rule=transition.rule, key=transition.key,
                                       state=transition.state, channel=label, attempt=n, ok=ok,
                                       detail=_clip(detail))
        out.append(attempt)
        _record(writer, attempt)
        level = logging.INFO if ok else logging.WARNING
        log.log(level, "alert %s %s for %s via %s, attempt %d/%d: %s", transition.rule, transition.state,
                transition.key, label, n, tries, attempt.detail)
        if ok or not retryable or n == tries:
            break
        sleep(backoff_delay(channel, n))
    return out


def _try(channel: Channel, transition: AlertTransition, label: str) -> tuple[bool, bool, str]:
    try:
        return True, False, channel.send(transition)
    except DeliveryError as exc:
        return False, exc.retryable, exc.detail
    except Exception as exc:
        # A channel of the user's own making misbehaved. Its message could hold anything
        # (a token), so record only the type and leave the traceback to the debug log.
        log.debug("channel %s raised", label, exc_info=True)
        return False, False, f"the channel raised {type(exc).__name__} (not a DeliveryError)"


def _label(channel: Channel) -> str:
    try:
        return str(channel.label)
    except Exception:
        return type(channel).__name__


def _record(writer: EventWriter, attempt: AlertDeliveryAttempt) -> None:
    try:
        writer.write([attempt])
    except Exception as exc:
        # The alert went out (or not) either way; losing its record must not stop the rest.
        log.error("could not record alert delivery attempt (%s via %s): %s", attempt.rule, attempt.channel, exc)


def _clip(detail: str) -> str:
    return detail if len(detail) <= MAX_DETAIL else detail[:MAX_DETAIL - 1] + "…"


def evaluate_alerts(rules: Iterable[AlertRule], graph_selection_resolver: SelectionResolver,
                    healths: Mapping[AssetKey, AssetHealth], store: AlertStore, now: float,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.time) -> AlertEvaluation:
    """The service's one entry point: compare health with the stored alert states, record
    what changed and deliver it.

    ``graph_selection_resolver`` is the asset graph, or a function from a selection
    expression to asset keys. A rule whose selection names nothing known raises a
    `DefinitionError` naming it before anything is written or sent.
    """
    rules = validate_rules(rules)
    selected = resolve_selections(rules, graph_selection_resolver)
    found = compute_transitions(rules, selected, healths, store.alert_states(), now)
    attempts = deliver(found, rules, store, sleep=sleep, clock=clock)
    return AlertEvaluation(tuple(found), tuple(attempts))
