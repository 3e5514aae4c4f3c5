"""Declarative automation conditions: when should automation materialize an asset?

A condition is a small tree of frozen nodes attached to an asset (``@hw.asset(automation=...)``)
and combined with ``&``, ``|`` and ``~``. Every tick, ``evaluate_automation`` evaluates every
asset's tree once, upstream first, and requests the assets whose tree is true, all in one
run. Each node explains its value in words (``label``, ``value``, ``detail``, ``children``),
which is what ``headwater automation explain ASSET`` prints through ``explain``.

Vocabulary (docs/design.md §2): an asset is *updated* when it gets a new materialization (a source:
a new observation — an unchanged observation is not an update); *in flight* means in a queued
or started run; *requested in this tick* means an upstream asset's condition was true earlier
in the same pass, so the asset can join that run. Source assets are never *missing* for
their readers (Headwater cannot produce them); a source never observed gives no signal.

Primitives (each reads only the asset, its direct upstream, ``now`` and the tick memory):

* ``missing`` — never materialized.
* ``in_progress`` — in flight, or a run is materializing it right now.
* ``failed`` — its latest attempt failed.
* ``stale`` — stale by docs/design.md §2 (code changed, upstream updated or stale, deps changed).
* ``requested`` — automation requested it on an earlier tick and it has not been
  materialized since (the run is queued, running, or failed).
* ``any_upstream_updated`` — some upstream asset was updated after this asset was last
  materialized (any update, if it never was) *and* after automation last requested it, or
  is requested in this tick; also when this asset's last materialization read an older
  version of an upstream than the current one (it ran while the upstream was rewritten).
* ``any_upstream_missing`` — some upstream asset is missing and not requested in this tick.
* ``any_upstream_in_progress`` — some upstream asset is in flight.
* ``any_upstream_failed`` — some upstream asset's latest attempt failed and it is not
  requested again in this tick (if it is, the run skips this asset should it fail again).

Composites (named ``&`` of the above; the explanation shows the parts):

* ``on_missing()`` = ``missing & ~requested & ~any_upstream_missing & ~in_progress``:
  materialize a missing asset once, as soon as its inputs exist; not again if that run fails.
* ``eager()`` = ``any_upstream_updated & ~any_upstream_missing & ~any_upstream_in_progress
  & ~in_progress``: materialize after upstream data changes, once per change. A chain of
  eager assets below an updated asset is requested as one run in one tick.
* ``on_cron(expr, timezone)`` = ``cron_tick_passed & all_upstream_updated_since_tick &
  ~in_progress``: once per cron tick, as soon as every upstream asset has been updated at or
  after the tick (or is requested in this tick). The tick counts as handled once this
  condition requested the asset for it (recorded in the memory), or when the asset was
  materialized after the tick and after all its upstream updates; ticks older than the
  latest one are never caught up (with empty memory, the latest tick is due once). Sources
  never observed are not waited for.
* ``on_freshness(lead)`` = ``freshness_due(lead) & newer_upstream_data & ~in_progress``,
  for assets with a freshness policy. ``freshness_due``: the asset is overdue, has no data
  time yet, or the moment it would become overdue without new data (the policy's
  ``next_deadline``) is at most ``lead`` seconds away — set ``lead`` to the run's expected
  duration plus margin. ``newer_upstream_data``: materializing now would give a newer data
  time than the current one (the oldest data time among its inputs, counting inputs
  requested in this tick at the data time they will have; ``now`` without inputs), and no
  earlier request for this same upstream data is outstanding. So an overdue asset is rerun
  whenever newer upstream data arrives, never pointlessly on the same inputs.

Guards combine as usual: ``AutomationCondition.eager() & ~AutomationCondition.any_upstream_failed()``.

One module on purpose (past the usual size): every primitive's meaning sits next to the
others, so the semantics can be read, and changed, in one place. The tick that drives them
(context, memory, batching) is ``automation_tick.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from headwater.automation.automation_tick import (
    AutomationMemory,
    AutomationTickResult,
    TickContext,
    evaluate_automation,
)
from headwater.core.cron import Cron
from headwater.core.freshness import FreshnessState
from headwater.core.keys import AssetKey
from headwater.core.status import AssetStatus, MaterializationStatus, StaleCauseKind
from headwater.errors import DefinitionError

__all__ = ["AutomationCondition", "AutomationMemory", "AutomationTickResult", "evaluate_automation", "explain"]

_RUNNING = MaterializationStatus.RUNNING
_FAILED = MaterializationStatus.FAILED
_UPSTREAM_UPDATED = StaleCauseKind.UPSTREAM_UPDATED
_SHOWN = 3  # upstream assets named in a detail before "and N more"

Parents = tuple[AssetKey, ...]
Node = dict[str, Any]


def _leaf(label: str, value: bool, detail: str) -> Node:
    return {"label": label, "value": value, "detail": detail, "children": []}


def _names(keys: list[Any]) -> str:
    shown = ", ".join(str(k) for k in keys[:_SHOWN])
    return shown + (f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s % 3600 == 0 and s:
        return f"{s // 3600}h"
    if s % 60 == 0 and s:
        return f"{s // 60}m"
    return f"{s}s"


@dataclass(frozen=True, slots=True)
class AutomationCondition(ABC):
    """A node of a condition tree; build them with the static constructors below.

    Nodes are immutable, hashable and compare by structure, so the same condition can be
    attached to many assets and ``AutomationCondition.eager() == AutomationCondition.eager()``.
    """

    @property
    @abstractmethod
    def label(self) -> str:
        """Short name shown in explanations."""

    @abstractmethod
    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        """This node's verdict for one asset on one tick, with its explanation."""

    def __str__(self) -> str:
        return self.label

    def __and__(self, other: object) -> AutomationCondition:
        if not isinstance(other, AutomationCondition):
            return NotImplemented
        return AllOf(_flatten(AllOf, self) + _flatten(AllOf, other))

    def __or__(self, other: object) -> AutomationCondition:
        if not isinstance(other, AutomationCondition):
            return NotImplemented
        return AnyOf(_flatten(AnyOf, self) + _flatten(AnyOf, other))

    def __invert__(self) -> AutomationCondition:
        return Not(self)

    # -- composites ------------------------------------------------------------------------

    @staticmethod
    def on_missing() -> AutomationCondition:
        """Materialize a never-materialized asset once, as soon as its upstream exists."""
        return AllOf((Missing(), Not(Requested()), Not(AnyUpstreamMissing()), Not(InProgress())),
                     name="on_missing")

    @staticmethod
    def eager() -> AutomationCondition:
        """Materialize whenever upstream data changes, once nothing upstream is missing or running."""
        return AllOf((AnyUpstreamUpdated(), Not(AnyUpstreamMissing()), Not(AnyUpstreamInProgress()),
                      Not(InProgress())), name="eager")

    @staticmethod
    def on_cron(expr: str, timezone: str = "UTC") -> AutomationCondition:
        """Once per tick of ``expr`` (in ``timezone``), after all upstream updated since the tick."""
        try:
            cron = Cron(expr, timezone)
        except DefinitionError as exc:
            raise DefinitionError(f"AutomationCondition.on_cron: {exc}") from exc
        return OnCron(cron)

    @staticmethod
    def on_freshness(lead: float | timedelta = 0) -> AutomationCondition:
        """Materialize early enough to meet the asset's freshness policy (``lead``: seconds
        before the deadline to start, i.e. the expected run time plus margin)."""
        secs = lead.total_seconds() if isinstance(lead, timedelta) else float(lead)
        if secs < 0:
            raise DefinitionError(f"AutomationCondition.on_freshness: lead must not be negative, got {lead!r}")
        return AllOf((FreshnessDue(secs), NewerUpstreamData(), Not(InProgress())),
                     name=f"on_freshness(lead={_duration(secs)})")

    # -- primitives ------------------------------------------------------------------------

    @staticmethod
    def missing() -> AutomationCondition:
        return Missing()

    @staticmethod
    def in_progress() -> AutomationCondition:
        return InProgress()

    @staticmethod
    def failed() -> AutomationCondition:
        return Failed()

    @staticmethod
    def stale() -> AutomationCondition:
        return Stale()

    @staticmethod
    def requested() -> AutomationCondition:
        return Requested()

    @staticmethod
    def any_upstream_updated() -> AutomationCondition:
        return AnyUpstreamUpdated()

    @staticmethod
    def any_upstream_missing() -> AutomationCondition:
        return AnyUpstreamMissing()

    @staticmethod
    def any_upstream_in_progress() -> AutomationCondition:
        return AnyUpstreamInProgress()

    @staticmethod
    def any_upstream_failed() -> AutomationCondition:
        return AnyUpstreamFailed()


