"""How ``headwater ui`` was started, apart from the web stack: the CLI builds it before
anything imports FastAPI (``front.py`` answers the first page without it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from headwater.errors import HeadwaterError
from headwater.web.security import Guard, is_loopback

TOKEN_ENV = "HEADWATER_UI_TOKEN"


@dataclass
class UiConfig:
    """How the UI was started: ``headwater ui --host ... --read-only --launch ...``."""

    host: str = "127.0.0.1"
    port: int = 3000
    read_only: bool = False
    token: str | None = field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None)
    launch: str = "auto"
    poll_seconds: float = 2.0

    def validate(self) -> None:
        if not is_loopback(self.host) and not self.read_only and not self.token:
            raise HeadwaterError(
                f"the UI would listen on {self.host}, which is not loopback: set {TOKEN_ENV} so that actions "
                "need a token, or pass --read-only")

    def new_guard(self) -> Guard:
        """Who may act, with a new secret for this server's CSRF tokens."""
        return Guard(read_only=self.read_only, token=self.token, loopback=is_loopback(self.host))

    def listening(self) -> str:
        """The line ``headwater ui`` prints once it listens."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        mode = " (read-only)" if self.read_only else " (actions need HEADWATER_UI_TOKEN)" if self.token else ""
        return f"Headwater UI on http://{host}:{self.port}{mode} — Ctrl-C to stop"
