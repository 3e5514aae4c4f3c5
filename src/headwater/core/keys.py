"""Asset keys: path-like names such as ``sales/revenue``.

A key is a tuple of components so that prefixes (``key_prefix``) compose without string
surgery; its string form joins the components with ``/`` and is what users type, what
the store records and what selection globs match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from headwater.errors import KeySyntaxError

_COMPONENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True, slots=True, eq=False)
class AssetKey:
    path: tuple[str, ...]
    _str: str = field(default="", compare=False, repr=False)
    _hash: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.path:
            raise KeySyntaxError("", "a key needs at least one component")
        for part in self.path:
            if not isinstance(part, str) or not _COMPONENT.match(part):
                raise KeySyntaxError(
                    "/".join(map(str, self.path)),
                    f"component {part!r} must start with a letter, digit or '_' and contain only "
                    "letters, digits, '_', '-' or '.'",
                )
        text = "/".join(self.path)
        object.__setattr__(self, "_str", text)
        object.__setattr__(self, "_hash", hash(text))

    @staticmethod
    def parse(text: str) -> AssetKey:
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

    def __hash__(self) -> int:
        return self._hash

    # Hand-written: keys decoded from the store are equal but not identical to the graph's,
    # and status compares them tens of thousands of times per call.
    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is AssetKey:
            return self._str == other._str  # type: ignore[attr-defined]
        return NotImplemented

    def __lt__(self, other: AssetKey) -> bool:
        return self.path < other.path

    def __reduce__(self) -> tuple[type[AssetKey], tuple[tuple[str, ...]]]:
        # Rebuild from the path: the cached hash of a str differs between processes.
        return (AssetKey, (self.path,))


CoercibleToKey = Union[str, AssetKey, tuple, list]


def to_key(value: CoercibleToKey) -> AssetKey:
    """Accept what users naturally write: "a/b", ["a", "b"], or an AssetKey."""
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.parse(value)
    if isinstance(value, (tuple, list)):
        return AssetKey(tuple(value))
    raise KeySyntaxError(repr(value), "expected a string like 'a/b', a list of components or an AssetKey")