def _flatten(kind: type, cond: AutomationCondition) -> tuple[AutomationCondition, ...]:
    # Only anonymous groups merge: a named composite (eager, ...) stays one node.
    if type(cond) is kind and cond.name == _PLAIN[kind]:  # type: ignore[attr-defined]
        return cond.children  # type: ignore[attr-defined, no-any-return]
    return (cond,)


# -- operators -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllOf(AutomationCondition):
    """True when every child is; ``name`` labels named composites such as ``eager``."""

    children: tuple[AutomationCondition, ...]
    name: str = "all of"

    @property
    def label(self) -> str:
        return self.name

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        nodes = []
        decisive = None
        for child in self.children:
            n = child._eval(t, key, st, parents)
            nodes.append(n)
            if decisive is None and not n["value"]:
                decisive = n
        detail = ""
        if self.name != "all of" and nodes:
            detail = (decisive or nodes[0])["detail"]
        return {"label": self.name, "value": decisive is None, "detail": detail, "children": nodes}


@dataclass(frozen=True, slots=True)
class AnyOf(AutomationCondition):
    """True when at least one child is."""

    children: tuple[AutomationCondition, ...]
    name: str = "any of"

    @property
    def label(self) -> str:
        return self.name

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        nodes = []
        decisive = None
        for child in self.children:
            n = child._eval(t, key, st, parents)
            nodes.append(n)
            if decisive is None and n["value"]:
                decisive = n
        detail = ""
        if self.name != "any of" and nodes:
            detail = (decisive or nodes[0])["detail"]
        return {"label": self.name, "value": decisive is not None, "detail": detail, "children": nodes}


