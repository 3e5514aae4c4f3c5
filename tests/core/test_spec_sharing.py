"""Specs of 100,000 assets must stay small: what most assets leave empty is one shared object."""

from headwater.core.specs import AssetSpec


def test_empty_fields_are_shared_between_specs_and_given_ones_kept():
    a, b = AssetSpec("a", kinds=[]), AssetSpec("b", dep_mappings={}, tags={})
    assert a.kinds is b.kinds and a.kinds == frozenset()
    assert a.dep_mappings is b.dep_mappings and a.tags is b.tags is a.metadata and dict(a.tags) == {}
    c = AssetSpec("c", deps=["a"], kinds=["sql"], tags={"t": "1"})
    assert c.kinds == frozenset({"sql"}) and dict(c.tags) == {"t": "1"} and c.dep_mappings == {}
