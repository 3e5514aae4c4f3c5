"""Alert rules: which assets to watch, which conditions to alert on, where to send it.

A rule is plain data, checked when it is built so that a typo fails at load time with
the rule's name in the message rather than as silence at 3 a.m.::

    import headwater.alerts as hw_alerts

    hw_alerts.rule("finance-oncall", when=["overdue", "failed"], selection="group:marts",
                   channels=[hw_alerts.webhook("https://hooks.example.com/hw", secret_env="HOOK_SECRET")])

Conditions (a rule fires while ANY of its conditions holds for an asset):

* ``failed`` — the latest materialization attempt failed (status ``failed``);
* ``overdue`` — freshness is ``overdue``;
* ``degraded`` — health is ``degraded`` (failed, overdue or an error-severity check failing);
* ``check_failed`` — any error-severity check is ``failed``; ``check_failed:<name>``
  watches one named check.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Union

from headwater.alerts.channels import Channel
from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.selection import parse_selection, select
from headwater.errors import DefinitionError, HeadwaterError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class ConditionKind(StrEnum):
    FAILED = "failed"
    OVERDUE = "overdue"
    DEGRADED = "degraded"
    CHECK_FAILED = "check_failed"


@dataclass(frozen=True, slots=True)
class Condition:
    """One thing a rule watches for; ``check`` narrows ``check_failed`` to one named check."""

    kind: ConditionKind
    check: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ConditionKind(self.kind))
        if self.check is not None and self.kind is not ConditionKind.CHECK_FAILED:
            raise ValueError(f"only check_failed takes a check name, not {self.kind}")
        if self.check is not None and not self.check:
            raise ValueError("check_failed: the check name must not be empty")

    @staticmethod
    def parse(text: str) -> Condition:
        """``failed``, ``overdue``, ``degraded``, ``check_failed`` or ``check_failed:<check name>``."""
        kind, sep, check = text.strip().partition(":")
        if kind not in ConditionKind.__members__.values():
            raise ValueError(_unknown_condition(text))
        if sep and kind != ConditionKind.CHECK_FAILED:
            raise ValueError(f"condition {text!r}: only check_failed takes a check name (check_failed:<name>)")
        if sep and not check.strip():
            raise ValueError(f"condition {text!r}: the check name after ':' is missing")
        return Condition(ConditionKind(kind), check.strip() if sep else None)

    def __str__(self) -> str:
        return f"{self.kind}:{self.check}" if self.check else str(self.kind)


def check_failed(name: str | None = None) -> Condition:
    """``check_failed`` for any check, or for the one check called ``name``."""
    return Condition(ConditionKind.CHECK_FAILED, name)


CoercibleToCondition = Union[str, Condition]


def _unknown_condition(text: str) -> str:
    choices = [str(k) for k in ConditionKind]
    close = difflib.get_close_matches(text.partition(":")[0], choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (f"unknown condition {text!r} (choose from failed, overdue, degraded, check_failed, "
            f"check_failed:<check name>){hint}")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Alert through ``channels`` when any condition in ``when`` starts or stops holding for
    an asset in ``selection`` (a selection expression, ``*`` for every asset).

    The deduplication key is (rule, asset): a rule firing for an asset alerts once, stays
    quiet while it keeps firing (even if the set of active conditions changes), and sends
    one RESOLVED notice when none holds any more.
    """

    name: str
    selection: str = "*"
    when: tuple[Condition, ...] = field(default=(), kw_only=True)
    channels: tuple[Channel, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not _NAME.match(name):
            raise DefinitionError(f"alert rule {name!r}: a rule name must start with a letter, digit or '_' "
                                  "and contain only letters, digits, '_', '-' or '.'")
        object.__setattr__(self, "when", _conditions(name, self.when))
        object.__setattr__(self, "channels", _channels(name, self.channels))
        if not isinstance(self.selection, str) or not self.selection.strip():
            raise DefinitionError(f"alert rule {name!r}: selection must be a non-empty selection expression")
        try:
            parse_selection(self.selection)
        except HeadwaterError as exc:
            raise DefinitionError(f"alert rule {name!r}: {exc}") from None


def _conditions(rule: str, when: object) -> tuple[Condition, ...]:
    if isinstance(when, (str, Condition)):
        items: list[object] = [when]
    elif isinstance(when, Iterable):
        items = list(when)
    else:
        raise DefinitionError(f"alert rule {rule!r}: when= takes a condition or a list of them, "
                              f"not {type(when).__name__}")
    out: list[Condition] = []
    for item in items:
        if isinstance(item, Condition):
            cond = item
        elif isinstance(item, str):
            try:
                cond = Condition.parse(item)
            except ValueError as exc:
                raise DefinitionError(f"alert rule {rule!r}: {exc}") from None
        else:
            raise DefinitionError(f"alert rule {rule!r}: a condition must be a string or a Condition, "
                                  f"not {type(item).__name__}")
        if cond not in out:
            out.append(cond)
    if not out:
        raise DefinitionError(f"alert rule {rule!r}: needs at least one condition in when= "
                              "(failed, overdue, degraded, check_failed)")
    return tuple(out)


def _channels(rule: str, channels: object) -> tuple[Channel, ...]:
    items = list(channels) if isinstance(channels, (list, tuple)) else [channels]
    for item in items:
        if not isinstance(item, Channel):
            raise DefinitionError(f"alert rule {rule!r}: {item!r} is not a channel "
                                  "(use webhook(...), shell(...) or email(...))")
    if not items:
        raise DefinitionError(f"alert rule {rule!r}: needs at least one channel to deliver to")
    return tuple(items)  # type: ignore[arg-type]


def rule(name: str, when: Iterable[CoercibleToCondition] | CoercibleToCondition, selection: str = "*",
         channels: Iterable[Channel] = ()) -> AlertRule:
    """Build an alert rule; see the module docstring for the conditions."""
    return AlertRule(name, selection, when=when, channels=tuple(channels))  # type: ignore[arg-type]


def validate_rules(rules: Iterable[AlertRule]) -> tuple[AlertRule, ...]:
    """The rules as a tuple, or a `DefinitionError` naming the first duplicate rule name."""
    out = tuple(rules)
    seen: set[str] = set()
    for r in out:
        if not isinstance(r, AlertRule):
            raise DefinitionError(f"{r!r} is not an alert rule (build one with headwater.alerts.rule)")
        if r.name in seen:
            raise DefinitionError(f"alert rule {r.name!r} is defined more than once")
        seen.add(r.name)
    return out


SelectionResolver = Union[AssetGraph, Callable[[str], Iterable[AssetKey]]]


def resolve_selections(rules: Iterable[AlertRule], resolver: SelectionResolver) -> dict[str, set[AssetKey]]:
    """The assets each rule watches, by rule name.

    ``resolver`` is the asset graph, or a function from a selection expression to keys. A
    selection that names nothing known raises a `DefinitionError` naming the rule.
    """
    resolve: Callable[[str], Iterable[AssetKey]]
    if isinstance(resolver, AssetGraph):
        graph = resolver

        def resolve(text: str) -> Iterable[AssetKey]:
            return select(graph, text)
    else:
        resolve = resolver
    out: dict[str, set[AssetKey]] = {}
    for r in validate_rules(rules):
        try:
            out[r.name] = set(resolve(r.selection))
        except HeadwaterError as exc:
            raise DefinitionError(f"alert rule {r.name!r}: {exc}") from None
    return out

