"""Values through an fsspec URL (issue 11): a real ``file://`` URL on a path two processes share."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import headwater as hw
from headwater.errors import ValueStoreError
from headwater.values import FsspecValueStore
from headwater.values.filesystem import value_store_from_config

PROJECT = '''
import os
import headwater as hw
from headwater.values import FsspecValueStore

@hw.asset
def up():
    return {"n": 41, "pid": os.getpid()}

@hw.asset
def down(up):
    return {"n": up["n"] + 1, "read_from_pid": up["pid"], "pid": os.getpid()}

defs = hw.Definitions(assets=[up, down], value_store=FsspecValueStore(os.environ["VALUES_URL"]))
'''


def test_a_value_written_by_one_process_is_read_by_another_through_a_file_url(tmp_path):
    shared = tmp_path / "shared-values"
    (tmp_path / "project.py").write_text(textwrap.dedent(PROJECT))
    env = {**os.environ, "VALUES_URL": shared.as_uri(), "HEADWATER_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(Path(hw.__file__).parents[1])}

    def materialize(selection: str) -> None:
        done = subprocess.run([sys.executable, "-m", "headwater", "materialize", selection, "-f", "project.py"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    materialize("up")
    materialize("down")
    store = FsspecValueStore(shared.as_uri())
    up = store.load(hw.AssetKey(("up",)), "", "up/__all__.pickle")
    down = store.load(hw.AssetKey(("down",)), "", "down/__all__.pickle")
    assert down["n"] == 42 and down["read_from_pid"] == up["pid"] != down["pid"]  # another process wrote it
    assert sorted(p.name for p in shared.rglob("*")) == ["__all__.pickle", "__all__.pickle", "down", "up"]  # no tmp left


def test_tables_are_parquet_and_the_store_travels_as_its_url(tmp_path):
    store = FsspecValueStore((tmp_path / "v").as_uri())
    frame = pd.DataFrame({"id": [1, 2], "x": [0.5, None]})
    ref = store.save(hw.AssetKey(("sales", "orders")), "2024-01-01", frame)
    assert ref == "sales/orders/2024-01-01.pandas.parquet"
    assert pd.read_parquet(tmp_path / "v" / ref).equals(frame)
    again = value_store_from_config(store.config())
    pd.testing.assert_frame_equal(again.load(hw.AssetKey(("sales", "orders")), "2024-01-01", ref), frame)
    with pytest.raises(ValueStoreError, match="asset gone.*is gone"):
        store.load(hw.AssetKey(("gone",)), "", "gone/__all__.pickle")
    with pytest.raises(ValueStoreError, match="asset bad .*cannot store"):
        store.save(hw.AssetKey(("bad",)), "", lambda: None)
    assert not list((tmp_path / "v").rglob("*.tmp-*"))
