"""Where in the user's file a definition error was raised, and for which asset.

A bad freshness cron (or any other ``DefinitionError``) raised while a decorator's
arguments are evaluated is raised before the asset exists, so the error alone cannot name
it (issue 17's bad-input corpus: "invalid cron expression" with no asset). The traceback
can: its last frame in the user's file is the decorator line, and the ``def`` below it
names the asset.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path

_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)")
_ASSIGN = re.compile(r"^\s*(\w+)\s*=")


def annotate(exc: BaseException, user_file: str | None) -> None:
    """Append ``(file:line, in the definition of asset 'name')`` to ``exc``'s message, in place."""
    if user_file is None or not exc.args or not isinstance(exc.args[0], str):
        return
    target = str(Path(user_file).resolve())
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if str(Path(tb.tb_frame.f_code.co_filename).resolve()) == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None:
        return
    where = f"{Path(user_file).name}:{line}"
    name = _asset_name(target, line)
    exc.args = (f"{exc.args[0]} ({where}" + (f", in the definition of {name!r})" if name else ")"), *exc.args[1:])


def _asset_name(path: str, line: int) -> str | None:
    """The statement holding ``line`` (walking up to its first, unindented line): a decorator
    names the function below it; an assignment names its target."""
    for n in range(line, max(0, line - 40), -1):
        text = linecache.getline(path, n)
        if not text.strip() or text[0] in " \t)]}":
            continue
        if text.startswith("@"):
            return _function_below(path, n)
        m = _ASSIGN.match(text)
        return m.group(1) if m else None
    return None


def _function_below(path: str, line: int) -> str | None:
    for n in range(line + 1, line + 60):
        following = linecache.getline(path, n)
        if not following:
            return None
        m = _DEF.match(following)
        if m:
            return m.group(1)
    return None
