"""Docstrings as HTML: the API page shows each operation's description, written in the
small reStructuredText our docstrings use (````code````, ```code```, ``*emphasis*``,
``**strong**``, blank-line paragraphs), not as raw markup.

Escape first, then mark up: nothing in a docstring can inject HTML.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_INLINE = (
    (re.compile(r"``(.+?)``"), r"<code>\1</code>"),
    (re.compile(r"(?<![\w`])`([^`]+?)`(?![\w`])"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])"), r"<em>\1</em>"),
)


def doc_html(text: str) -> Markup:
    """Paragraphs of the docstring, inline markup rendered, everything else escaped."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines())
                  for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]
    out = []
    for p in paragraphs:
        html = str(escape(p))
        for pattern, repl in _INLINE:
            html = pattern.sub(repl, html)
        out.append(f"<p>{html}</p>")
    return Markup("".join(out))
