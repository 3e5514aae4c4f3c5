"""Asset selection: one small language shared by the CLI, the API, the UI and schedules.

    +sales/* and not tag:pii     the sales assets and everything upstream, minus PII
    2+sales/revenue+             revenue, two levels of its upstream, all of its downstream
    group:finance, owner:ana@x   the finance group, or anything Ana owns
    status:failed+               what is red now, and everything downstream of it
    roots(group:marts)           the marts that no other mart feeds

Grammar (whitespace is free between tokens, except that a depth touches its ``+``)::

    expr     = and_expr { ("or" | ",") and_expr }
    and_expr = not_expr { "and" not_expr }
    not_expr = "not" not_expr | unit
    unit     = [ [DEPTH] "+" ] primary [ "+" [DEPTH] ]
    primary  = "(" expr ")" | ("roots" | "sinks") "(" expr ")" | term
    term     = value | "key:" value | ("group:" | "kind:" | "owner:" | "location:") value
             | "tag:" value [ "=" value ] | "status:" STATE
    STATE    = failed | stale | missing | skipped | overdue | degraded
    value    = WORD | STRING
    WORD     = /[A-Za-z0-9_.\\-\\/@*]+/        keywords and/or/not (any case) excepted
    STRING   = '"' { any character, backslash escapes the next one } '"'
    DEPTH    = /[0-9]+/

Decisions worth knowing:

* ``*`` is the only glob character and matches any run of characters *including* ``/``,
  so ``sales/*`` is everything under ``sales/`` at any depth and ``*`` is everything.
* An exact key that does not exist is an error (with a "did you mean"), and so is a key
  glob or group that matches nothing, because keys and groups are names the user
  declared: a miss is a typo. ``tag:``, ``kind:`` and ``owner:`` are filters and may
  select nothing.
* Quoting only changes how text is split into tokens, never its meaning: ``"and"`` is
  the asset named ``and``; ``"sales/*"`` is still a glob. A bare all-digit word is a
  depth when a ``+`` touches it and a term follows (``2+x``); write ``"2"+`` for the asset
  named ``2`` and its downstream.
* ``x+2`` is ``x`` plus two levels downstream; ``0`` is a valid depth meaning "none", so
  ``0+x+`` equals ``x+`` and ``0+x`` equals ``x``.
* ``roots(e)`` is what in ``e`` has no parent in ``e``; ``sinks(e)`` what has no child in
  ``e``. A word is a function only when ``(`` follows it: ``roots`` alone is an asset.
* ``status:`` terms depend on the state of the store, which core never reads: whoever
  resolves passes ``statuses`` (state name -> keys, or a function returning that mapping,
  called only when a ``status:`` term is present). Without it a ``status:`` term is an
  error rather than an empty set, so no caller selects nothing by forgetting it.

The lexer, parser, renderer and resolver share this module (past the usual size) because
they are one language: a grammar change touches all four and none is used alone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.selection_locations import location_keys
from headwater.errors import KeySyntaxError, SelectionError

__all__ = [
    "And",
    "AttributeTerm",
    "KeyTerm",
    "Not",
    "Or",
    "Selection",
    "SetFunction",
    "StatusTerm",
    "STATES",
    "Traverse",
    "parse_selection",
    "select",
    "suggest_keys",
    "uses_status",
]

KEYWORDS = frozenset({"and", "or", "not"})
ATTRIBUTES = ("group", "tag", "kind", "owner", "location")  # plus "key:" (a KeyTerm) and "status:" (a StatusTerm)
STATES = ("failed", "stale", "missing", "skipped", "overdue", "degraded")
FUNCTIONS = ("roots", "sinks")
_EXPECT_TERM = "an asset key, group:, tag:, kind:, owner:, location:, status:, roots(, sinks( or '('"
StatusInput = Mapping[str, Collection[AssetKey]] | Callable[[], Mapping[str, Collection[AssetKey]]] | None
_WORD = re.compile(r"[A-Za-z0-9_.\-/@*]+")
_DIGITS = re.compile(r"[0-9]+")
_CHAR_HINTS = {
    "&": " (write 'and')",
    "|": " (write 'or')",
    "!": " (write 'not')",
    "~": " (write 'not')",
    "'": ' (quote with double quotes: "a/b")',
}


# --------------------------------------------------------------------------- AST


class Selection:
    """Base of the selection AST; ``str()`` renders canonical text that parses back equal.

    Nodes carry the offset of their text in the parsed expression (``pos``) so that errors
    found while resolving can point at the term; ``pos`` takes no part in equality.
    """

    __slots__ = ()

    def resolve(self, graph: AssetGraph, statuses: StatusInput = None) -> frozenset[AssetKey]:
        """The keys this selection names in ``graph`` (``statuses``: see the module notes).

        Errors point into the canonical rendering ``str(self)``; use `select` to have
        them point into the text the user typed.
        """
        try:
            return frozenset(_Resolver(graph, statuses).eval(self))
        except _TermError as exc:
            text, positions = _render(self)
            raise SelectionError(text, positions.get(id(exc.node), 0), exc.reason) from None

    def __str__(self) -> str:
        return _render(self)[0]


@dataclass(frozen=True, slots=True)
class KeyTerm(Selection):
    """An asset key, or a key glob when ``pattern`` contains ``*``."""

    pattern: str
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not self.pattern:
            raise ValueError("a key term needs a non-empty pattern")


@dataclass(frozen=True, slots=True)
class AttributeTerm(Selection):
    """``group:``, ``tag:``, ``kind:`` or ``owner:`` with a glob; ``value`` only for tags."""

    attribute: str
    pattern: str
    value: str | None = None
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.attribute not in ATTRIBUTES:
            raise ValueError(f"attribute must be one of {', '.join(ATTRIBUTES)}, not {self.attribute!r}")
        if self.value is not None and self.attribute != "tag":
            raise ValueError("only tag terms take a value")


@dataclass(frozen=True, slots=True)
class StatusTerm(Selection):
    """``status:STATE``: the assets in that state now, as the resolver is told."""

    state: str
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {self.state!r}")


@dataclass(frozen=True, slots=True)
class SetFunction(Selection):
    """``roots(child)`` or ``sinks(child)``: the members of ``child`` at its top or bottom edge."""

    name: str
    child: Selection
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.name not in FUNCTIONS:
            raise ValueError(f"function must be one of {', '.join(FUNCTIONS)}, not {self.name!r}")


@dataclass(frozen=True, slots=True)
class Traverse(Selection):
    """``child`` plus its upstream and downstream; a depth of None is unbounded, 0 is none."""

    up_depth: int | None
    down_depth: int | None
    child: Selection
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        for depth in (self.up_depth, self.down_depth):
            if depth is not None and (type(depth) is not int or depth < 0):
                raise ValueError(f"a depth is None (unbounded) or an int >= 0, not {depth!r}")
        if self.up_depth == 0 and self.down_depth == 0:
            raise ValueError("a traversal must go upstream or downstream")


@dataclass(frozen=True, slots=True)
class And(Selection):
    parts: tuple[Selection, ...]
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if len(self.parts) < 2:
            raise ValueError("'and' needs at least two parts")


@dataclass(frozen=True, slots=True)
class Or(Selection):
    parts: tuple[Selection, ...]
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if len(self.parts) < 2:
            raise ValueError("'or' needs at least two parts")


@dataclass(frozen=True, slots=True)
class Not(Selection):
    child: Selection
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)


# --------------------------------------------------------------------------- public functions


def parse_selection(text: str) -> Selection:
    """Parse ``text`` without a graph; raises SelectionError pointing at the bad token."""
    if not isinstance(text, str):
        raise TypeError(f"a selection is a string, not {type(text).__name__}")
    try:
        return _Parser(text).parse()
    except RecursionError:
        raise SelectionError(text, 0, "selection is nested too deeply") from None


def select(graph: AssetGraph, text: str, statuses: StatusInput = None) -> frozenset[AssetKey]:
    """Parse and resolve ``text``; every error points at the culprit in ``text``.

    ``statuses`` feeds ``status:`` terms (see the module notes); a validation that only
    wants names checked passes ``{}``."""
    selection = parse_selection(text)
    try:
        return frozenset(_Resolver(graph, statuses).eval(selection))
    except _TermError as exc:
        raise SelectionError(text, max(_pos(exc.node), 0), exc.reason) from None


def suggest_keys(graph: AssetGraph, text: str, n: int = 3) -> list[str]:
    """Keys a mistyped ``text`` may have meant: same last component first, else close spellings."""
    return _Resolver(graph).suggestions(text, n)


def uses_status(selection: Selection | str) -> bool:
    """Whether resolving needs the assets' state: callers skip reading it when it does not."""
    node = parse_selection(selection) if isinstance(selection, str) else selection
    if isinstance(node, StatusTerm):
        return True
    if isinstance(node, (Traverse, Not, SetFunction)):
        return uses_status(node.child)
    if isinstance(node, (And, Or)):
        return any(uses_status(p) for p in node.parts)
    return False


