"""The web UI: ``headwater ui``. Presentation only: parse, call the service, render.

``create_app`` is imported on first use: ``headwater ui`` answers its first page before
FastAPI is imported (``front.py``), and reaches this package's light modules without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.web.ui_config import UiConfig

if TYPE_CHECKING:
    from headwater.web.app import create_app

__all__ = ["UiConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from headwater.web.app import create_app

        return create_app
    raise AttributeError(f"module 'headwater.web' has no attribute {name!r}")
