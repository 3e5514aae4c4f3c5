"""Load-time validation: every bad definition is a clear error naming the culprit."""

import pytest

import headwater as hw
from headwater.definitions.assets import ParamKind


def test_parameters_become_upstream_assets_resources_or_context():
    @hw.asset(group="raw", code_version="1", tags={"tier": "bronze"}, owners=["ops"], kinds={"python"},
              metadata={"source": "crm"})
    def orders():
        return [1]

    @hw.asset(key_prefix="marts")
    def revenue(orders, db, context):
        return 1

    @hw.asset(deps=["marts/revenue"])
    def dashboard():
        pass

    defs = hw.Definitions(assets=[orders, revenue, dashboard], resources={"db": object()})
    rev = defs.graph.spec(hw.AssetKey.parse("marts/revenue"))
    assert rev.deps == (hw.AssetKey.parse("orders"),)
    kinds = {p.name: p.kind for p in defs.definition_for(rev.key).params}
    assert kinds == {"orders": ParamKind.ASSET, "db": ParamKind.RESOURCE, "context": ParamKind.CONTEXT}
    assert defs.graph.parents(hw.AssetKey.parse("dashboard")) == (rev.key,)
    o = defs.graph.spec(hw.AssetKey.parse("orders"))
    assert (o.group, o.code_version, dict(o.tags), o.owners, o.kinds) == ("raw", "1", {"tier": "bronze"}, ("ops",),
                                                                          frozenset({"python"}))
    assert o.location is not None and o.location.file == __file__


def test_ins_maps_a_parameter_to_a_prefixed_key():
    @hw.asset(key="staging/orders")
    def stg():
        return 1

    @hw.asset(key="raw/orders")
    def raw():
        return 1

    @hw.asset(ins={"orders": "staging/orders"})
    def revenue(orders):
        return orders

    defs = hw.Definitions(assets=[stg, raw, revenue])
    assert defs.graph.parents(hw.AssetKey.parse("revenue")) == (hw.AssetKey.parse("staging/orders"),)


def test_ambiguous_parameter_lists_candidates():
    @hw.asset(key="a/orders")
    def a():
        pass

    @hw.asset(key="b/orders")
    def b():
        pass

    @hw.asset
    def revenue(orders):
        pass

    with pytest.raises(hw.DefinitionError, match=r"'orders' could mean any of a/orders, b/orders"):
        hw.Definitions(assets=[a, b, revenue])


def test_unknown_upstream_names_both_ends():
    @hw.asset(deps=["nowhere"])
    def x():
        pass

    with pytest.raises(hw.UnknownKeyError, match=r"asset 'x' depends on unknown asset 'nowhere'"):
        hw.Definitions(assets=[x])

    @hw.asset
    def y(missing_param):
        pass

    with pytest.raises(hw.UnknownKeyError, match="missing_param"):
        hw.Definitions(assets=[y])


def test_duplicate_keys_name_both_locations():
    @hw.asset(key="dup")
    def one():
        pass

    @hw.asset(key="dup")
    def two():
        pass

    with pytest.raises(hw.DuplicateKeyError, match=r"'dup' is defined more than once .*test_definitions.py:\d+"):
        hw.Definitions(assets=[one, two])


def test_cycle_names_its_path():
    @hw.asset(deps=["c"])
    def a():
        pass

    @hw.asset(deps=["a"])
    def b():
        pass

    @hw.asset(deps=["b"])
    def c():
        pass

    with pytest.raises(hw.CycleError) as info:
        hw.Definitions(assets=[a, b, c])
    assert set(info.value.path) == {"a", "b", "c"} and len(info.value.path) == 4
    assert "dependency cycle" in str(info.value)


def test_bad_key_syntax_is_reported_at_the_decorator():
    with pytest.raises(hw.KeySyntaxError, match="sales revenue"):
        hw.asset(key="sales revenue")(lambda: None)


def test_parameter_naming_a_source_asset_is_refused():
    src = hw.source_asset("raw/events")

    @hw.asset
    def counts(events):
        pass

    with pytest.raises(hw.DefinitionError, match="source asset raw/events"):
        hw.Definitions(assets=[src, counts])


def test_multi_asset_specs_and_step_key():
    @hw.multi_asset(specs=[hw.AssetSpec("m/a"), hw.AssetSpec("m/b", deps=["m/a"])], group="g")
    def build():
        pass

    defs = hw.Definitions(assets=[build])
    assert defs.step_key_for(hw.AssetKey.parse("m/b")) == "build"
    assert defs.graph.spec(hw.AssetKey.parse("m/a")).group == "g"
    assert defs.graph.parents(hw.AssetKey.parse("m/b")) == (hw.AssetKey.parse("m/a"),)


def test_non_asset_in_definitions_is_named():
    with pytest.raises(hw.DefinitionError, match="not decorated with @asset.*pass @asset"):
        hw.Definitions(assets=[lambda: 1])
