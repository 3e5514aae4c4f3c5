"""The web UI: ``headwater ui``. Presentation only: parse, call the service, render."""

from headwater.web.app import create_app
from headwater.web.context import UiConfig

__all__ = ["UiConfig", "create_app"]
