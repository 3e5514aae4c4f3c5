"""Who may act, and proof that a form was sent by our own page.

* Reads are open; actions (materialize, observe, run checks, toggle a schedule) are POSTs.
* ``--read-only`` refuses every action.
* On any address other than loopback an action needs ``HEADWATER_UI_TOKEN``: as
  ``Authorization: Bearer TOKEN`` (scripts) or the cookie the /login form sets (browsers).
  The UI refuses to start on such an address without a token unless it is read-only.
* CSRF: signed double submit. Each browser gets a random ``hw_csrf`` cookie (SameSite=Strict);
  pages carry ``HMAC(secret, cookie)`` in a meta tag and in every form, and a POST must send
  it back (form field ``csrf_token`` or header ``X-CSRF-Token``). A request with the bearer
  token needs no CSRF proof: a browser never adds that header on its own. Cross-site
  requests (``Sec-Fetch-Site: cross-site``, or an ``Origin`` naming another host) are refused.
* On loopback, the ``Host`` header must name loopback too, so a page on another site cannot
  reach the UI through DNS rebinding and read a CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # FastAPI is imported with the app, not before (``front.py`` answers without it)
    from fastapi import Request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# Set on every answer (``app.py``'s middleware, ``front.py``), after a handler's own headers.
ANSWER_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                  ("Referrer-Policy", "same-origin"))
CSRF_COOKIE = "hw_csrf"
TOKEN_COOKIE = "hw_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """``[::1]:3000`` -> ``::1``; ``localhost:3000`` -> ``localhost``."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@dataclass
class Guard:
    read_only: bool
    token: str | None
    loopback: bool
    secret: bytes = b""

    def __post_init__(self) -> None:
        self.secret = self.secret or secrets.token_bytes(32)

    @property
    def token_required(self) -> bool:
        return self.token is not None

    # -- CSRF --------------------------------------------------------------------------------

    def csrf_for(self, cookie: str) -> str:
        return hmac.new(self.secret, cookie.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(24)

    # -- checks ------------------------------------------------------------------------------

    def host_allowed(self, request: Request) -> bool:
        return self.host_header_allowed(request.headers.get("host", ""))

    def host_header_allowed(self, host: str) -> bool:
        return not self.loopback or is_loopback(host_name(host))

    def has_token(self, request: Request) -> bool:
        if self.token is None:
            return False
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else request.cookies.get(TOKEN_COOKIE, "")
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def check_action(self, request: Request, form_token: str | None = None) -> None:
        """Raise 403/401 unless this request may change something."""
        from fastapi import HTTPException

        if self.read_only:
            raise HTTPException(403, "this UI is read-only (started with --read-only)")
        bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
        if self.token_required and not self.has_token(request):
            raise HTTPException(401, "actions need the UI token: log in at /login, or send "
                                     "Authorization: Bearer $HEADWATER_UI_TOKEN")
        if bearer and self.has_token(request):
            return
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise HTTPException(403, "cross-site request refused")
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            raise HTTPException(403, "request from another origin refused")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = form_token or request.headers.get("x-csrf-token", "")
        if not cookie or not sent or not hmac.compare_digest(sent, self.csrf_for(cookie)):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
