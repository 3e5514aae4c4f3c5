"""The shell channel with real commands, and e-mail against a real local SMTP server (aiosmtpd)."""

import json
import sys
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from alert_builders import RecordingWriter, firing, resolved

import headwater.alerts as hw_alerts
from headwater.alerts import deliver
from headwater.errors import DefinitionError

AT = 1_700_000_000.0
PASSWORD = "smtp-pa55word-91xq"


def send(channel, alert=None, sleeps=None):
    alert = alert or firing("finance-oncall", "sales/revenue", "overdue", at=AT)
    r = hw_alerts.rule(alert.rule, when=["overdue"], channels=[channel])
    sleeps = [] if sleeps is None else sleeps
    return deliver([alert], [r], RecordingWriter(), sleep=sleeps.append, clock=lambda: AT + 1)


# --- shell -----------------------------------------------------------------------------------


def test_shell_command_gets_the_alert_on_stdin_and_in_its_environment(tmp_path):
    out = tmp_path / "alert.json"
    env_out = tmp_path / "env.txt"
    script = ("import os, sys; open(sys.argv[1], 'w').write(sys.stdin.read()); "
              "open(sys.argv[2], 'w').write('|'.join(os.environ[f'HEADWATER_ALERT_{n}'] for n in "
              "['RULE', 'ASSET', 'STATE', 'CONDITION', 'DETAIL', 'AT']))")
    channel = hw_alerts.shell([sys.executable, "-c", script, str(out), str(env_out)])
    attempts = send(channel)
    assert [(a.ok, a.detail, a.channel) for a in attempts] == [
        (True, "exited with status 0", f"shell:{sys.executable.rsplit('/', 1)[-1]}")]
    assert json.loads(out.read_text()) == {
        "rule": "finance-oncall", "asset": "sales/revenue", "state": "firing", "condition": "overdue",
        "detail": "sales/revenue is overdue", "at": "2023-11-14T22:13:20+00:00"}
    assert env_out.read_text() == ("finance-oncall|sales/revenue|firing|overdue|sales/revenue is overdue|"
                                   "2023-11-14T22:13:20+00:00")


def test_a_string_command_runs_through_the_shell(tmp_path):
    out = tmp_path / "log.txt"
    channel = hw_alerts.shell(f'cat > "{out}"; echo "$HEADWATER_ALERT_STATE $HEADWATER_ALERT_ASSET" >> "{out}"')
    attempts = send(channel, resolved("r", "sales/revenue", "overdue", at=AT))
    assert attempts[0].ok and attempts[0].channel == "shell:cat"
    body, last = out.read_text().rsplit("}", 1)
    assert json.loads(body + "}")["state"] == "resolved"
    assert last.strip() == "resolved sales/revenue"


def test_a_failing_command_records_the_tail_of_its_stderr():
    noisy = "x" * 1000
    attempts = send(hw_alerts.shell(f"echo {noisy} >&2; echo 'pager rejected the alert' >&2; exit 3"))
    (a,) = attempts
    assert not a.ok
    assert a.detail.startswith("exited with status 3; stderr: …")
    assert a.detail.endswith("pager rejected the alert")
    assert len(a.detail) < 400


def test_shell_retries_when_asked(tmp_path):
    counter = tmp_path / "n"
    script = f'n=$(cat "{counter}" 2>/dev/null || echo 0); echo $((n+1)) > "{counter}"; [ "$n" -ge 1 ]'
    sleeps = []
    attempts = send(hw_alerts.shell(script, max_attempts=3, backoff=2), sleeps=sleeps)
    assert [a.ok for a in attempts] == [False, True] and sleeps == [2.0]


def test_a_hanging_command_and_its_children_are_killed_at_the_timeout():
    started = time.monotonic()
    attempts = send(hw_alerts.shell("sleep 30 & sleep 30; wait", timeout=0.3))
    assert time.monotonic() - started < 5
    assert [a.ok for a in attempts] == [False]
    assert attempts[0].detail == "timed out after 0.3s and was killed"


def test_a_missing_program_is_not_retried():
    attempts = send(hw_alerts.shell(["/nonexistent/notify", "x"], max_attempts=3))
    assert [(a.ok, a.detail) for a in attempts] == [(False, "could not start notify: No such file or directory")]


def test_bad_shell_commands_are_definition_errors():
    for bad in ["", "  ", [], [1, 2]]:
        with pytest.raises(DefinitionError, match="shell channel"):
            hw_alerts.shell(bad)


