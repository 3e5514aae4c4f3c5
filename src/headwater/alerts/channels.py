"""Alert channels: a webhook, a shell command, e-mail over SMTP.

A channel delivers one alert once (`Channel.send`); retrying is the dispatcher's job,
driven by the channel's ``max_attempts`` and ``backoff``. A failed try raises
`DeliveryError` saying whether another try could help (a refused connection or an HTTP
503 could; an HTTP 400 or a bad password will not).

Secrets are read from the environment when an alert is sent, never stored in the rule,
and never appear in a channel's ``label`` or ``repr``, in an error, a log line or a
recorded attempt: every detail a channel produces goes through a redactor that knows the
secret values in play (the signing secret, credential headers, the SMTP password and the
parts of a webhook URL that commonly carry a token — its path, query and password).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shlex
import signal
import subprocess
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from headwater.core.events import AlertState, AlertTransition
from headwater.errors import DefinitionError, HeadwaterError

if TYPE_CHECKING:
    from email.message import EmailMessage

# smtplib, ssl, urllib.request, http.client and email are imported where an alert is sent:
# every process that imports the service imports this module (rules are definitions), and
# those modules were ~25 ms of each ``headwater`` command that sends nothing.

REDACTED = "***"
_SENSITIVE_HEADER_WORDS = ("auth", "token", "secret", "key", "pass", "cookie", "session", "signature")


class DeliveryError(HeadwaterError):
    """One try at delivering an alert failed; ``detail`` is safe to record (already redacted)."""

    def __init__(self, detail: str, retryable: bool) -> None:
        self.detail = detail
        self.retryable = retryable
        super().__init__(detail)


@runtime_checkable
class Channel(Protocol):
    """Where alerts go. Implement these four members to add a channel of your own."""

    @property
    def label(self) -> str:
        """What the store records as the channel: identifies it, carries no secret."""

    @property
    def max_attempts(self) -> int: ...

    @property
    def backoff(self) -> float:
        """Seconds before the second try; doubled before each further one."""

    def send(self, alert: AlertTransition) -> str:
        """Deliver once; return a short success detail or raise `DeliveryError`."""


# --- what every channel sends ----------------------------------------------------------


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def alert_payload(alert: AlertTransition) -> dict[str, Any]:
    """The alert as JSON-ready data: what a webhook posts and a shell command reads on stdin."""
    return {"rule": alert.rule, "asset": str(alert.key), "state": str(alert.state),
            "condition": alert.condition, "detail": alert.detail, "at": iso_time(alert.timestamp)}


def describe_condition(condition: str) -> str:
    """``overdue,check_failed:rows`` -> ``overdue, check rows failed``."""
    words = []
    for part in filter(None, condition.split(",")):
        kind, _, check = part.partition(":")
        if kind == "check_failed":
            words.append(f"check {check} failed" if check else "check failed")
        else:
            words.append(kind)
    return ", ".join(words)


def subject(alert: AlertTransition) -> str:
    """``[headwater] FIRING finance-oncall: revenue overdue`` (``... no longer overdue`` on RESOLVED)."""
    what = describe_condition(alert.condition)
    if alert.state == AlertState.RESOLVED:
        what = f"no longer {what}" if what else "resolved"
    return f"[headwater] {str(alert.state).upper()} {alert.rule}: {alert.key} {what}".rstrip()


class Redactor:
    """Replaces every known secret value in a text by ``***`` (longest first)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def _tail(data: bytes | str | None, limit: int = 300, end: bool = True) -> str:
    """The last (or, with ``end=False``, first) ``limit`` characters, whitespace collapsed."""
    if not data:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return "…" + text[-limit:] if end else text[:limit] + "…"


def _check_retry(kind: str, max_attempts: int, backoff: float, timeout: float) -> None:
    if not isinstance(max_attempts, int) or max_attempts < 1:
        raise DefinitionError(f"{kind} channel: max_attempts must be an integer >= 1, not {max_attempts!r}")
    if backoff < 0:
        raise DefinitionError(f"{kind} channel: backoff must be >= 0 seconds, not {backoff!r}")
    if timeout <= 0:
        raise DefinitionError(f"{kind} channel: timeout must be > 0 seconds, not {timeout!r}")


# --- webhook ----------------------------------------------------------------------------