_PLAIN = {AllOf: "all of", AnyOf: "any of"}


@dataclass(frozen=True, slots=True)
class Not(AutomationCondition):
    """True when its child is false. Over a primitive, the explanation folds into one line
    (``not in_progress: true — not in any queued or started run``)."""

    child: AutomationCondition

    @property
    def label(self) -> str:
        return "not " + self.child.label

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        n = self.child._eval(t, key, st, parents)
        if not n["children"]:
            n["label"] = "not " + n["label"]
            n["value"] = not n["value"]
            return n
        return {"label": "not", "value": not n["value"], "detail": "", "children": [n]}


# -- primitives on the asset itself ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Missing(AutomationCondition):
    @property
    def label(self) -> str:
        return "missing"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        if st is None or st.last_updated_at is None:
            return _leaf("missing", True, "never materialized")
        return _leaf("missing", False, f"materialized in run {st.last_run_id or '-'}")


@dataclass(frozen=True, slots=True)
class InProgress(AutomationCondition):
    @property
    def label(self) -> str:
        return "in_progress"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        if key in t.in_flight:
            return _leaf("in_progress", True, "in a queued or started run")
        if st is not None and st.status is _RUNNING:
            return _leaf("in_progress", True, f"being materialized by run {st.last_attempt_run_id or '-'}")
        return _leaf("in_progress", False, "not in any queued or started run")


@dataclass(frozen=True, slots=True)
class Failed(AutomationCondition):
    @property
    def label(self) -> str:
        return "failed"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        if st is not None and st.status is _FAILED:
            msg = st.failure.message if st.failure else "no error recorded"
            return _leaf("failed", True, f"latest attempt failed in run {st.last_attempt_run_id or '-'}: {msg}")
        return _leaf("failed", False, "latest attempt did not fail")


