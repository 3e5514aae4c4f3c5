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
