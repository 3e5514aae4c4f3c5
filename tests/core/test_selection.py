"""The selection language: examples on a small realistic graph, properties on random DAGs."""

from __future__ import annotations

import dataclasses
import time
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.core.asset_graph import AssetGraph
from headwater.core.keys import AssetKey
from headwater.core.selection import (
    And,
    AttributeTerm,
    KeyTerm,
    Not,
    Or,
    Selection,
    Traverse,
    parse_selection,
    select,
)
from headwater.core.specs import AssetSpec
from headwater.errors import SelectionError

# --------------------------------------------------------------------------- a small realistic graph

DATA_ENG = ("team:data-eng",)
ANA = "ana@example.com"
BO = "bo@example.com"


def _spec(key: str, deps: tuple[str, ...] = (), **kw: object) -> AssetSpec:
    return AssetSpec(AssetKey.parse(key), deps=tuple(AssetKey.parse(d) for d in deps), **kw)  # type: ignore[arg-type]


GRAPH = AssetGraph(
    [
        _spec(
            "raw/orders",
            group="ingest",
            kinds=frozenset({"postgres"}),
            owners=DATA_ENG,
            tags={"pii": "true", "tier": "bronze"},
            is_source=True,
        ),
        _spec(
            "raw/customers",
            group="ingest",
            kinds=frozenset({"postgres"}),
            owners=DATA_ENG,
            tags={"pii": "true"},
            is_source=True,
        ),
        _spec(
            "raw/payments",
            group="ingest",
            kinds=frozenset({"s3", "parquet"}),
            owners=DATA_ENG,
            is_source=True,
        ),
        _spec(
            "staging/orders",
            ("raw/orders",),
            group="staging",
            kinds=frozenset({"dbt"}),
            tags={"tier": "silver"},
        ),
        _spec(
            "staging/customers",
            ("raw/customers",),
            group="staging",
            kinds=frozenset({"dbt"}),
            tags={"tier": "silver", "pii": "masked"},
        ),
        _spec("staging/payments", ("raw/payments",), group="staging", kinds=frozenset({"dbt"})),
        _spec(
            "sales/revenue",
            ("staging/orders", "staging/payments"),
            group="finance",
            kinds=frozenset({"python", "pandas"}),
            owners=(ANA,),
            tags={"tier": "gold"},
        ),
        _spec(
            "sales/revenue_by_region",
            ("sales/revenue",),
            group="finance",
            kinds=frozenset({"python"}),
            owners=(ANA,),
        ),
        _spec(
            "marketing/customer_ltv",
            ("staging/customers", "sales/revenue"),
            group="marketing",
            kinds=frozenset({"python"}),
            owners=(BO,),
            tags={"tier": "gold"},
        ),
        _spec(
            "reports/weekly",
            ("sales/revenue_by_region", "marketing/customer_ltv"),
            group="reporting",
            kinds=frozenset({"notebook"}),
            owners=(ANA, BO),
        ),
        _spec("and", group="misc"),  # a key that collides with a keyword
        _spec("2024", ("and",), group="misc"),  # a key that looks like a depth
    ]
)


def keys(*names: str) -> frozenset[AssetKey]:
    return frozenset(AssetKey.parse(n) for n in names)