@dataclass(frozen=True, slots=True)
class Stale(AutomationCondition):
    @property
    def label(self) -> str:
        return "stale"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        if st is not None and st.stale:
            roots = st.root_causes() or list(st.causes)
            text = "; ".join(c.detail or c.kind.value for c in roots[:2])
            if len(roots) > 2:
                text += f"; and {len(roots) - 2} more"
            return _leaf("stale", True, text)
        return _leaf("stale", False, "not stale")


def _outstanding(t: TickContext, key: AssetKey, st: AssetStatus | None) -> float | None:
    """When automation requested the asset, if it has not been materialized since."""
    req = t.requested_at.get(str(key))
    if req is None:
        return None
    own = st.last_updated_at if st is not None else None
    return req if own is None or req > own else None


@dataclass(frozen=True, slots=True)
class Requested(AutomationCondition):
    @property
    def label(self) -> str:
        return "requested"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        req = _outstanding(t, key, st)
        if req is not None:
            return _leaf("requested", True, f"requested by automation at {t.when(req)}, not materialized since")
        return _leaf("requested", False, "no outstanding automation request")


# -- primitives on the direct upstream -------------------------------------------------------


def _read_older(st: AssetStatus, parent: AssetKey) -> bool:
    for cause in st.causes:
        if cause.kind is _UPSTREAM_UPDATED and cause.dep == parent:
            return True
    return False


@dataclass(frozen=True, slots=True)
class AnyUpstreamUpdated(AutomationCondition):
    @property
    def label(self) -> str:
        return "any_upstream_updated"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        if not parents:
            return _leaf("any_upstream_updated", False, "no upstream assets")
        own = st.last_updated_at if st is not None else None
        req = t.requested_at.get(str(key))
        handled = own if req is None or (own is not None and own >= req) else req
        stale = st is not None and st.stale
        requested = t.requested
        statuses = t.statuses
        hits: list[tuple[AssetKey, int, AssetStatus | None]] | None = None
        for p in parents:
            if p in requested:
                hit = (p, 0, None)
            else:
                ps = statuses.get(p)
                if ps is None:
                    continue
                pts = ps.last_updated_at
                if pts is None:
                    continue
                if handled is None or pts > handled:
                    hit = (p, 1, ps)
                elif stale and (req is None or pts > req) and st is not None and _read_older(st, p):
                    hit = (p, 2, ps)
                else:
                    continue
            if hits is None:
                hits = [hit]
            else:
                hits.append(hit)
        if hits is None:
            return _leaf("any_upstream_updated", False,
                         "no upstream update since this asset was last materialized or requested")
        return _leaf("any_upstream_updated", True, _updated_detail(t, hits))


def _updated_detail(t: TickContext, hits: list[tuple[AssetKey, int, AssetStatus | None]]) -> str:
    parts = []
    for p, kind, ps in hits[:_SHOWN]:
        if kind == 0 or ps is None:
            parts.append(f"upstream {p} is requested in this tick")
        elif kind == 1:
            what = "observation" if ps.is_source else "materialization"
            at = t.when(ps.last_updated_at) if ps.last_updated_at is not None else "-"
            parts.append(f"upstream {p} has a newer {what} (run {ps.last_run_id or '-'} at {at})")
        else:
            parts.append(f"this asset read an older version of upstream {p} than its current "
                         f"{ps.data_version!r}")
    text = "; ".join(parts)
    if len(hits) > _SHOWN:
        text += f"; and {len(hits) - _SHOWN} more"
    return text


@dataclass(frozen=True, slots=True)
class AnyUpstreamMissing(AutomationCondition):
    @property
    def label(self) -> str:
        return "any_upstream_missing"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        missing = None
        for p in parents:
            if p in t.requested:
                continue
            ps = t.statuses.get(p)
            if ps is not None and (ps.last_updated_at is not None or ps.is_source):
                continue
            if ps is None and t.graph.spec(p).is_source:
                continue
            missing = [p] if missing is None else missing + [p]
        if missing is None:
            return _leaf("any_upstream_missing", False, "no upstream asset is missing")
        return _leaf("any_upstream_missing", True, f"upstream {_names(missing)} never materialized")