@cache
def _opener() -> Any:
    """A URL opener that follows no redirect: a redirect would replay credentials to another
    URL, so it is reported instead."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirect())


def _is_sensitive(header: str) -> bool:
    lower = header.lower()
    return any(word in lower for word in _SENSITIVE_HEADER_WORDS)


def _credential_parts(value: str) -> list[str]:
    """The value, and for ``Bearer xyz``/``Basic xyz`` the credential alone (a server may echo it)."""
    parts = [value]
    scheme, _, credential = value.partition(" ")
    if credential.strip():
        parts.append(credential.strip())
    return parts


@dataclass(frozen=True, slots=True, repr=False)
class WebhookChannel:
    """POST the alert as JSON; see `webhook`."""

    url: str
    secret_env: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    headers_env: tuple[tuple[str, str], ...] = ()
    timeout: float = 5.0
    max_attempts: int = 4
    backoff: float = 0.5
    _parts: urllib.parse.SplitResult = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.url, str):
            raise DefinitionError("webhook channel: url must be a string")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DefinitionError(f"webhook channel: url must be an http:// or https:// URL with a host "
                                  f"(got scheme {parts.scheme or 'none'!r})")
        object.__setattr__(self, "_parts", parts)
        _check_retry("webhook", self.max_attempts, self.backoff, self.timeout)

    def _target(self) -> tuple[str, dict[str, str]]:
        """The URL to request, and the Basic auth header its ``user:password@`` part asks for."""
        parts = self._parts
        if parts.username is None:
            return self.url, {}
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        userinfo = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(userinfo.encode()).decode()
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), {"Authorization": auth}

    @property
    def label(self) -> str:
        # Scheme and host only: many services (Slack, Teams, Discord) put the token in the path.
        port = f":{self._parts.port}" if self._parts.port else ""
        return f"webhook:{self._parts.scheme}://{self._parts.hostname}{port}"

    def __repr__(self) -> str:
        return f"WebhookChannel({self.label})"

    def send(self, alert: AlertTransition) -> str:
        redact = Redactor(self._static_secrets())
        try:
            secret, env_headers = self._read_environment()
            redact = Redactor(self._static_secrets() + [secret] + [p for _, v in env_headers
                                                                   for p in _credential_parts(v)])
            return self._post(alert, secret, env_headers, redact)
        except DeliveryError:
            raise
        except Exception as exc:  # never let an unexpected error carry a secret out
            raise DeliveryError(redact(f"{type(exc).__name__}: {exc}"), retryable=False) from None

    def _static_secrets(self) -> list[str | None]:
        url, auth = self._target()
        secrets: list[str | None] = [self.url, url, self._parts.password, self._parts.query]
        secrets.extend(p for v in auth.values() for p in _credential_parts(v))
        if len(self._parts.path) > 1:  # and its long segments, which a server may echo alone
            secrets.append(self._parts.path)
            secrets.extend(seg for seg in self._parts.path.split("/") if len(seg) >= 8)
        for _, value in urllib.parse.parse_qsl(self._parts.query):
            secrets.append(value)
        for name, value in self.headers:
            if _is_sensitive(name):
                secrets.extend(_credential_parts(value))
        return secrets

    def _read_environment(self) -> tuple[str | None, list[tuple[str, str]]]:
        secret = None
        if self.secret_env:
            secret = os.environ.get(self.secret_env)
            if not secret:
                raise DeliveryError(f"environment variable {self.secret_env} (the webhook signing secret) "
                                    "is not set", retryable=False)
        env_headers = []
        for name, var in self.headers_env:
            value = os.environ.get(var)
            if value is None:
                raise DeliveryError(f"environment variable {var} (for header {name}) is not set",
                                    retryable=False)
            env_headers.append((name, value))
        return secret, env_headers

    def _post(self, alert: AlertTransition, secret: str | None, env_headers: list[tuple[str, str]],
              redact: Redactor) -> str:
        import ssl
        import urllib.error
        import urllib.request
        from http.client import HTTPException

        body = json.dumps(alert_payload(alert), sort_keys=True).encode()
        url, auth = self._target()
        headers = {"Content-Type": "application/json", "User-Agent": "headwater-alerts", **auth}
        headers.update(dict(self.headers))
        headers.update(dict(env_headers))
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Headwater-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        host = self._parts.hostname
        try:
            with _opener().open(request, timeout=self.timeout) as response:
                return f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            with exc:
                # Redact before cutting, so that no partial secret survives at the cut.
                text = _tail(redact(exc.read(1024).decode("utf-8", "replace")), 200, end=False)
            detail = f"HTTP {exc.code} {exc.reason}" + (f": {text}" if text else "")
            if 300 <= exc.code < 400:
                detail += " (redirects are not followed: point the webhook at the final URL)"
            # 5xx, and 408/429 (the server asks us to come back later), may succeed on retry.
            retryable = exc.code >= 500 or exc.code in (408, 429)
            raise DeliveryError(redact(detail), retryable=retryable) from None
        except urllib.error.URLError as exc:
            verify = isinstance(exc.reason, ssl.SSLCertVerificationError)
            raise DeliveryError(redact(f"could not reach {host}: {exc.reason}"), retryable=not verify) from None
        except (OSError, HTTPException) as exc:  # timeouts, resets, a garbled response
            reason = str(exc) or type(exc).__name__
            raise DeliveryError(redact(f"could not reach {host}: {reason}"), retryable=True) from None


def webhook(url: str, secret_env: str | None = None, headers: Mapping[str, str] | None = None,
            timeout: float = 5, max_attempts: int = 4, backoff: float = 0.5,
            headers_env: Mapping[str, str] | None = None) -> WebhookChannel:
    """POST each alert as JSON ``{rule, asset, state, condition, detail, at}`` to ``url``.

    With ``secret_env``, the body is signed with the secret read from that environment
    variable: ``X-Headwater-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
    ``headers_env`` maps header names to environment variables holding their values
    (``{"Authorization": "HOOK_TOKEN"}``) so tokens stay out of code; ``user:password@``
    in the URL is sent as Basic auth. Connection errors,
    5xx, 408 and 429 are retried up to ``max_attempts`` tries in all, waiting ``backoff``
    seconds and doubling; other 4xx are not. Redirects are not followed.
    """
    return WebhookChannel(url, secret_env, tuple((headers or {}).items()), tuple((headers_env or {}).items()),
                          float(timeout), max_attempts, float(backoff))


# --- shell ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShellChannel:
    """Run a command per alert; see `shell`."""

    command: tuple[str, ...] | str
    timeout: float = 30.0
    max_attempts: int = 1
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.command, str):
            if not self.command.strip():
                raise DefinitionError("shell channel: the command is empty")
        else:
            command = tuple(self.command)
            if not command or not all(isinstance(a, str) for a in command):
                raise DefinitionError("shell channel: the command must be a string or a non-empty list of strings")
            object.__setattr__(self, "command", command)
        _check_retry("shell", self.max_attempts, self.backoff, self.timeout)

    @property
    def label(self) -> str:
        if isinstance(self.command, str):
            try:
                program = shlex.split(self.command)[0]
            except (ValueError, IndexError):
                program = "sh"
        else:
            program = self.command[0]
        return f"shell:{os.path.basename(program)}"

    def send(self, alert: AlertTransition) -> str:
        payload = json.dumps(alert_payload(alert), sort_keys=True).encode()
        env = dict(os.environ)
        env.update({
            "HEADWATER_ALERT_RULE": alert.rule,
            "HEADWATER_ALERT_ASSET": str(alert.key),
            "HEADWATER_ALERT_STATE": str(alert.state),
            "HEADWATER_ALERT_CONDITION": alert.condition,
            "HEADWATER_ALERT_DETAIL": alert.detail,
            "HEADWATER_ALERT_AT": iso_time(alert.timestamp),
        })
        use_shell = isinstance(self.command, str)
        try:
            proc = subprocess.Popen(self.command, shell=use_shell, env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=hasattr(os, "killpg"))
        except OSError as exc:
            raise DeliveryError(f"could not start {self.label[6:]}: {exc.strerror or exc}", retryable=False) from None
        try:
            _, stderr = proc.communicate(payload, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            _, stderr = proc.communicate()
            raise DeliveryError(f"timed out after {self.timeout:g}s and was killed"
                                + (f"; stderr: {_tail(stderr)}" if stderr else ""), retryable=True) from None
        if proc.returncode != 0:
            tail = _tail(stderr)
            raise DeliveryError(f"exited with status {proc.returncode}" + (f"; stderr: {tail}" if tail else ""),
                                retryable=True)
        return "exited with status 0"


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and anything it started (a shell's children would keep the pipes open)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except ProcessLookupError:
        pass


def shell(command: list[str] | tuple[str, ...] | str, timeout: float = 30, max_attempts: int = 1,
          backoff: float = 1.0) -> ShellChannel:
    """Run ``command`` for each alert, with the alert as JSON on stdin and in the environment
    (``HEADWATER_ALERT_RULE``, ``_ASSET``, ``_STATE``, ``_CONDITION``, ``_DETAIL``, ``_AT``).

    A list runs the program directly; a string runs through ``/bin/sh`` (pipes and
    redirections work). A non-zero exit or running past ``timeout`` seconds (the command
    and its children are then killed) is a failed attempt whose detail ends with the
    command's stderr.
    """
    cmd = command if isinstance(command, str) else tuple(command)
    return ShellChannel(cmd, float(timeout), max_attempts, float(backoff))


# --- e-mail -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailChannel:
    """Send a mail per alert through an SMTP server; see `email`."""

    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    username: str | None = None
    password_env: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    max_attempts: int = 3
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if not self.host:
            raise DefinitionError("email channel: host is empty")
        if not self.to or not all(isinstance(a, str) and "@" in a for a in self.to):
            raise DefinitionError(f"email channel: to must list one or more e-mail addresses, not {self.to!r}")
        if "@" not in self.sender:
            raise DefinitionError(f"email channel: sender {self.sender!r} is not an e-mail address")
        if bool(self.password_env) != bool(self.username):
            raise DefinitionError("email channel: username and password_env go together (the password is "
                                  "read from the environment variable password_env names)")
        _check_retry("email", self.max_attempts, self.backoff, self.timeout)

    @property
    def label(self) -> str:
        return "email:" + ",".join(self.to)

    def message(self, alert: AlertTransition) -> EmailMessage:
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        msg = EmailMessage()
        msg["Subject"] = subject(alert)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(alert.timestamp, usegmt=True)
        msg["Message-ID"] = make_msgid("headwater", domain=self.sender.rpartition("@")[2])
        lines = [alert.detail, "", f"rule:      {alert.rule}", f"asset:     {alert.key}",
                 f"state:     {str(alert.state).upper()}", f"condition: {alert.condition}",
                 f"at:        {iso_time(alert.timestamp)}"]
        msg.set_content("\n".join(lines) + "\n")
        return msg

    def send(self, alert: AlertTransition) -> str:
        password = None
        if self.password_env:
            password = os.environ.get(self.password_env)
            if password is None:
                raise DeliveryError(f"environment variable {self.password_env} (the SMTP password) is not set",
                                    retryable=False)
        import smtplib
        import ssl

        redact = Redactor([password])
        try:
            return self._send(alert, password)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(f"{addr} ({code})" for addr, (code, _) in exc.recipients.items())
            raise DeliveryError(redact(f"all recipients refused: {refused}"), retryable=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(redact(f"{self.host}: TLS certificate not trusted: {exc.verify_message}"),
                                retryable=False) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(redact(f"{self.host}: {exc}"), retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            message = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            # 4xx replies are temporary by definition (RFC 5321); 5xx are permanent.
            raise DeliveryError(f"{self.host} replied {exc.smtp_code} {_tail(redact(message))}",
                                retryable=400 <= exc.smtp_code < 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            reason = str(exc) or type(exc).__name__
            raise DeliveryError(redact(f"could not talk to {self.host}:{self.port}: {reason}"),
                                retryable=True) from None
        except Exception as exc:  # never let an unexpected error carry the password out
            raise DeliveryError(redact(f"{type(exc).__name__}: {exc}"), retryable=False) from None

    def _send(self, alert: AlertTransition, password: str | None) -> str:
        import smtplib
        import ssl

        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and password is not None:
                smtp.login(self.username, password)
            refused = smtp.send_message(self.message(alert))
        if refused:
            return "sent; refused: " + ", ".join(f"{addr} ({code})" for addr, (code, _) in refused.items())
        return f"sent to {len(self.to)} recipient(s)"


def email(host: str, port: int, sender: str, to: str | Iterable[str], username: str | None = None,
          password_env: str | None = None, starttls: bool = False, timeout: float = 10,
          max_attempts: int = 3, backoff: float = 1.0) -> EmailChannel:
    """Mail each alert from ``sender`` to ``to`` through the SMTP server at ``host:port``.

    Subject: ``[headwater] FIRING <rule>: <asset> <condition>`` (``RESOLVED ... no longer
    ...`` on recovery). With ``username``, logs in with the password read from the
    environment variable ``password_env``; ``starttls`` upgrades the connection first.
    Connection errors and 4xx replies are retried; 5xx replies are not.
    """
    recipients = (to,) if isinstance(to, str) else tuple(to)
    return EmailChannel(host, int(port), sender, recipients, username, password_env, bool(starttls),
                        float(timeout), max_attempts, float(backoff))
