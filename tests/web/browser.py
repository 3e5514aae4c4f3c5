"""Serving the UI on a real socket and driving Debian's Chromium with Playwright."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def images_dir() -> Path:
    """Where the browser tests save their screenshots: the README's ``docs/images`` only when
    asked (``HEADWATER_REFRESH_SCREENSHOTS=1``), so that running the tests leaves the checkout
    as it was; otherwise a temporary folder (the screenshots are still taken)."""
    if os.environ.get("HEADWATER_REFRESH_SCREENSHOTS") == "1":
        return Path(__file__).resolve().parents[2] / "docs" / "images"
    return Path(tempfile.mkdtemp(prefix="hw-screenshots-"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with Uvicorn in a thread; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium(width: int = 1400, height: int = 860) -> Iterator[Any]:
    """A fresh headless Chromium context (its own profile), never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="hw-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            yield context
        finally:
            context.close()