@dataclass(frozen=True, slots=True)
class AnyUpstreamInProgress(AutomationCondition):
    @property
    def label(self) -> str:
        return "any_upstream_in_progress"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        busy = None
        in_flight = t.in_flight
        for p in parents:
            if p in in_flight:
                busy = [p] if busy is None else busy + [p]
                continue
            ps = t.statuses.get(p)
            if ps is not None and ps.status is _RUNNING:
                busy = [p] if busy is None else busy + [p]
        if busy is None:
            return _leaf("any_upstream_in_progress", False, "no upstream asset in a queued or started run")
        return _leaf("any_upstream_in_progress", True, f"upstream {_names(busy)} in a queued or started run")


@dataclass(frozen=True, slots=True)
class AnyUpstreamFailed(AutomationCondition):
    @property
    def label(self) -> str:
        return "any_upstream_failed"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        failed: list[AssetStatus] = []
        for p in parents:
            ps = t.statuses.get(p)
            if ps is not None and ps.status is _FAILED and p not in t.requested:
                failed.append(ps)
        if not failed:
            return _leaf("any_upstream_failed", False, "no upstream asset failed")
        first = failed[0]
        msg = first.failure.message if first.failure else "no error recorded"
        text = f"upstream {first.key} failed in run {first.last_attempt_run_id or '-'}: {msg}"
        if len(failed) > 1:
            text += f" (also {_names([f.key for f in failed[1:]])})"
        return _leaf("any_upstream_failed", True, text)


# -- cron ----------------------------------------------------------------------------------


def _cron_id(cron: Cron) -> str:
    return f"{cron.expression}|{cron.timezone}"


@dataclass(frozen=True, slots=True)
class CronTickPassed(AutomationCondition):
    """The latest tick of ``cron`` has passed and not been handled for this asset."""

    cron: Cron
    cron_id: str = field(init=False, repr=False, compare=False)
    _label: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cron_id", _cron_id(self.cron))
        object.__setattr__(self, "_label", f"cron_tick_passed('{self.cron.expression}', {self.cron.timezone})")

    @property
    def label(self) -> str:
        return self._label

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        label = self._label
        tick, text = t.cron_tick(self.cron, self.cron_id)
        done = t.cron_ticks.get(str(key))
        handled = done.get(self.cron_id) if done else None
        if handled is not None and handled >= tick:
            return _leaf(label, False, f"tick {text} already handled (requested for it)")
        own = st.last_updated_at if st is not None else None
        if own is not None and own >= tick and _after_all_upstream(t, own, parents):
            return _leaf(label, False, f"materialized at {t.when(own)}, after tick {text} and after all its upstream")
        return _leaf(label, True, f"tick {text} passed and is not handled yet")


def _after_all_upstream(t: TickContext, own: float, parents: Parents) -> bool:
    for p in parents:
        if p in t.requested:
            return False
        ps = t.statuses.get(p)
        if ps is not None and ps.last_updated_at is not None and ps.last_updated_at > own:
            return False
    return True


@dataclass(frozen=True, slots=True)
class AllUpstreamUpdatedSinceTick(AutomationCondition):
    """Every upstream asset was updated at or after the latest tick, or is requested now."""

    cron: Cron
    cron_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cron_id", _cron_id(self.cron))

    @property
    def label(self) -> str:
        return "all_upstream_updated_since_tick"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        if not parents:
            return _leaf("all_upstream_updated_since_tick", True, "no upstream assets")
        tick, text = t.cron_tick(self.cron, self.cron_id)
        waiting = None
        for p in parents:
            if p in t.requested:
                continue
            ps = t.statuses.get(p)
            if ps is not None:
                pts = ps.last_updated_at
                if pts is not None and pts >= tick:
                    continue
                if pts is None and ps.is_source:
                    continue  # a source never observed gives no signal to wait for
            waiting = [p] if waiting is None else waiting + [p]
        if waiting is None:
            return _leaf("all_upstream_updated_since_tick", True, f"all upstream updated since tick {text}")
        return _leaf("all_upstream_updated_since_tick", False,
                     f"waiting for upstream {_names(waiting)} to update after tick {text}")


