"""Values between assets: filesystem by default, Parquet for tables, pluggable."""

import pandas as pd
import pyarrow as pa

import headwater as hw
from headwater.values.filesystem import FilesystemValueStore


def test_dataframes_and_arrow_tables_are_stored_as_parquet(instance):
    @hw.asset
    def frame():
        return pd.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.5, None]})

    @hw.asset
    def table():
        return pa.table({"x": ["a", "b"]})

    @hw.asset
    def total(frame, table):
        return float(frame["amount"].sum()) + table.num_rows

    result = instance.materialize(hw.Definitions(assets=[frame, table, total]), "*")
    assert result.success, result.errors
    assert result.materialization("frame").value_ref.endswith(".pandas.parquet")
    assert result.materialization("table").value_ref.endswith(".arrow.parquet")
    assert result.value("total") == 6.0
    pd.testing.assert_frame_equal(result.value("frame"), pd.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.5, None]}))
    stored = pd.read_parquet(instance.home / "values" / result.materialization("frame").value_ref)
    assert list(stored.columns) == ["id", "amount"]


def test_a_later_run_loads_an_upstream_produced_by_an_earlier_run(instance):
    @hw.asset
    def base():
        return {"n": 41}

    @hw.asset
    def plus_one(base):
        return base["n"] + 1

    defs = hw.Definitions(assets=[base, plus_one])
    instance.materialize(defs, "base")
    result = instance.materialize(defs, "plus_one")
    assert result.value("plus_one") == 42
    assert result.materialization("plus_one").inputs[0].produced_in_run is False


def test_a_projects_own_value_store_is_used(instance, tmp_path):
    class Recording(FilesystemValueStore):
        saved = []

        def save(self, key, partition, value):
            self.saved.append(str(key))
            return super().save(key, partition, value)

    store = Recording(tmp_path / "elsewhere")

    @hw.asset
    def v():
        return 5

    result = instance.materialize(hw.Definitions(assets=[v], value_store=store), "*")
    assert Recording.saved == ["v"] and result.value("v") == 5
    assert (tmp_path / "elsewhere" / "v").exists()


def test_a_deleted_value_is_a_clear_error_naming_the_asset(instance):
    @hw.asset
    def up():
        return 1

    @hw.asset
    def down(up):
        return up

    defs = hw.Definitions(assets=[up, down])
    first = instance.materialize(defs, "up")
    (instance.home / "values" / first.materialization("up").value_ref).unlink()
    result = instance.materialize(defs, "down")
    assert "stored value of asset up is gone" in result.errors["down"].message