# --------------------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "string", "end", or the punctuation itself: ( ) , + : =
    text: str  # the word, the unescaped string, or the punctuation
    start: int
    end: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "(),+:=":
            tokens.append(_Token(c, c, i, i + 1))
            i += 1
        elif c == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise SelectionError(text, i, "unterminated quoted key: add the closing '\"'")
            tokens.append(_Token("string", "".join(buf), i, j + 1))
            i = j + 1
        else:
            m = _WORD.match(text, i)
            if m is None:
                raise SelectionError(text, i, f"unexpected character {c!r}{_CHAR_HINTS.get(c, '')}")
            tokens.append(_Token("word", m.group(), i, m.end()))
            i = m.end()
    tokens.append(_Token("end", "", n, n))
    return tokens


def _is_keyword(tok: _Token, word: str | None = None) -> bool:
    if tok.kind != "word":
        return False
    low = tok.text.lower()
    return low == word if word else low in KEYWORDS


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def parse(self) -> Selection:
        if self.peek().kind == "end":
            raise self.error(0, f"empty selection: expected {_EXPECT_TERM}")
        node = self.expr(None)
        tok = self.peek()
        if tok.kind != "end":
            raise self.unexpected(tok, in_parens=False)
        return node

    # ---- token helpers

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def error(self, position: int, reason: str) -> SelectionError:
        return SelectionError(self.text, position, reason)

    def describe(self, tok: _Token) -> str:
        return "the end" if tok.kind == "end" else repr(self.text[tok.start : tok.end])

    def starts_term(self, tok: _Token) -> bool:
        return tok.kind in ("string", "(") or (tok.kind == "word" and not _is_keyword(tok))

    def expected_term(self, after: _Token | None, tok: _Token) -> SelectionError:
        reason = f"expected {_EXPECT_TERM}"
        if after is not None:
            reason += f" after {self.describe(after)}"
        if tok.kind == "end":
            return self.error(after.start if after else 0, reason)
        reason += f", got {self.describe(tok)}"
        if _is_keyword(tok):
            reason += f' (to select an asset named {tok.text!r}, quote it: "{tok.text}")'
        return self.error(tok.start, reason)

    def unexpected(self, tok: _Token, in_parens: bool) -> SelectionError:
        if tok.kind == ")" and not in_parens:
            return self.error(tok.start, "unmatched ')'")
        if tok.kind == "+":
            return self.error(
                tok.start,
                "unexpected '+': a term takes at most one '+' on each side "
                "(use parentheses to traverse again, e.g. '+(a+)')",
            )
        joins = "'and', 'or', ',' or ')'" if in_parens else "'and', 'or' or ','"
        return self.error(tok.start, f"unexpected {self.describe(tok)}: join terms with {joins}")

    # ---- grammar rules

    def expr(self, after: _Token | None) -> Selection:
        parts = [self.and_expr(after)]
        while _is_keyword(self.peek(), "or") or self.peek().kind == ",":
            parts.append(self.and_expr(self.take()))
        return parts[0] if len(parts) == 1 else Or(tuple(parts), pos=_pos(parts[0]))

    def and_expr(self, after: _Token | None) -> Selection:
        parts = [self.not_expr(after)]
        while _is_keyword(self.peek(), "and"):
            parts.append(self.not_expr(self.take()))
        return parts[0] if len(parts) == 1 else And(tuple(parts), pos=_pos(parts[0]))

    def not_expr(self, after: _Token | None) -> Selection:
        tok = self.peek()
        if _is_keyword(tok, "not"):
            self.take()
            return Not(self.not_expr(tok), pos=tok.start)
        return self.unit(after)

    def unit(self, after: _Token | None) -> Selection:
        first = self.peek()
        up: int | None = 0
        down: int | None = 0
        plus = self.peek(1)
        if (
            first.kind == "word"
            and _DIGITS.fullmatch(first.text)
            and plus.kind == "+"
            and plus.start == first.end
            and self.starts_term(self.peek(2))
        ):
            self.i += 2
            up, after = self.depth(first), plus
        elif first.kind == "+":
            self.take()
            up, after = None, first
        child = self.primary(after)
        tok = self.peek()
        if tok.kind == "+":
            self.take()
            down = None
            depth = self.peek()
            if depth.kind == "word" and depth.start == tok.end and not _is_keyword(depth):
                self.take()
                if not _DIGITS.fullmatch(depth.text):
                    raise self.error(
                        depth.start,
                        f"depth after '+' must be a whole number, got {depth.text!r} "
                        "(to combine terms use 'and', 'or' or ',')",
                    )
                down = self.depth(depth)
        if up == 0 and down == 0:
            return child
        return Traverse(up, down, child, pos=first.start)

    def depth(self, tok: _Token) -> int:
        if len(tok.text) > 9:
            raise self.error(tok.start, f"depth {tok.text} is too large (leave it out for 'all levels')")
        return int(tok.text)

    def primary(self, after: _Token | None) -> Selection:
        tok = self.peek()
        if tok.kind == "(":
            self.take()
            inner = self.expr(tok)
            close = self.peek()
            if close.kind == "end":
                raise self.error(tok.start, "unclosed '(': expected ')'")
            if close.kind != ")":
                raise self.unexpected(close, in_parens=True)
            self.take()
            return inner
        if tok.kind == "string":
            self.take()
            return self.key_term(tok.text, tok.start)
        if tok.kind == "word" and not _is_keyword(tok):
            if self.peek(1).kind == ":":
                return self.attribute()
            if self.peek(1).kind == "(" and tok.text.lower() in FUNCTIONS:
                return self.function()
            self.take()
            return self.key_term(tok.text, tok.start)
        raise self.expected_term(after, tok)

    def function(self) -> Selection:
        name = self.take()
        open_ = self.take()
        inner = self.expr(open_)
        close = self.peek()
        if close.kind == "end":
            raise self.error(open_.start, f"unclosed '(' of {name.text.lower()}(: expected ')'")
        if close.kind != ")":
            raise self.unexpected(close, in_parens=True)
        self.take()
        return SetFunction(name.text.lower(), inner, pos=name.start)

    def attribute(self) -> Selection:
        name = self.take()
        self.take()  # the ':'
        attr = name.text.lower()
        if attr == "status":
            state = self.value(name, "expected a state after 'status:' (" + ", ".join(STATES) + ")")
            if state.lower() not in STATES:
                close = difflib.get_close_matches(state.lower(), STATES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(self.tokens[self.i - 1].start,
                                 f"unknown state {state!r}: expected one of {', '.join(STATES)}{hint}")
            return StatusTerm(state.lower(), pos=name.start)
        if attr != "key" and attr not in ATTRIBUTES:
            close = difflib.get_close_matches(attr, ("key", "status", *ATTRIBUTES), n=1)
            hint = f" (did you mean '{close[0]}:'?)" if close else ""
            raise self.error(
                name.start,
                f"unknown attribute {name.text + ':'!r}: expected key:, group:, tag:, kind:, owner:, location: or "
                f"status:{hint}",
            )
        noun = {"key": "an asset key", "tag": "a tag name"}.get(attr, f"a {attr} name")
        pattern = self.value(name, f"expected {noun} after '{attr}:'")
        if attr == "key":
            return self.key_term(pattern, name.start)
        value = None
        if self.peek().kind == "=":
            eq = self.take()
            if attr != "tag":
                raise self.error(eq.start, f"'=' only follows a tag name (tag:name=value), not {attr}:")
            value = self.value(name, "expected a tag value after '=' (quote an empty value: \"\")")
        return AttributeTerm(attr, pattern, value, pos=name.start)

    def value(self, term: _Token, reason: str) -> str:
        """A word or quoted string; when missing at the end, the error points at the term."""
        tok = self.peek()
        if tok.kind in ("word", "string"):
            self.take()
            return tok.text
        if tok.kind == "end":
            raise self.error(term.start, reason)
        raise self.error(tok.start, f"{reason}, got {self.describe(tok)}")

    def key_term(self, pattern: str, position: int) -> KeyTerm:
        if "*" not in pattern:
            try:
                AssetKey.parse(pattern)
            except KeySyntaxError as exc:
                raise self.error(position, str(exc)) from None
        return KeyTerm(pattern, pos=position)


def _pos(node: Selection) -> int:
    return int(getattr(node, "pos", -1))


# --------------------------------------------------------------------------- rendering


def _quote(text: str, key: bool = False) -> str:
    """Bare when it lexes back as one non-keyword word (and, for keys, is not a depth)."""
    if _WORD.fullmatch(text) and text.lower() not in KEYWORDS and not (key and _DIGITS.fullmatch(text)):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render(root: Selection) -> tuple[str, dict[int, int]]:
    """Canonical text for ``root``, and the offset of every node in it (by ``id``)."""
    out: list[str] = []
    positions: dict[int, int] = {}
    length = 0

    def emit(s: str) -> None:
        nonlocal length
        out.append(s)
        length += len(s)

    def wrapped(node: Selection, when: tuple[type, ...]) -> None:
        if isinstance(node, when):
            emit("(")
            walk(node)
            emit(")")
        else:
            walk(node)

    def walk(node: Selection) -> None:
        positions[id(node)] = length
        if isinstance(node, KeyTerm):
            emit(_quote(node.pattern, key=True))
        elif isinstance(node, StatusTerm):
            emit(f"status:{node.state}")
        elif isinstance(node, SetFunction):
            emit(f"{node.name}(")
            walk(node.child)
            emit(")")
        elif isinstance(node, AttributeTerm):
            emit(f"{node.attribute}:{_quote(node.pattern)}")
            if node.value is not None:
                emit("=" + _quote(node.value))
        elif isinstance(node, Traverse):
            if node.up_depth is None:
                emit("+")
            elif node.up_depth:
                emit(f"{node.up_depth}+")
            wrapped(node.child, (Traverse, Not, And, Or))
            if node.down_depth is None:
                emit("+")
            elif node.down_depth:
                emit(f"+{node.down_depth}")
        elif isinstance(node, Not):
            emit("not ")
            wrapped(node.child, (And, Or))
        elif isinstance(node, (And, Or)):
            inner: tuple[type, ...] = (And, Or) if isinstance(node, And) else (Or,)
            for i, part in enumerate(node.parts):
                if i:
                    emit(" and " if isinstance(node, And) else " or ")
                wrapped(part, inner)
        else:
            raise TypeError(f"not a selection node: {node!r}")

    walk(root)
    return "".join(out), positions


# --------------------------------------------------------------------------- resolution


class _TermError(Exception):
    def __init__(self, node: Selection, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.reason = reason


def _matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate for one glob, compiled once; ``*`` matches anything, ``/`` included."""
    stars = pattern.count("*")
    if stars == 0:
        return pattern.__eq__
    if stars == len(pattern):
        return lambda s: True
    if stars == 1 and pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda s: s.startswith(prefix)
    if stars == 1 and pattern.startswith("*"):
        suffix = pattern[1:]
        return lambda s: s.endswith(suffix)
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
    return lambda s: regex.fullmatch(s) is not None


def _did_you_mean(candidates: Iterable[str]) -> str:
    names = list(candidates)
    return f" (did you mean {' or '.join(repr(n) for n in names)}?)" if names else ""


class _Resolver:
    """Evaluates one AST against one graph; lookup tables are built once, on first need."""

    def __init__(self, graph: AssetGraph, statuses: StatusInput = None) -> None:
        self.graph = graph
        self._statuses = statuses
        self._all: frozenset[AssetKey] | None = None
        self._names: dict[str, AssetKey] | None = None

    def all_keys(self) -> frozenset[AssetKey]:
        if self._all is None:
            self._all = frozenset(self.graph.keys)
        return self._all

    def names(self) -> dict[str, AssetKey]:
        if self._names is None:
            self._names = {str(k): k for k in self.graph.keys}
        return self._names

    def eval(self, node: Selection) -> set[AssetKey] | frozenset[AssetKey]:
        if isinstance(node, KeyTerm):
            return self.key_term(node)
        if isinstance(node, AttributeTerm):
            return self.attribute(node)
        if isinstance(node, StatusTerm):
            return self.status(node)
        if isinstance(node, SetFunction):
            base = self.eval(node.child)
            edges = self.graph.parents if node.name == "roots" else self.graph.children
            return {k for k in base if not any(o in base for o in edges(k))}
        if isinstance(node, Traverse):
            base = self.eval(node.child)
            found = set(base)
            if node.up_depth != 0:
                found |= self.graph.upstream(base, node.up_depth)
            if node.down_depth != 0:
                found |= self.graph.downstream(base, node.down_depth)
            return found
        if isinstance(node, Not):
            return self.all_keys() - self.eval(node.child)
        if isinstance(node, And):
            # Subtract negated parts instead of complementing them: `a and not b` is a - b.
            positive = [self.eval(p) for p in node.parts if not isinstance(p, Not)]
            negative = [self.eval(p.child) for p in node.parts if isinstance(p, Not)]
            result = set(self.all_keys() if not positive else positive[0])
            for s in positive[1:]:
                result &= s
            for s in negative:
                result -= s
            return result
        if isinstance(node, Or):
            result = set()
            for part in node.parts:
                result |= self.eval(part)
            return result
        raise TypeError(f"not a selection node: {node!r}")

    def status(self, node: StatusTerm) -> set[AssetKey]:
        if self._statuses is None:
            raise _TermError(node, f"status:{node.state} needs the assets' current state, which is not "
                                   "available here")
        if callable(self._statuses):
            self._statuses = self._statuses()  # read the state once, and only when asked
        graph = self.graph
        return {k for k in self._statuses.get(node.state, ()) if k in graph}

    def key_term(self, node: KeyTerm) -> set[AssetKey] | frozenset[AssetKey]:
        pattern = node.pattern
        if "*" not in pattern:
            try:
                key = AssetKey.parse(pattern)
            except KeySyntaxError as exc:
                raise _TermError(node, str(exc)) from None
            if key in self.graph:
                return {key}
            raise _TermError(node, f"no asset named {pattern!r}{self.key_hint(pattern)}")
        if not pattern.strip("*"):
            return self.all_keys()
        match = _matcher(pattern)
        found = {k for s, k in self.names().items() if match(s)}
        if not found:
            raise _TermError(node, f"{pattern!r} matches no asset")
        return found

    def key_hint(self, pattern: str) -> str:
        return _did_you_mean(self.suggestions(pattern, 3))

    def suggestions(self, pattern: str, n: int) -> list[str]:
        name = pattern.rsplit("/", 1)[-1]
        same_name = sorted(s for s in self.names() if s.rsplit("/", 1)[-1] == name)
        return same_name[:n] or difflib.get_close_matches(pattern, self.names(), n=n)

    def attribute(self, node: AttributeTerm) -> set[AssetKey]:
        attr, pattern = node.attribute, node.pattern
        if attr == "group":
            return self.group(node)
        if attr == "location":
            try:
                return location_keys(self.graph, node.pattern)
            except ValueError as exc:
                raise _TermError(node, str(exc)) from None
        specs = self.graph.specs
        exact = "*" not in pattern
        match = _matcher(pattern)
        if attr == "kind":
            if exact:
                return {s.key for s in specs if pattern in s.kinds}
            return {s.key for s in specs if any(match(k) for k in s.kinds)}
        if attr == "owner":
            if exact:
                return {s.key for s in specs if pattern in s.owners}
            return {s.key for s in specs if any(match(o) for o in s.owners)}
        # tag: has a tag named `pattern`, with a value matching `node.value` if given
        value_match = None if node.value is None else _matcher(node.value)
        found: set[AssetKey] = set()
        for spec in specs:
            tags = spec.tags
            if not tags:
                continue
            if exact:
                v = tags.get(pattern)
                if v is not None and (value_match is None or value_match(v)):
                    found.add(spec.key)
            elif any(match(k) and (value_match is None or value_match(v)) for k, v in tags.items()):
                found.add(spec.key)
        return found

    def group(self, node: AttributeTerm) -> set[AssetKey]:
        groups = self.graph.groups()
        pattern = node.pattern
        if "*" not in pattern:
            if pattern in groups:
                return set(groups[pattern])
            hint = _did_you_mean(difflib.get_close_matches(pattern, groups, n=3))
            if not hint and 0 < len(groups) <= 10:
                hint = " (groups are: " + ", ".join(sorted(groups)) + ")"
            raise _TermError(node, f"no group named {pattern!r}{hint}")
        match = _matcher(pattern)
        found = {k for name, keys in groups.items() if match(name) for k in keys}
        if not found:
            raise _TermError(node, f"group:{pattern} matches no group")
        return found