@dataclass(frozen=True, slots=True)
class OnCron(AutomationCondition):
    """``cron_tick_passed & all_upstream_updated_since_tick & ~in_progress``; when true it
    marks the tick handled for the asset (if the asset is requested)."""

    cron: Cron
    cron_id: str = field(init=False, repr=False, compare=False)
    _parts: AllOf = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = AllOf((CronTickPassed(self.cron), AllUpstreamUpdatedSinceTick(self.cron), Not(InProgress())),
                      name=f"on_cron('{self.cron.expression}', {self.cron.timezone})")
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "cron_id", _cron_id(self.cron))

    @property
    def label(self) -> str:
        return self._parts.name

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        node = self._parts._eval(t, key, st, parents)
        if node["value"]:
            t.cron_hits.append((self.cron_id, t.cron_tick(self.cron, self.cron_id)[0]))
        return node


# -- freshness -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FreshnessDue(AutomationCondition):
    """The asset's freshness policy is missed now, or will be within ``lead`` seconds."""

    lead: float = 0.0

    @property
    def label(self) -> str:
        return f"freshness_due(lead={_duration(self.lead)})"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        label = self.label
        spec = t.graph.get(key)
        policy = spec.freshness if spec is not None else None
        if policy is None:
            return _leaf(label, False, "no freshness policy")
        fs = policy.evaluate(st.data_time if st is not None else None, t.now)
        if fs.state is FreshnessState.UNKNOWN:
            return _leaf(label, True, "no data time yet")
        if fs.state is FreshnessState.OVERDUE:
            return _leaf(label, True, f"overdue: {fs.reason}")
        deadline = fs.next_deadline
        if deadline is None:
            return _leaf(label, False, fs.reason)
        if deadline - self.lead <= t.now:
            return _leaf(label, True, f"becomes overdue at {t.when(deadline)}, within the lead of "
                                      f"{_duration(self.lead)}")
        return _leaf(label, False, f"fresh until {t.when(deadline)}; due from {t.when(deadline - self.lead)}")


@dataclass(frozen=True, slots=True)
class NewerUpstreamData(AutomationCondition):
    """Materializing now would give a newer data time, and no request for it is outstanding."""

    @property
    def label(self) -> str:
        return "newer_upstream_data"

    def _eval(self, t: TickContext, key: AssetKey, st: AssetStatus | None, parents: Parents) -> Node:
        after = t.data_time_after_run(parents)
        current = st.data_time if st is not None else None
        if current is not None and after <= current:
            return _leaf("newer_upstream_data", False,
                         f"a run now would give data as of {t.when(after)}, no newer than the current {t.when(current)}")
        req = _outstanding(t, key, st)
        if req is not None and not _updated_after(t, req, parents):
            return _leaf("newer_upstream_data", False,
                         f"already requested at {t.when(req)}; no upstream update since")
        now_text = t.when(current) if current is not None else "none yet"
        return _leaf("newer_upstream_data", True,
                     f"a run now would give data as of {t.when(after)} (currently {now_text})")


def _updated_after(t: TickContext, since: float, parents: Parents) -> bool:
    for p in parents:
        if p in t.requested:
            return True
        ps = t.statuses.get(p)
        if ps is not None and ps.last_updated_at is not None and ps.last_updated_at > since:
            return True
    return False


# -- explanations --------------------------------------------------------------------------


def explain(explanation: Mapping[str, Any]) -> list[str]:
    """Plain-text lines for one asset's explanation from a tick (``automation explain``)."""
    lines = ["requested in this tick" if explanation.get("requested") else "not requested in this tick"]
    tree = explanation.get("tree")
    if isinstance(tree, Mapping):
        _render(tree, 1, lines)
    return lines


def _render(node: Mapping[str, Any], depth: int, lines: list[str]) -> None:
    text = f"{'  ' * depth}{node.get('label', '?')}: {'true' if node.get('value') else 'false'}"
    detail = node.get("detail")
    if detail:
        text += f" — {detail}"
    lines.append(text)
    for child in node.get("children") or ():
        if isinstance(child, Mapping):
            _render(child, depth + 1, lines)
