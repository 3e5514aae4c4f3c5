"""Retention and ``gc`` (issue 17): old logs, step events, ticks and superseded facts go,
the space comes back, and status, staleness, ``why``, health and recent history answer
exactly as before — on SQLite and PostgreSQL."""

import os

import pytest

import headwater as hw
from headwater.automation.daemon import Daemon
from headwater.core.events import AssetMaterialized, TickRecorded, TickStatus
from headwater.core.keys import AssetKey
from headwater.core.retention import DAY, RetentionPolicy
from headwater.definitions.loader import DefinitionsLocation

T0 = 1_780_000_000.0
POLICY = RetentionPolicy(logs=2 * DAY, step_events=2 * DAY, asset_facts=5 * DAY, ticks=3 * DAY)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def project(b_version="1", fail_b=False):
    @hw.asset(freshness=hw.FreshnessPolicy.within(2 * DAY))
    def a(context):
        context.log.info("building a")
        return 1

    @hw.asset(code_version=b_version)
    def b(context, a):
        context.log.info("building b")
        if fail_b:
            raise RuntimeError("b broke")
        return a + 1

    @hw.asset
    def c(b):
        return b + 1

    @hw.check(asset="b", blocking=True)
    def b_positive(b):
        return b > 0

    return hw.Definitions(assets=[a, b, c], checks=[b_positive])


def answers(inst, defs):
    """Everything a reader can ask that retention must not change."""
    statuses = {k: (s.status, s.stale, [(c.kind, str(c.key), c.detail) for c in s.root_causes()], s.data_version,
                    s.data_time, s.last_updated_at, s.last_run_id, s.failure)
                for k, s in inst.statuses(defs).items()}
    health = {str(h.key): (h.health, h.reasons if hasattr(h, "reasons") else None) for h in inst.health(defs)}
    why = {str(k): inst.why(defs, k) for k in defs.graph.keys}
    recent = {str(k): [e.id for e in inst.store.materializations(k, limit=3)] for k in defs.graph.keys}
    checks = {str(k): dict(v) for k, v in inst.store.latest_check_results().items()}
    partition = inst.store.latest_facts([AssetKey.parse("a")], partition="2026-01-01")
    states = inst.store.instigator_states()
    latest_ticks = {name: inst.store.ticks(name, limit=1) for name in states}
    runs = [(r.run_id, r.status, r.reason) for r in inst.store.list_runs(limit=1000)]
    return statuses, health, why, recent, checks, partition, states, latest_ticks, runs


def test_gc_keeps_every_answer_and_frees_space(store_url, tmp_path):
    clock = Clock()
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        defs = project()
        old_partition = AssetMaterialized(run_id=None, timestamp=T0, step_key="a", key=AssetKey.parse("a"),
                                          partition="2026-01-01", data_version="p1", data_time=T0)
        inst.store.write([old_partition])
        for day in range(12):  # a run a day, a sensor tick every hour
            clock.now = T0 + day * DAY
            assert inst.materialize(defs, "*").success
            inst.store.write([TickRecorded(run_id=None, timestamp=clock.now + h * 3600, instigator="sensor:s",
                                           status=TickStatus.SKIPPED, tick_time=clock.now + h * 3600,
                                           cursor=str(day * 24 + h)) for h in range(24)])
        clock.now = T0 + 11.5 * DAY
        failed = inst.materialize(project(fail_b=True), "b")  # the latest attempt of b failed
        assert not failed.success
        defs = project(b_version="2")  # and b's code changed since: stale
        clock.now = T0 + 12 * DAY
        before = answers(inst, defs)
        mats_before = len(inst.store.materializations(AssetKey.parse("a"), limit=1000))
        dry = inst.gc(POLICY, dry_run=True)
        assert answers(inst, defs) == before  # a dry run deletes nothing
        report = inst.gc(POLICY)
        assert report.rows == dry.rows
        assert report.rows["logs"] >= 2 * 9 and report.rows["ticks"] >= 24 * 8
        assert report.rows["step_events"] > 0 and report.rows["asset_facts"] > 0 and report.rows["step_rows"] > 0
        after = answers(inst, defs)
        assert after == before
        mats_after = inst.store.materializations(AssetKey.parse("a"), limit=1000)
        assert len(mats_after) < mats_before
        assert all(e.event.timestamp >= clock.now - 5 * DAY for e in mats_after)
        # the only fact of an old partition is the latest of that partition: kept
        assert inst.store.latest_facts([AssetKey.parse("a")], "2026-01-01")[AssetKey.parse("a")].last_materialization
        assert inst.store.ticks("sensor:s", limit=1)[0].cursor == str(11 * 24 + 23)
        old_run = inst.store.list_runs(limit=1000)[-1]
        assert old_run.status.value == "succeeded"  # the run's summary stays
        assert inst.store.run_steps(old_run.run_id) == []  # its steps and events went
        assert inst.store.run_events(old_run.run_id) == []
        if inst.store.engines.is_sqlite:  # the space is given back: no free page left in the file
            assert report.size_after < report.size_before
            with inst.store.engines.read.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA freelist_count").scalar() == 0
        again = inst.gc(POLICY)
        assert again.total_rows == 0 and answers(inst, defs) == before


def test_the_daemon_collects_on_its_interval(tmp_path, write_project):
    path = write_project("import headwater as hw\n@hw.asset\ndef a():\n    return 1\ndefs = hw.Definitions(assets=[a])\n")
    (path.parent / "pyproject.toml").write_text(
        '[tool.headwater]\nfile = "pipeline.py"\n[tool.headwater.retention]\nlogs = "1d"\ngc_interval = "1h"\n')
    clock = Clock()
    with hw.Instance(home=tmp_path / "home", clock=clock) as inst:
        location = DefinitionsLocation(file=str(path), working_dir=str(path.parent))
        daemon = Daemon(inst, hw.Definitions(assets=[]), location, interval=1, clock=clock)
        assert daemon.retention.logs == DAY and daemon.retention.gc_interval == 3600
        daemon.tick()
        clock.now += 600
        daemon.tick()  # 10 minutes later: not due
        clock.now += 3600
        daemon.tick()
        ticks = inst.store.ticks("gc", limit=10)
        assert [t.status.value for t in ticks] == ["success", "success"]
        assert ticks[0].evaluations["report"]["policy"]["logs"] == "1d"


def test_a_bad_retention_setting_names_the_key(tmp_path):
    from headwater.definitions.project_settings import find_settings

    (tmp_path / "pyproject.toml").write_text('[tool.headwater]\nfile = "p.py"\n[tool.headwater.retention]\nlogs = "soon"\n')
    with pytest.raises(hw.HeadwaterError, match=r"retention\] in .*pyproject.toml: logs: 'soon' is not a duration"):
        find_settings(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.headwater]\n[tool.headwater.retention]\nlog = 3\n')
    with pytest.raises(hw.HeadwaterError, match=r"unknown key\(s\) log"):
        find_settings(tmp_path)
    assert os.path.exists(tmp_path / "pyproject.toml")
