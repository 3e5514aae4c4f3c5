"""Definitions takes what users pass: lists, generators, nested lists, bundles; else one line."""

from __future__ import annotations

import pytest

import headwater as hw


@hw.asset
def a() -> int:
    return 1


@hw.asset
def b(a: int) -> int:
    return a + 1


@hw.check(asset="b")
def b_positive(b: int) -> bool:
    return b > 0


raw = hw.source_asset("raw")


class Bundle:
    """What an integration hands back (hw.dbt.load gives one): assets and checks together."""

    def __init__(self) -> None:
        self.assets = [raw, [b]]
        self.checks = (c for c in [b_positive])


def keys(defs: hw.Definitions) -> set[str]:
    return {str(k) for k in defs.graph.keys}


@pytest.mark.parametrize("given", [
    [a, b, raw],
    (x for x in [a, b, raw]),
    [[a], [[b]], (raw,)],
    [a, Bundle()],
])
def test_accepted_shapes_give_the_same_project(given) -> None:  # type: ignore[no-untyped-def]
    defs = hw.Definitions(assets=given)
    assert keys(defs) == {"a", "b", "raw"}


def test_a_bundle_alone_brings_its_checks_once_even_when_they_are_also_passed() -> None:
    bundle = Bundle()
    bundle.checks = [b_positive]
    defs = hw.Definitions(assets=[a, bundle], checks=[bundle.checks, b_positive])
    assert [c.name for c in defs.checks_for(hw.AssetKey.parse("b"))] == ["b_positive"]


@pytest.mark.parametrize(("given", "fragment"), [
    (42, "Definitions(assets=...) got 42 (int): pass @asset / @multi_asset functions, source_asset(...), "
         "a loaded project such as hw.dbt.load(...), or a list of these"),
    ([a, "b"], "got 'b' (str)"),
    ([a, {"b": b}], "(dict)"),
    ([b_positive, a, b], "Definitions(assets=...) got check"),
])
def test_anything_else_is_one_line_saying_what_to_pass(given, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(hw.DefinitionError) as info:
        hw.Definitions(assets=given)
    message = str(info.value)
    assert fragment in message and "\n" not in message


def test_checks_take_the_same_shapes_and_refuse_assets() -> None:
    defs = hw.Definitions(assets=[a, b], checks=(c for c in [[b_positive]]))
    assert len(defs.check_specs) == 1
    with pytest.raises(hw.DefinitionError, match="Definitions\\(checks=...\\) got asset"):
        hw.Definitions(assets=[a, b], checks=[a])