# --- e-mail ---------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages = []
        self.reply: str | None = None  # force an SMTP reply to DATA, e.g. "451 try later"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - the aiosmtpd API
        if self.reply:
            return self.reply
        self.messages.append(envelope)
        return "250 OK"


class EphemeralController(Controller):
    """aiosmtpd's Controller, listening on a port the OS picks (port=0)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = EphemeralController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"hw" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_auth():
    inbox = Inbox()
    controller = EphemeralController(inbox, hostname="127.0.0.1", port=0, authenticator=_authenticate,
                                     auth_require_tls=False, auth_required=True)
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def test_mail_is_sent_with_a_readable_subject(smtp):
    channel = hw_alerts.email("127.0.0.1", smtp.port, "headwater@example.com", ["oncall@example.com",
                                                                                  "data@example.com"])
    attempts = send(channel)
    assert [(a.ok, a.detail, a.channel) for a in attempts] == [
        (True, "sent to 2 recipient(s)", "email:oncall@example.com,data@example.com")]
    (env,) = smtp.messages
    assert env.mail_from == "headwater@example.com"
    assert env.rcpt_tos == ["oncall@example.com", "data@example.com"]
    text = env.content.decode()
    assert "Subject: [headwater] FIRING finance-oncall: sales/revenue overdue" in text
    assert "sales/revenue is overdue" in text and "asset:     sales/revenue" in text


def test_recovery_mail_says_resolved(smtp):
    channel = hw_alerts.email("127.0.0.1", smtp.port, "headwater@example.com", "oncall@example.com")
    assert send(channel, resolved("finance-oncall", "sales/revenue", "overdue", at=AT))[0].ok
    text = smtp.messages[0].content.decode()
    assert "Subject: [headwater] RESOLVED finance-oncall: sales/revenue no longer overdue" in text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_with_the_password_from_the_environment(smtp_auth, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    channel = hw_alerts.email("127.0.0.1", smtp_auth.port, "hw@example.com", "oncall@example.com",
                              username="hw", password_env="SMTP_PASSWORD")
    assert send(channel)[0].ok
    assert len(smtp_auth.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_a_rejected_login_is_not_retried_and_never_shows_the_password(smtp_auth, monkeypatch, caplog):
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD + "-wrong")
    channel = hw_alerts.email("127.0.0.1", smtp_auth.port, "hw@example.com", "oncall@example.com",
                              username="hw", password_env="SMTP_PASSWORD")
    attempts = send(channel)
    assert [a.ok for a in attempts] == [False]
    assert attempts[0].detail.startswith("127.0.0.1 replied 535 ")
    assert PASSWORD not in attempts[0].detail and PASSWORD not in caplog.text
    assert smtp_auth.messages == []


def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_not(smtp):
    channel = hw_alerts.email("127.0.0.1", smtp.port, "hw@example.com", "oncall@example.com", max_attempts=3)
    smtp.reply = "451 4.3.0 mailbox busy"
    sleeps = []
    attempts = send(channel, sleeps=sleeps)
    assert [a.ok for a in attempts] == [False, False, False] and sleeps == [1.0, 2.0]
    assert attempts[0].detail == "127.0.0.1 replied 451 4.3.0 mailbox busy"
    smtp.reply = "554 5.7.1 rejected"
    attempts = send(channel)
    assert [(a.ok, a.detail) for a in attempts] == [(False, "127.0.0.1 replied 554 5.7.1 rejected")]


def test_starttls_against_a_server_without_it_fails_clearly(smtp):
    channel = hw_alerts.email("127.0.0.1", smtp.port, "hw@example.com", "oncall@example.com", starttls=True)
    attempts = send(channel)
    assert [a.ok for a in attempts] == [False]
    assert "STARTTLS" in attempts[0].detail


def test_missing_password_variable_names_it(monkeypatch):
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    channel = hw_alerts.email("127.0.0.1", 1, "hw@example.com", "oncall@example.com", username="hw",
                              password_env="SMTP_PASSWORD")
    assert [(a.ok, a.detail) for a in send(channel)] == [
        (False, "environment variable SMTP_PASSWORD (the SMTP password) is not set")]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"to": []}, "to must list"),
    ({"to": "not-an-address"}, "to must list"),
    ({"sender": "nobody"}, "sender"),
    ({"username": "hw"}, "username and password_env go together"),
])
def test_bad_email_channels_are_definition_errors(kwargs, message):
    args = {"host": "smtp.example.com", "port": 587, "sender": "hw@example.com", "to": "a@example.com"} | kwargs
    with pytest.raises(DefinitionError, match=message):
        hw_alerts.email(**args)
