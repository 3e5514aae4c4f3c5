"""The webhook channel against a real HTTP server on 127.0.0.1 (ephemeral port, in a thread)."""

import hashlib
import hmac
import json
import logging
import socket

import pytest
from alert_builders import RecordingWriter, firing

import headwater.alerts as hw_alerts
from headwater.alerts import deliver
from headwater.core.events import AlertDeliveryAttempt, AlertTransition
from headwater.errors import DefinitionError

SECRET = "s3cret-signing-key-0f9a"
TOKEN = "tok-AUTH-7c1d2e"


@pytest.fixture
def sleeps():
    return []


def send(channel, sleeps, alert=None, writer=None):
    alert = alert or firing("finance-oncall", "sales/revenue", "overdue", at=1_700_000_000.0)
    r = hw_alerts.rule(alert.rule, when=["overdue"], channels=[channel])
    writer = writer or RecordingWriter()
    attempts = deliver([alert], [r], writer, sleep=sleeps.append, clock=lambda: 1_700_000_100.0)
    return attempts, writer


def test_posts_the_alert_as_json(hook, sleeps):
    attempts, writer = send(hw_alerts.webhook(hook.url + "/hooks/hw"), sleeps)
    assert [(a.attempt, a.ok, a.detail) for a in attempts] == [(1, True, "HTTP 200")]
    assert attempts[0].channel == f"webhook:{hook.url}"
    (req,) = hook.requests
    assert req["path"] == "/hooks/hw"
    assert req["headers"]["Content-Type"] == "application/json"
    assert "X-Headwater-Signature" not in req["headers"]
    assert hook.payload() == {"rule": "finance-oncall", "asset": "sales/revenue", "state": "firing",
                              "condition": "overdue", "detail": "sales/revenue is overdue",
                              "at": "2023-11-14T22:13:20+00:00"}
    assert sleeps == []
    # The transition is written first, in one write; then the attempt.
    assert [type(e) for batch in writer.writes for e in batch] == [AlertTransition, AlertDeliveryAttempt]
    assert writer.writes[1] == [attempts[0]]


def test_5xx_is_retried_with_exponential_backoff(hook, sleeps):
    hook.replies = [(500, "down"), (503, "busy"), (200, "ok")]
    attempts, _ = send(hw_alerts.webhook(hook.url, backoff=0.5), sleeps)
    assert [(a.attempt, a.ok) for a in attempts] == [(1, False), (2, False), (3, True)]
    assert attempts[0].detail == "HTTP 500 Internal Server Error: down"
    assert attempts[1].detail == "HTTP 503 Service Unavailable: busy"
    assert sleeps == [0.5, 1.0]
    assert len(hook.requests) == 3
    assert hook.requests[0]["body"] == hook.requests[2]["body"]


def test_gives_up_after_max_attempts(hook, sleeps):
    hook.replies = [(502, "bad gateway")] * 10
    attempts, writer = send(hw_alerts.webhook(hook.url, max_attempts=4, backoff=0.25), sleeps)
    assert [(a.attempt, a.ok) for a in attempts] == [(n, False) for n in (1, 2, 3, 4)]
    assert sleeps == [0.25, 0.5, 1.0]
    assert len(hook.requests) == 4
    assert [e for e in writer.events if isinstance(e, AlertDeliveryAttempt)] == attempts


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_4xx_is_not_retried(hook, sleeps, status):
    hook.replies = [(status, "nope")]
    attempts, _ = send(hw_alerts.webhook(hook.url), sleeps)
    assert [(a.attempt, a.ok) for a in attempts] == [(1, False)]
    assert attempts[0].detail.startswith(f"HTTP {status} ")
    assert sleeps == [] and len(hook.requests) == 1


def test_429_asks_to_come_back_later_and_is_retried(hook, sleeps):
    hook.replies = [(429, "slow down"), (200, "ok")]
    attempts, _ = send(hw_alerts.webhook(hook.url), sleeps)
    assert [a.ok for a in attempts] == [False, True] and sleeps == [0.5]


def test_redirects_are_reported_not_followed(hook, sleeps):
    hook.replies = [(302, "")]
    attempts, _ = send(hw_alerts.webhook(hook.url, headers={"Authorization": f"Bearer {TOKEN}"}), sleeps)
    assert len(attempts) == 1 and not attempts[0].ok
    assert "HTTP 302" in attempts[0].detail and "redirects are not followed" in attempts[0].detail
    assert len(hook.requests) == 1


def test_connection_refused_is_retried(sleeps):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    attempts, _ = send(hw_alerts.webhook(f"http://127.0.0.1:{port}/x", max_attempts=3), sleeps)
    assert [(a.attempt, a.ok) for a in attempts] == [(1, False), (2, False), (3, False)]
    assert attempts[0].detail.startswith("could not reach 127.0.0.1: ")
    assert "refused" in attempts[0].detail.lower()
    assert sleeps == [0.5, 1.0]


