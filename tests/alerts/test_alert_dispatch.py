"""Delivery: transitions recorded first, every attempt recorded, one channel never stops another."""

import logging
from dataclasses import dataclass, field

import pytest
from alert_builders import NOW, RecordingWriter, firing, health, resolved

import headwater.alerts as hw_alerts
from headwater.alerts import DeliveryError, deliver, evaluate_alerts
from headwater.core.events import AlertDeliveryAttempt, AlertState, AlertTransition
from headwater.core.keys import AssetKey
from headwater.errors import DefinitionError

K = AssetKey.parse


@dataclass
class FakeChannel:
    """Plays back a script of outcomes: "ok", "retry" (retryable failure), "fail", or an exception."""

    name: str
    script: list = field(default_factory=list)
    max_attempts: int = 3
    backoff: float = 1.0
    sent: list = field(default_factory=list)
    writer: RecordingWriter | None = None
    seen_writes: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"fake:{self.name}"

    def send(self, alert):
        self.sent.append(alert)
        if self.writer is not None:
            self.seen_writes.append(len(self.writer.writes))
        outcome = self.script.pop(0) if self.script else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "ok":
            return "delivered"
        raise DeliveryError(f"{outcome} failure", retryable=outcome == "retry")


def rule(name, *channels, when=("overdue",)):
    return hw_alerts.rule(name, when=list(when), channels=list(channels))


def test_a_fake_channel_is_a_channel():
    assert isinstance(FakeChannel("x"), hw_alerts.Channel)


def test_transitions_are_written_in_one_write_before_any_delivery():
    writer = RecordingWriter()
    ch = FakeChannel("a", writer=writer)
    ts = [firing("r", "a"), resolved("r", "b")]
    attempts = deliver(ts, [rule("r", ch)], writer, sleep=lambda s: None, clock=lambda: 5.0)
    assert writer.writes[0] == ts
    assert ch.seen_writes == [1, 2]  # the first send already saw the transitions stored
    assert [(a.key, a.state, a.ok, a.attempt, a.timestamp, a.channel, a.detail) for a in attempts] == [
        (K("a"), AlertState.FIRING, True, 1, 5.0, "fake:a", "delivered"),
        (K("b"), AlertState.RESOLVED, True, 1, 5.0, "fake:a", "delivered")]
    assert writer.writes[1:] == [[attempts[0]], [attempts[1]]]  # each attempt written as it ends


def test_nothing_to_deliver_writes_nothing():
    writer = RecordingWriter()
    assert deliver([], [rule("r", FakeChannel("a"))], writer) == []
    assert writer.writes == []


def test_retries_follow_the_channel_policy_and_every_attempt_is_recorded():
    writer = RecordingWriter()
    ch = FakeChannel("a", ["retry", "retry", "ok"], max_attempts=4, backoff=0.5)
    sleeps = []
    attempts = deliver([firing("r", "a")], [rule("r", ch)], writer, sleep=sleeps.append)
    assert [(a.attempt, a.ok, a.detail) for a in attempts] == [
        (1, False, "retry failure"), (2, False, "retry failure"), (3, True, "delivered")]
    assert sleeps == [0.5, 1.0]
    assert [e for e in writer.events if isinstance(e, AlertDeliveryAttempt)] == attempts


def test_a_permanent_failure_is_not_retried():
    ch = FakeChannel("a", ["fail"])
    sleeps = []
    attempts = deliver([firing("r", "a")], [rule("r", ch)], RecordingWriter(), sleep=sleeps.append)
    assert [(a.attempt, a.ok) for a in attempts] == [(1, False)] and sleeps == []


def test_backoff_is_capped():
    ch = FakeChannel("a", max_attempts=12, backoff=1.0)
    assert [hw_alerts.backoff_delay(ch, n) for n in (1, 2, 3, 7, 8, 11)] == [1, 2, 4, 60, 60, 60]


def test_a_failing_channel_never_stops_the_others():
    writer = RecordingWriter()
    broken = FakeChannel("broken", [RuntimeError("token=abc123 leaked"), "ok"])
    failing = FakeChannel("failing", ["fail", "fail"])
    good = FakeChannel("good")
    rules = [rule("r1", broken, failing, good), rule("r2", good, when=["failed"])]
    ts = [firing("r1", "a"), firing("r1", "b"), firing("r2", "a", "failed")]
    attempts = deliver(ts, rules, writer, sleep=lambda s: None)
    assert [(a.rule, str(a.key), a.channel, a.ok) for a in attempts] == [
        ("r1", "a", "fake:broken", False), ("r1", "a", "fake:failing", False), ("r1", "a", "fake:good", True),
        ("r1", "b", "fake:broken", True), ("r1", "b", "fake:failing", False), ("r1", "b", "fake:good", True),
        ("r2", "a", "fake:good", True)]
    # An unexpected exception is recorded by type only: its message could hold anything.
    assert attempts[0].detail == "the channel raised RuntimeError (not a DeliveryError)"
    assert "abc123" not in repr(writer.events)


