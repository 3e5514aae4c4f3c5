"""One error hierarchy for everything Headwater reports to a user.

Every error names the thing at fault (an asset key, a cycle's path, a selection term,
a file) so that a message alone is enough to find the culprit. The CLI maps
`HeadwaterError` to exit code 2 ("bad input"); anything else is a bug or a user
function failing, which is reported differently.
"""

from __future__ import annotations


class HeadwaterError(Exception):
    """Base for errors caused by bad input or a bad environment, never by our own bugs."""


class DefinitionError(HeadwaterError):
    """The user's definitions are invalid (found when they are loaded)."""


class KeySyntaxError(DefinitionError):
    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"invalid asset key {key!r}: {reason}")


class DuplicateKeyError(DefinitionError):
    def __init__(self, key: str, where: list[str]) -> None:
        self.key = key
        places = ", ".join(where)
        super().__init__(f"asset key {key!r} is defined more than once ({places})")


class UnknownKeyError(DefinitionError):
    def __init__(self, key: str, referenced_by: str, hint: str = "") -> None:
        self.key = key
        self.referenced_by = referenced_by
        msg = f"asset {referenced_by!r} depends on unknown asset {key!r}"
        super().__init__(msg + (f" ({hint})" if hint else ""))


class AssetNotFoundError(UnknownKeyError):
    """A command or request named an asset the project does not define."""

    def __init__(self, key: str, suggestions: list[str] | tuple[str, ...] = ()) -> None:
        self.key = key
        self.referenced_by = ""
        self.suggestions = tuple(suggestions)
        hint = f" (did you mean {' or '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        DefinitionError.__init__(self, f"no asset named {key!r}{hint}")


class CycleError(DefinitionError):
    def __init__(self, path: list[str]) -> None:
        self.path = path
        super().__init__("dependency cycle: " + " -> ".join(path))


class SelectionError(HeadwaterError):
    """A selection expression could not be parsed or names nothing known.

    `position` is the 0-based offset of the offending term in `expression`, so that
    interfaces can point at it.
    """

    def __init__(self, expression: str, position: int, reason: str) -> None:
        self.expression = expression
        self.position = position
        self.reason = reason
        pointer = " " * position + "^"
        super().__init__(f"bad selection: {reason}\n  {expression}\n  {pointer}")


class LoadError(HeadwaterError):
    """User code could not be imported; carries the user's own traceback text."""

    def __init__(self, location: str, message: str, user_traceback: str = "") -> None:
        self.location = location
        self.user_traceback = user_traceback
        super().__init__(f"could not load definitions from {location}: {message}")


class StorageError(HeadwaterError):
    """The event store is unreachable, corrupted, locked for too long, or from a newer version."""


class ValueStoreError(HeadwaterError):
    """A value could not be stored or loaded; names the asset and the store."""


class RunNotFoundError(HeadwaterError):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}")
