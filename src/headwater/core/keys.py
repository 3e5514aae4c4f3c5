"""Asset keys: path-like names such as ``sales/revenue``.

A key is a tuple of components so that prefixes (``key_prefix``) compose without string
surgery; its string form joins the components with ``/`` and is what users type, what
the store records and what selection globs match.
"""

from __future__ import annotations

import re
from typing import Union

from headwater.errors import KeySyntaxError

_COMPONENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


# Every key is interned: one object per path in a process. Equality and hashing are then
# the object's identity, both done in C; a status of 10,000 assets looks keys up in dicts a
# few hundred thousand times, and a Python ``__eq__``/``__hash__`` was a tenth of its time.
_BY_PATH: dict[tuple[str, ...], AssetKey] = {}
_BY_TEXT: dict[str, AssetKey] = {}


class AssetKey:
    """An interned, immutable key: ``AssetKey(("a", "b")) is AssetKey.parse("a/b")``."""

    __slots__ = ("path", "_str")
    path: tuple[str, ...]
    _str: str

    def __new__(cls, path: tuple[str, ...]) -> AssetKey:
        try:
            known = _BY_PATH.get(path)
        except TypeError:  # an unhashable component: validation below names it
            known = None
        if known is not None:
            return known
        path = tuple(path)
        if not path:
            raise KeySyntaxError("", "a key needs at least one component")
        for part in path:
            if not isinstance(part, str) or not _COMPONENT.match(part):
                raise KeySyntaxError(
                    "/".join(map(str, path)),
                    f"component {part!r} must start with a letter, digit or '_' and contain only "
                    "letters, digits, '_', '-' or '.'",
                )
        self = object.__new__(cls)
        text = "/".join(path)
        _SET_PATH(self, path)  # the slots' own setters: ``object.__setattr__`` looks each up by name
        _SET_STR(self, text)
        # Two threads may build the same new key at once: both get the one stored first.
        key = _BY_PATH.setdefault(path, self)
        _BY_TEXT.setdefault(text, key)
        return key

    @staticmethod
    def parse(text: str) -> AssetKey:
        known = _BY_TEXT.get(text) if type(text) is str else None
        if known is not None:
            return known
        if not isinstance(text, str):
            raise KeySyntaxError(repr(text), "a key must be a string")
        if text == "" or text.startswith("/") or text.endswith("/") or "//" in text:
            raise KeySyntaxError(text, "empty component (keys look like 'a' or 'a/b')")
        return AssetKey(tuple(text.split("/")))

    def with_prefix(self, prefix: tuple[str, ...]) -> AssetKey:
        return AssetKey(tuple(prefix) + self.path)

    @property
    def name(self) -> str:
        """The last component: what a parameter name refers to."""
        return self.path[-1]

    @property
    def prefix(self) -> tuple[str, ...]:
        return self.path[:-1]

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"AssetKey(path={self.path!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"AssetKey is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"AssetKey is immutable (cannot delete {name!r})")

    def __lt__(self, other: AssetKey) -> bool:
        return self.path < other.path

    def __le__(self, other: AssetKey) -> bool:
        return self.path <= other.path

    def __gt__(self, other: AssetKey) -> bool:
        return self.path > other.path

    def __ge__(self, other: AssetKey) -> bool:
        return self.path >= other.path

    def __reduce__(self) -> tuple[type[AssetKey], tuple[tuple[str, ...]]]:
        # Rebuilt through the constructor, so an unpickled key is the receiving process's one.
        return (AssetKey, (self.path,))

    def __copy__(self) -> AssetKey:
        return self

    def __deepcopy__(self, memo: object) -> AssetKey:
        return self


known_key = _BY_TEXT.get
"""The interned key of a text already met, else None: one lookup where a hot loop reads many."""

_SET_PATH = AssetKey.__dict__["path"].__set__
_SET_STR = AssetKey.__dict__["_str"].__set__

CoercibleToKey = Union[str, AssetKey, tuple, list]


def to_key(value: CoercibleToKey) -> AssetKey:
    """Accept what users naturally write: "a/b", ["a", "b"], or an AssetKey."""
    if type(value) is str:  # the usual: a key already known is one lookup (loading 10,000 assets: 30,000 calls)
        known = _BY_TEXT.get(value)
        if known is not None:
            return known
        return AssetKey.parse(value)
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.parse(value)
    if isinstance(value, (tuple, list)):
        return AssetKey(tuple(value))
    raise KeySyntaxError(repr(value), "expected a string like 'a/b', a list of components or an AssetKey")