def test_a_slow_server_times_out_and_is_retried(hook, sleeps):
    hook.delay = 0.5
    attempts, _ = send(hw_alerts.webhook(hook.url, timeout=0.1, max_attempts=2), sleeps)
    assert [a.ok for a in attempts] == [False, False]
    assert "timed out" in attempts[0].detail
    assert sleeps == [0.5]


def test_the_signature_verifies_against_the_raw_body(hook, sleeps, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    attempts, _ = send(hw_alerts.webhook(hook.url, secret_env="HOOK_SECRET"), sleeps)
    assert attempts[0].ok
    req = hook.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req["headers"]["X-Headwater-Signature"], expected)
    wrong = "sha256=" + hmac.new(b"other", req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-Headwater-Signature"] != wrong


def test_a_missing_secret_fails_without_sending_and_names_the_variable(hook, sleeps, monkeypatch):
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    attempts, _ = send(hw_alerts.webhook(hook.url, secret_env="HOOK_SECRET"), sleeps)
    assert [(a.ok, a.detail) for a in attempts] == [
        (False, "environment variable HOOK_SECRET (the webhook signing secret) is not set")]
    assert hook.requests == [] and sleeps == []


def test_headers_from_the_environment(hook, sleeps, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", f"Bearer {TOKEN}")
    attempts, _ = send(hw_alerts.webhook(hook.url, headers={"X-Team": "finance"},
                                         headers_env={"Authorization": "HOOK_TOKEN"}), sleeps)
    assert attempts[0].ok
    assert hook.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert hook.requests[0]["headers"]["X-Team"] == "finance"


def test_secrets_never_reach_details_logs_or_reprs(hook, sleeps, monkeypatch, caplog):
    """A careless server echoes the request (path token, Authorization, everything) in its errors."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("HOOK_TOKEN", f"Bearer {TOKEN}-env")
    hook.replies = [(500, "echo {echo} " + SECRET), (503, "{echo}"), (400, f"bad {TOKEN} {{echo}}")]
    url = f"http://user:pw-{TOKEN}@127.0.0.1:{hook.server.server_address[1]}/services/T0/B0/{TOKEN}-path?key=q-{TOKEN}"
    channel = hw_alerts.webhook(url, secret_env="HOOK_SECRET",
                                headers={"Authorization": f"Bearer {TOKEN}", "X-Api-Key": f"k-{TOKEN}"},
                                headers_env={"Proxy-Authorization": "HOOK_TOKEN"})
    with caplog.at_level(logging.DEBUG, logger="headwater"):
        attempts, writer = send(channel, sleeps)
    assert [a.ok for a in attempts] == [False, False, False]
    assert hook.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"  # it was really sent
    assert TOKEN in hook.requests[0]["path"]
    assert "***" in attempts[0].detail and "HTTP 500" in attempts[0].detail
    stored = [json.dumps(hw_alerts.alert_payload(e)) if isinstance(e, AlertTransition) else repr(e)
              for e in writer.events]
    texts = [a.detail for a in attempts] + [a.channel for a in attempts] + stored + [
        caplog.text, repr(channel), str(channel), repr(hw_alerts.rule("r", when=["failed"], channels=[channel]))]
    for text in texts:
        assert SECRET not in text
        assert TOKEN not in text
        assert "pw-" not in text


def test_errors_from_the_channel_itself_carry_no_secret(hook, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    hook.replies = [(500, f"{SECRET} {TOKEN}")]
    channel = hw_alerts.webhook(hook.url + f"/{TOKEN}", secret_env="HOOK_SECRET")
    with pytest.raises(hw_alerts.DeliveryError) as info:
        channel.send(firing("r", "a"))
    assert info.value.retryable
    assert SECRET not in str(info.value) and TOKEN not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"url": "ftp://example.com/x"}, "http:// or https://"),
    ({"url": "file:///etc/passwd"}, "http:// or https://"),
    ({"url": "https://example.com", "max_attempts": 0}, "max_attempts"),
    ({"url": "https://example.com", "backoff": -1}, "backoff"),
    ({"url": "https://example.com", "timeout": 0}, "timeout"),
])
def test_bad_webhooks_are_definition_errors(kwargs, message):
    with pytest.raises(DefinitionError, match=message):
        hw_alerts.webhook(**kwargs)


def test_user_and_password_in_the_url_are_sent_as_basic_auth(hook, sleeps):
    port = hook.server.server_address[1]
    attempts, _ = send(hw_alerts.webhook(f"http://hw:p%40ss@127.0.0.1:{port}/in"), sleeps)
    assert attempts[0].ok
    assert hook.requests[0]["headers"]["Authorization"] == "Basic aHc6cEBzcw=="  # hw:p@ss
    assert hook.requests[0]["path"] == "/in"
    assert "p%40ss" not in attempts[0].channel