RAW = ("raw/orders", "raw/customers", "raw/payments")
STAGING = ("staging/orders", "staging/customers", "staging/payments")
SALES = ("sales/revenue", "sales/revenue_by_region")
REVENUE_UP = ("staging/orders", "staging/payments", "raw/orders", "raw/payments")
REVENUE_DOWN = ("sales/revenue_by_region", "marketing/customer_ltv", "reports/weekly")
EVERYTHING = tuple(str(k) for k in GRAPH.keys)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # key terms, globs (a * crosses '/'), the explicit key: form and quoting
        ("sales/revenue", ("sales/revenue",)),
        ("key:sales/revenue", ("sales/revenue",)),
        ('"sales/revenue"', ("sales/revenue",)),
        ("sales/*", SALES),
        ("sales*", SALES),
        ('"sales/*"', SALES),
        ("*/orders", ("raw/orders", "staging/orders")),
        ("*revenue*", SALES),
        ("*", EVERYTHING),
        ('"and"', ("and",)),
        ('"2024"', ("2024",)),
        # graph modifiers
        ("+sales/revenue", ("sales/revenue", *REVENUE_UP)),
        ("sales/revenue+", ("sales/revenue", *REVENUE_DOWN)),
        ("+sales/revenue+", ("sales/revenue", *REVENUE_UP, *REVENUE_DOWN)),
        ("1+sales/revenue", ("sales/revenue", "staging/orders", "staging/payments")),
        ("sales/revenue+1", ("sales/revenue", "sales/revenue_by_region", "marketing/customer_ltv")),
        (
            "1+sales/revenue+1",
            (
                "sales/revenue",
                "staging/orders",
                "staging/payments",
                "sales/revenue_by_region",
                "marketing/customer_ltv",
            ),
        ),
        (
            "2+reports/weekly",
            (
                "reports/weekly",
                "sales/revenue_by_region",
                "marketing/customer_ltv",
                "sales/revenue",
                "staging/customers",
            ),
        ),
        ("0+sales/revenue", ("sales/revenue",)),
        ("sales/revenue+0", ("sales/revenue",)),
        ("+ sales/revenue", ("sales/revenue", *REVENUE_UP)),
        ('+"2024"', ("2024", "and")),
        ('"2024"+', ("2024",)),
        ('1+"2024"', ("2024", "and")),
        (
            "(raw/orders or raw/payments)+1",
            ("raw/orders", "raw/payments", "staging/orders", "staging/payments"),
        ),
        ("group:finance+", (*SALES, "marketing/customer_ltv", "reports/weekly")),
        (
            "tag:tier=gold+1",
            ("sales/revenue", "marketing/customer_ltv", "sales/revenue_by_region", "reports/weekly"),
        ),
        ("+(+sales/revenue_by_region)", ("sales/revenue_by_region", "sales/revenue", *REVENUE_UP)),
        # attributes
        ("group:staging", STAGING),
        ("group:sta*", STAGING),
        ("group:*", EVERYTHING),
        ("tag:pii", ("raw/orders", "raw/customers", "staging/customers")),
        ("tag:pii=true", ("raw/orders", "raw/customers")),
        ("tag:tier=gold", ("sales/revenue", "marketing/customer_ltv")),
        ("tag:t*=s*", ("staging/orders", "staging/customers")),
        ("tag:nope", ()),
        ("tag:pii=nope", ()),
        ("kind:dbt", STAGING),
        ("kind:p*", (*RAW, *SALES, "marketing/customer_ltv")),
        ("kind:spark", ()),
        (f"owner:{ANA}", (*SALES, "reports/weekly")),
        ("owner:*@example.com", (*SALES, "marketing/customer_ltv", "reports/weekly")),
        ('owner:"team:data-eng"', RAW),
        ("owner:nobody", ()),
        # boolean logic, precedence, ',' and keyword case
        ("group:finance and not kind:pandas", ("sales/revenue_by_region",)),
        ("group:ingest or group:misc", (*RAW, "and", "2024")),
        ("group:ingest, group:misc", (*RAW, "and", "2024")),
        (
            "not (group:ingest or group:staging or group:misc)",
            (*SALES, "marketing/customer_ltv", "reports/weekly"),
        ),
        ("+reports/weekly and group:staging", STAGING),
        ("kind:dbt and not tag:pii", ("staging/orders", "staging/payments")),
        (
            "not tag:pii and not kind:python and not group:misc",
            ("raw/payments", "staging/orders", "staging/payments", "reports/weekly"),
        ),
        ("raw/orders or raw/payments and kind:s3", ("raw/orders", "raw/payments")),
        ("(raw/orders or raw/payments) and kind:s3", ("raw/payments",)),
        ("sales/revenue AND NOT sales/revenue", ()),
        ("not not raw/orders", ("raw/orders",)),
        ("not *", ()),
    ],
)
def test_selects(text: str, expected: tuple[str, ...]) -> None:
    assert select(GRAPH, text) == keys(*expected)
    assert parse_selection(text).resolve(GRAPH) == keys(*expected)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a", KeyTerm("a")),
        ("key:a", KeyTerm("a")),
        ("a or b and c", Or((KeyTerm("a"), And((KeyTerm("b"), KeyTerm("c")))))),
        ("not a and b", And((Not(KeyTerm("a")), KeyTerm("b")))),
        ("not a+", Not(Traverse(0, None, KeyTerm("a")))),
        ("a, b or c", Or((KeyTerm("a"), KeyTerm("b"), KeyTerm("c")))),
        ("a or (b or c)", Or((KeyTerm("a"), Or((KeyTerm("b"), KeyTerm("c")))))),
        ("((a))", KeyTerm("a")),
        ("2+x+3", Traverse(2, 3, KeyTerm("x"))),
        ("12+3", Traverse(12, 0, KeyTerm("3"))),  # an all-digit word touching '+' before a term is a depth
        ("12+", Traverse(0, None, KeyTerm("12"))),  # ... and otherwise a key
        ("3abc+2", Traverse(0, 2, KeyTerm("3abc"))),
        ("0+x+", Traverse(0, None, KeyTerm("x"))),
        ("tag:x=y+", Traverse(0, None, AttributeTerm("tag", "x", "y"))),
        ("Group:fin*", AttributeTerm("group", "fin*")),
        ("group:and", AttributeTerm("group", "and")),
        ('tag:"a b"=""', AttributeTerm("tag", "a b", "")),
        (r'"a\"b*"', KeyTerm('a"b*')),
    ],
)
def test_parses_to(text: str, tree: Selection) -> None:
    assert parse_selection(text) == tree


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (Or((And((KeyTerm("a"), KeyTerm("b"))), KeyTerm("c"))), "a and b or c"),
        (And((Or((KeyTerm("a"), KeyTerm("b"))), KeyTerm("c"))), "(a or b) and c"),
        (And((KeyTerm("a"), And((KeyTerm("b"), KeyTerm("c"))))), "a and (b and c)"),
        (Not(And((KeyTerm("a"), KeyTerm("b")))), "not (a and b)"),
        (Not(Not(KeyTerm("a"))), "not not a"),
        (Traverse(None, 2, Or((KeyTerm("a"), KeyTerm("b")))), "+(a or b)+2"),
        (Traverse(1, 0, Traverse(None, 0, KeyTerm("a"))), "1+(+a)"),
        (Traverse(None, None, Not(KeyTerm("a"))), "+(not a)+"),
        (KeyTerm("and"), '"and"'),
        (KeyTerm("7"), '"7"'),
        (Traverse(0, 3, KeyTerm("12")), '"12"+3'),
        (AttributeTerm("tag", "k", ""), 'tag:k=""'),
        (AttributeTerm("owner", "team:data"), 'owner:"team:data"'),
        (AttributeTerm("group", "or"), 'group:"or"'),
    ],
)
def test_renders_canonical_text(tree: Selection, text: str) -> None:
    assert str(tree) == text
    assert parse_selection(text) == tree


