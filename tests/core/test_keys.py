import pytest

from headwater.core.keys import AssetKey, to_key
from headwater.errors import KeySyntaxError


def test_path_keys_round_trip_through_text():
    key = AssetKey.parse("sales/revenue")
    assert key.path == ("sales", "revenue")
    assert str(key) == "sales/revenue"
    assert key.name == "revenue" and key.prefix == ("sales",)
    assert to_key(["sales", "revenue"]) == key
    assert key.with_prefix(("eu",)) == AssetKey.parse("eu/sales/revenue")
    assert hash(key) == hash(AssetKey(("sales", "revenue")))


@pytest.mark.parametrize("bad", ["", "/a", "a/", "a//b", "a b", "sales/rev enue", "a/$x", "-a"])
def test_bad_key_syntax_names_the_key(bad):
    with pytest.raises(KeySyntaxError) as info:
        AssetKey.parse(bad)
    assert repr(bad)[1:-1] in str(info.value) or bad == ""


def test_keys_survive_pickling_into_a_process_with_another_hash_seed():
    import pickle
    import subprocess
    import sys

    blob = pickle.dumps({AssetKey.parse("a/b"): 1})
    code = ("import pickle,sys; from headwater.core.keys import AssetKey; "
            "d = pickle.loads(sys.stdin.buffer.read()); print(d[AssetKey.parse('a/b')])")
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, env={"PYTHONHASHSEED": "123"},
                         check=True)
    assert out.stdout.strip() == b"1"


def test_equal_keys_are_one_object_however_they_are_built():
    import copy
    import pickle

    key = AssetKey.parse("interned/once")
    for other in (AssetKey(("interned", "once")), to_key(["interned", "once"]), pickle.loads(pickle.dumps(key)),
                  copy.deepcopy(key), copy.copy(key), AssetKey.parse("interned").with_prefix(()).with_prefix(())):
        if str(other) == "interned/once":
            assert other is key
    assert AssetKey.parse("interned") != key and AssetKey.parse("interned") is not key


def test_keys_are_immutable():
    key = AssetKey.parse("frozen/key")
    with pytest.raises(AttributeError):
        key.path = ("other",)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del key.path  # type: ignore[misc]
    assert str(key) == "frozen/key"


def test_keys_built_at_once_by_many_threads_are_one_object():
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"threaded/k{i % 50}" for i in range(2000)]
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(AssetKey.parse, texts))
    by_text: dict[str, set[int]] = {}
    for text, key in zip(texts, keys, strict=True):
        by_text.setdefault(text, set()).add(id(key))
    assert all(len(ids) == 1 for ids in by_text.values())


@pytest.mark.parametrize("bad", [(["a"],), ("a", 1), ()])
def test_bad_components_are_a_key_syntax_error(bad):
    with pytest.raises(KeySyntaxError):
        AssetKey(bad)


def test_keys_sort_by_their_components():
    keys = [AssetKey.parse(t) for t in ("b", "a/b", "a-b", "a")]
    assert [str(k) for k in sorted(keys)] == ["a", "a/b", "a-b", "b"]