def test_a_transition_of_an_unknown_rule_is_recorded_not_delivered(caplog):
    writer = RecordingWriter()
    ch = FakeChannel("a")
    with caplog.at_level(logging.WARNING, logger="headwater.alerts"):
        attempts = deliver([firing("gone", "a"), firing("r", "a")], [rule("r", ch)], writer)
    assert [a.rule for a in attempts] == ["r"]
    assert [t.rule for t in writer.writes[0]] == ["gone", "r"]
    assert "alert rule gone is not defined" in caplog.text


def test_failing_to_record_an_attempt_does_not_stop_delivery(caplog):
    writer = RecordingWriter(fail_attempts=True)
    a, b = FakeChannel("a"), FakeChannel("b")
    with caplog.at_level(logging.ERROR, logger="headwater.alerts"):
        attempts = deliver([firing("r", "x")], [rule("r", a, b)], writer)
    assert [x.ok for x in attempts] == [True, True] and len(b.sent) == 1
    assert "could not record alert delivery attempt" in caplog.text


def test_failing_to_record_the_transitions_delivers_nothing():
    class Down:
        def write(self, events):
            raise RuntimeError("store unreachable")

    ch = FakeChannel("a")
    with pytest.raises(RuntimeError, match="store unreachable"):
        deliver([firing("r", "x")], [rule("r", ch)], Down())
    assert ch.sent == []  # next evaluation sees no stored transition and tries again


class MemoryStore(RecordingWriter):
    """An in-memory stand-in for the store's alert side (the SQL store is tested separately)."""

    def alert_states(self):
        out = {}
        for e in self.events:
            if isinstance(e, AlertTransition):
                out[(e.rule, e.key)] = e
        return out

    def alert_deliveries(self, limit=100):
        return [e for e in reversed(self.events) if isinstance(e, AlertDeliveryAttempt)][:limit]


def test_evaluate_alerts_deduplicates_across_evaluations_through_the_store():
    store = MemoryStore()
    ch = FakeChannel("a")
    rules = [rule("late", ch)]
    keys = {K("a"), K("b")}

    def evaluate(healths, now):
        return evaluate_alerts(rules, lambda text: keys, {h.key: h for h in healths}, store, now,
                               sleep=lambda s: None, clock=lambda: now)

    first = evaluate([health("a", overdue=True), health("b")], NOW)
    assert [(str(t.key), t.state) for t in first.transitions] == [("a", AlertState.FIRING)]
    assert [a.ok for a in first.attempts] == [True] and first.failed_deliveries == []
    assert evaluate([health("a", overdue=True), health("b")], NOW + 60).transitions == ()
    third = evaluate([health("a"), health("b")], NOW + 120)
    assert [(str(t.key), t.state) for t in third.transitions] == [("a", AlertState.RESOLVED)]
    assert [(str(t.key), t.state) for t in ch.sent] == [("a", AlertState.FIRING), ("a", AlertState.RESOLVED)]
    assert len(store.alert_deliveries()) == 2


def test_evaluate_alerts_reports_failed_deliveries_and_does_not_refire_them():
    store = MemoryStore()
    ch = FakeChannel("a", ["fail"])
    rules = [rule("late", ch)]
    healths = {K("a"): health("a", overdue=True)}
    result = evaluate_alerts(rules, lambda text: {K("a")}, healths, store, NOW, sleep=lambda s: None)
    assert result.failed_deliveries == [("late", K("a"), "fake:a")]
    again = evaluate_alerts(rules, lambda text: {K("a")}, healths, store, NOW + 60, sleep=lambda s: None)
    assert again.transitions == () and len(ch.sent) == 1


def test_a_bad_selection_stops_evaluation_before_anything_is_written():
    store = MemoryStore()

    def resolver(text):
        from headwater.errors import SelectionError
        raise SelectionError(text, 0, "no group named 'mrts'")

    with pytest.raises(DefinitionError, match="alert rule 'late'"):
        evaluate_alerts([rule("late", FakeChannel("a"))], resolver, {}, store, NOW)
    assert store.writes == []