def test_positions_are_recorded_but_not_compared() -> None:
    tree = parse_selection("  a or +group:x")
    assert tree == parse_selection("a or +group:x")
    assert isinstance(tree, Or)
    assert [part.pos for part in tree.parts] == [2, 7]  # type: ignore[attr-defined]
    assert tree.parts[1].child.pos == 8  # type: ignore[attr-defined]


def test_nodes_are_frozen_hashable_and_validated() -> None:
    node = KeyTerm("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.pattern = "b"  # type: ignore[misc]
    assert len({KeyTerm("a"), KeyTerm("a"), Not(KeyTerm("a"))}) == 2
    with pytest.raises(ValueError, match="upstream or downstream"):
        Traverse(0, 0, node)
    with pytest.raises(ValueError, match="depth"):
        Traverse(-1, None, node)
    with pytest.raises(ValueError, match="two parts"):
        And((node,))
    with pytest.raises(ValueError, match="attribute"):
        AttributeTerm("colour", "red")
    with pytest.raises(ValueError, match="only tag"):
        AttributeTerm("group", "a", "b")
    with pytest.raises(TypeError):
        parse_selection(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- errors

TERM = "expected an asset key, group:, tag:, kind:, owner:, location:, status:, roots(, sinks( or '('"


@pytest.mark.parametrize(
    ("text", "position", "fragments"),
    [
        ("", 0, ["empty selection", TERM]),
        ("   ", 0, ["empty selection"]),
        ("sales/revenue and", 14, [f"{TERM} after 'and'"]),
        ("sales/revenue or", 14, ["after 'or'"]),
        ("sales/revenue,", 13, ["after ','"]),
        ("not", 0, ["after 'not'"]),
        ("+", 0, ["after '+'"]),
        ("a and or b", 6, ["after 'and', got 'or'", "quote it"]),
        ("a and )", 6, ["after 'and', got ')'"]),
        ("and", 0, ['quote it: "and"']),
        ("(sales/revenue", 0, ["unclosed '('"]),
        ("(a or (b)", 0, ["unclosed '('"]),
        ("a or ((b)", 5, ["unclosed '('"]),
        ("sales/revenue)", 13, ["unmatched ')'"]),
        ("()", 1, ["after '(', got ')'"]),
        ("sales/revenue raw/orders", 14, ["unexpected 'raw/orders'", "'and', 'or' or ','"]),
        ("(sales/revenue raw/orders)", 15, ["'and', 'or', ',' or ')'"]),
        ("a+2+", 3, ["unexpected '+'", "one '+' on each side"]),
        ("colour:red", 0, ["unknown attribute 'colour:'", "key:, group:, tag:, kind:, owner:, location: or status:"]),
        ("a or groups:finance", 5, ["did you mean 'group:'?"]),
        ("sales/revenue+x", 14, ["depth after '+' must be a whole number, got 'x'"]),
        ("sales/revenue+2.5", 14, ["whole number, got '2.5'"]),
        ("a+" + "9" * 5000, 2, ["is too large"]),
        ("1234567890+a", 0, ["is too large"]),
        ("a & b", 2, ["unexpected character '&'", "write 'and'"]),
        ("a | b", 2, ["write 'or'"]),
        ("!a", 0, ["write 'not'"]),
        ("'sales'", 0, ["double quotes"]),
        ('x or "abc', 5, ["unterminated quoted key"]),
        ("group:", 0, ["expected a group name after 'group:'"]),
        ("a or tag:pii=", 5, ["expected a tag value after '='"]),
        ("group:(x)", 6, ["expected a group name after 'group:', got '('"]),
        ("kind:dbt=x", 8, ["'=' only follows a tag name"]),
        ("sales//revenue", 0, ["invalid asset key 'sales//revenue'"]),
        ("a or -b", 5, ["invalid asset key '-b'"]),
        ('""', 0, ["invalid asset key ''"]),
    ],
)
def test_syntax_errors_point_at_the_culprit(text: str, position: int, fragments: list[str]) -> None:
    with pytest.raises(SelectionError) as info:
        parse_selection(text)
    err = info.value
    assert err.expression == text
    assert err.position == position, err
    for fragment in fragments:
        assert fragment in err.reason
    assert "^" in str(err)


@pytest.mark.parametrize(
    ("text", "position", "fragments"),
    [
        ("sales/revnue", 0, ["no asset named 'sales/revnue'", "did you mean 'sales/revenue'"]),
        ("revenue", 0, ["did you mean 'sales/revenue'?"]),
        ("raw/orders or +weekly", 15, ["no asset named 'weekly'", "'reports/weekly'"]),
        ("zzz", 0, ["no asset named 'zzz'"]),
        ("finance/*", 0, ["'finance/*' matches no asset"]),
        ("kind:dbt and group:finanse", 13, ["no group named 'finanse'", "did you mean 'finance'"]),
        ("group:zzz", 0, ["groups are: finance, ingest, marketing, misc, reporting, staging"]),
        ("kind:dbt and group:nope*", 13, ["group:nope* matches no group"]),
        ("+(kind:dbt or   xyz)", 16, ["no asset named 'xyz'"]),
        ("kind:dbt and not key:xyz", 17, ["no asset named 'xyz'"]),
    ],
)
def test_resolve_errors_point_at_the_term(text: str, position: int, fragments: list[str]) -> None:
    with pytest.raises(SelectionError) as info:
        select(GRAPH, text)
    err = info.value
    assert (err.expression, err.position) == (text, position)
    for fragment in fragments:
        assert fragment in err.reason


def test_resolve_on_a_tree_points_into_its_canonical_text() -> None:
    with pytest.raises(SelectionError) as info:
        parse_selection("kind:dbt   or  (xyz)").resolve(GRAPH)
    assert (info.value.expression, info.value.position) == ("kind:dbt or xyz", 12)
    built = Traverse(None, 0, Or((KeyTerm("sales/revenue"), KeyTerm("nope"))))
    with pytest.raises(SelectionError) as info:
        built.resolve(GRAPH)
    assert (info.value.expression, info.value.position) == ("+(sales/revenue or nope)", 19)


def test_star_on_an_empty_graph_is_empty_not_an_error() -> None:
    assert select(AssetGraph([]), "*") == frozenset()


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(SelectionError, match="nested too deeply"):
        parse_selection("(" * 5000 + "a" + ")" * 5000)


# --------------------------------------------------------------------------- speed


def test_large_graph_selections_take_milliseconds() -> None:
    n = 10_000
    specs = []
    for i in range(n):
        deps = (AssetKey(("p", f"a{i - 1}")), AssetKey(("p", f"a{i // 2}"))) if i else ()
        specs.append(
            AssetSpec(
                AssetKey(("p", f"a{i}")),
                deps=tuple(d for d in dict.fromkeys(deps) if d.name != f"a{i}"),
                group="a" if i % 3 else "b",
                tags={"x": "y" if i % 100 == 0 else "z"},
                kinds=frozenset({"b"} if i % 2 else {"c"}),
            )
        )
    graph = AssetGraph(specs)
    # Timings belong in bench/; here: a 10,000-asset graph resolves, and sensibly.
    for text in ("tag:x=y+", "group:a and not kind:b", "p/a1*", "+p/a9999"):
        assert select(graph, text)
    assert len(select(graph, "+p/a9999")) > 10


def _timed(graph: AssetGraph, text: str) -> float:
    start = time.perf_counter()
    select(graph, text)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- properties on random DAGs

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def graphs(draw: st.DrawFn) -> AssetGraph:
    n = draw(st.integers(1, 10))
    made: list[AssetKey] = []
    specs = []
    for i in range(n):
        key = AssetKey.parse(draw(st.sampled_from(["", "a/", "b/x/"])) + f"n{i}")
        deps = draw(st.sets(st.sampled_from(made), max_size=3)) if made else set()
        specs.append(
            AssetSpec(
                key,
                deps=tuple(sorted(deps)),
                group=draw(st.sampled_from(["g1", "g2", "g3"])),
                tags=draw(st.dictionaries(st.sampled_from(["t1", "t2"]), st.sampled_from(["x", "y"]))),
                kinds=draw(st.frozensets(st.sampled_from(["sql", "py"]))),
                owners=tuple(draw(st.sets(st.sampled_from(["o1", "o2"])))),
            )
        )
        made.append(key)
    return AssetGraph(specs)


def _distances(graph: AssetGraph, start: AssetKey, up: bool) -> dict[AssetKey, int]:
    """Shortest hop counts from ``start``, walking the specs' deps: independent of Dag."""
    edges: dict[AssetKey, list[AssetKey]] = {k: [] for k in graph.keys}
    for spec in graph.specs:
        for dep in spec.deps:
            if up:
                edges[spec.key].append(dep)
            else:
                edges[dep].append(spec.key)
    dist = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for other in edges[node]:
            if other not in dist:
                dist[other] = dist[node] + 1
                queue.append(other)
    return dist


def _within(dist: dict[AssetKey, int], depth: int | None) -> frozenset[AssetKey]:
    return frozenset(k for k, d in dist.items() if depth is None or d <= depth)


@PROPS
@given(graph=graphs(), data=st.data())
def test_traversal_matches_reachability(graph: AssetGraph, data: st.DataObject) -> None:
    x = data.draw(st.sampled_from(graph.keys))
    up, down = _distances(graph, x, up=True), _distances(graph, x, up=False)
    assert select(graph, f"{x}+") == _within(down, None)
    assert select(graph, f"+{x}") == _within(up, None)
    assert select(graph, f"+{x}+") == _within(up, None) | _within(down, None)
    n = len(graph)
    previous_up = previous_down = frozenset({x})
    for depth in range(n + 2):
        got_up, got_down = select(graph, f"{depth}+{x}"), select(graph, f"{x}+{depth}")
        assert got_up == _within(up, depth) and got_down == _within(down, depth)
        assert previous_up <= got_up and previous_down <= got_down
        previous_up, previous_down = got_up, got_down
        if depth >= n:
            assert got_up == select(graph, f"+{x}") and got_down == select(graph, f"{x}+")
    d1, d2 = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
    assert select(graph, f"{d1}+{x}+{d2}") == _within(up, d1) | _within(down, d2)


def _leaf_texts(graph: AssetGraph) -> st.SearchStrategy[str]:
    """Terms that resolve without error on ``graph``."""
    texts = [str(k) for k in graph.keys] + [f"group:{g}" for g in graph.groups()]
    texts += ["tag:t1", "tag:t2=x", "tag:t*=y", "kind:sql", "owner:o*", "group:g*", "*"]
    if any(k.path[0] == "a" for k in graph.keys):
        texts.append("a/*")
    return st.sampled_from(texts)


def _expressions(graph: AssetGraph) -> st.SearchStrategy[Selection]:
    leaves = _leaf_texts(graph).map(parse_selection)
    depths = st.one_of(st.none(), st.integers(0, 3))

    def extend(inner: st.SearchStrategy[Selection]) -> st.SearchStrategy[Selection]:
        pairs = st.lists(inner, min_size=2, max_size=3).map(tuple)
        return st.one_of(
            pairs.map(And),
            pairs.map(Or),
            inner.map(Not),
            st.tuples(depths, depths, inner)
            .filter(lambda t: t[0] != 0 or t[1] != 0)
            .map(lambda t: Traverse(*t)),
        )

    return st.recursive(leaves, extend, max_leaves=6)


@PROPS
@given(graph=graphs(), data=st.data())
def test_boolean_laws(graph: AssetGraph, data: st.DataObject) -> None:
    a = data.draw(_expressions(graph))
    b = data.draw(_expressions(graph))
    everything = frozenset(graph.keys)
    ra, rb = a.resolve(graph), b.resolve(graph)
    assert select(graph, str(a)) == ra
    assert select(graph, f"({a}) and ({b})") == ra & rb
    assert select(graph, f"({a}) or ({b})") == ra | rb
    assert select(graph, f"({a}), ({b})") == ra | rb
    assert select(graph, f"not ({a})") == everything - ra
    assert select(graph, f"not not ({a})") == ra
    assert select(graph, f"not (({a}) or ({b}))") == select(graph, f"not ({a}) and not ({b})")
    assert select(graph, f"not (({a}) and ({b}))") == select(graph, f"not ({a}) or not ({b})")
    assert select(graph, "*") == everything


# Patterns that exercise quoting: keywords, digits, spaces, quotes, backslashes, colons.
_COMPONENT = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,4}", fullmatch=True)
_VALID_KEYS = st.lists(_COMPONENT, min_size=1, max_size=3).map("/".join)
_AWKWARD = st.sampled_from(["and", "OR", "Not", "7", "12", "3abc", "key", "group", "tag"])
_GLOBS = st.text(st.sampled_from('ab/_.-*" \\:=@()+,'), max_size=6).map(lambda s: s + "*")
_VALUES = st.one_of(st.text(max_size=6), _AWKWARD, _COMPONENT)


def _trees() -> st.SearchStrategy[Selection]:
    key_terms = st.one_of(_VALID_KEYS, _AWKWARD, _GLOBS).map(KeyTerm)
    attrs = st.one_of(
        st.builds(AttributeTerm, st.sampled_from(["group", "kind", "owner"]), _VALUES),
        st.builds(AttributeTerm, st.just("tag"), _VALUES, st.one_of(st.none(), _VALUES)),
    )
    depths = st.one_of(st.none(), st.integers(0, 12))

    def extend(inner: st.SearchStrategy[Selection]) -> st.SearchStrategy[Selection]:
        parts = st.lists(inner, min_size=2, max_size=3).map(tuple)
        return st.one_of(
            parts.map(And),
            parts.map(Or),
            inner.map(Not),
            st.tuples(depths, depths, inner)
            .filter(lambda t: t[0] != 0 or t[1] != 0)
            .map(lambda t: Traverse(*t)),
        )

    return st.recursive(st.one_of(key_terms, attrs), extend, max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(tree=_trees())
def test_rendering_round_trips(tree: Selection) -> None:
    text = str(tree)
    assert parse_selection(text) == tree
    assert str(parse_selection(text)) == text


_FUZZ_PIECES = st.sampled_from([*'ab/* "()+,:=&\\12', "and ", "or ", "not ", "tag:", "group:"])


@settings(max_examples=150, deadline=None)
@given(text=st.lists(_FUZZ_PIECES, max_size=10).map("".join))
def test_parser_accepts_or_points_inside_the_text(text: str) -> None:
    try:
        tree = parse_selection(text)
    except SelectionError as err:
        assert 0 <= err.position <= len(text)
        assert err.expression == text
    else:
        assert parse_selection(str(tree)) == tree
