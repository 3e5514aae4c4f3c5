"""The Jinja2 environment of the pages, apart from FastAPI: ``front.py`` renders the graph
page with it before the app is imported, and ``pages.py`` adds the globals of the other
pages to it (their views import most of the web stack)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from headwater.web.state_names import HEALTHS, STATUS_FILTERS

TEMPLATES = Path(__file__).parent / "templates"


def json_script(value: Any) -> Markup:
    """JSON safe inside a ``<script>`` element."""
    return Markup(json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("&", "\\u0026"))


def environment() -> jinja2.Environment:
    """As Starlette's ``Jinja2Templates(directory=...)`` makes it, with the globals the graph
    page reads."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=jinja2.select_autoescape())
    env.globals.update(HEALTHS=HEALTHS, STATUS_FILTERS=STATUS_FILTERS, quote=quote)
    env.filters["json_script"] = json_script
    return env
