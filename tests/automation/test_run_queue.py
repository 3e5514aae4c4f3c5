from headwater.automation.run_queue import Limit, runs_to_launch
from headwater.core.events import RunStatus
from headwater.core.keys import AssetKey
from headwater.core.records import RunRecord

K = AssetKey.parse


def run(rid, *keys, status=RunStatus.QUEUED):
    return RunRecord(run_id=rid, status=status, asset_keys=tuple(K(k) for k in keys))


DBT = Limit("kind:dbt", frozenset({K("m1"), K("m2")}), 2)


def test_fifo_under_a_global_limit():
    d = runs_to_launch([run("a", "x"), run("b", "y"), run("c", "z")], [run("r", "q", status=RunStatus.STARTED)],
                       max_runs=2, limits=[])
    assert [r.run_id for r in d.launch] == ["a"]
    assert "the limit is 2" in d.waiting["b"] and set(d.waiting) == {"b", "c"}


def test_selection_limit_does_not_block_unrelated_runs():
    running = [run("r1", "m1", status=RunStatus.STARTED), run("r2", "m2", "x", status=RunStatus.STARTED)]
    d = runs_to_launch([run("a", "m1"), run("b", "x"), run("c", "m2")], running, max_runs=None, limits=[DBT])
    assert [r.run_id for r in d.launch] == ["b"]
    assert "touching kind:dbt" in d.waiting["a"] and "c" in d.waiting


def test_launching_counts_against_the_limit_within_one_decision():
    d = runs_to_launch([run("a", "m1"), run("b", "m2"), run("c", "m1")], [], max_runs=None, limits=[DBT])
    assert [r.run_id for r in d.launch] == ["a", "b"] and list(d.waiting) == ["c"]
