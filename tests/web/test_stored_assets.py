"""A UI just started answers its first ``/api/assets`` from ``headwater status``'s stored rows
(``web/stored_assets.py``) — over an unchanged store, right after a run (whose process kept
them current), and with freshness policies as the clock passes a deadline — with what a full
computation gives at that moment, and only while those rows hold."""

from __future__ import annotations

import time

import headwater as hw
from headwater.service import status_snapshot
from headwater.web import UiConfig, create_app


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Ui:
    """A UI process over the web fixture's home: its own instance (nothing opened), app, client."""

    def __init__(self, web, clock=None, defs=None) -> None:
        self.instance = hw.Instance(home=web.instance.home, clock=clock) if clock else hw.Instance(home=web.instance.home)
        self.app = create_app(defs or web.defs, self.instance, web.location, UiConfig(launch="queue"))
        self.client = web.client.__class__(self.app, base_url=str(web.client.base_url))
        self.ctx = self.app.state.ctx

    def __enter__(self) -> Ui:
        self.client.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.client.__exit__(*exc)
        assert self.ctx.stored_assets.wait_idle(timeout=60)  # stored once quiet, in a thread
        self.ctx.launcher.close()
        self.instance.close()

    def computed(self) -> list:
        """``/api/assets`` as this process computes it now (every asset's health derived)."""
        assert self.client.get("/api/assets", params={"health": "healthy"}).status_code == 200  # computes
        assert self.ctx.cache.peek() is not None
        return self.client.get("/api/assets").json()


def warmed(web):
    """What ``headwater ui`` does once it listens: the first snapshot, in the background."""
    cache = web.app.state.ctx.cache
    cache.prefetch()
    assert cache.wait_first(timeout=60)
    assert cache.peek() is not None
    answer = web.client.get("/api/assets")
    assert web.app.state.ctx.stored_assets.wait_idle(timeout=60)  # stored once quiet, in a thread
    return answer


def snapshots(web) -> list:
    return list((web.instance.home / status_snapshot.FOLDER).glob("status-*.snap"))


def served(ui: Ui):
    """The first ``/api/assets``, asserted to be answered from the stored rows (nothing computed)."""
    first = ui.client.get("/api/assets")
    assert first.status_code == 200
    assert ui.ctx.cache.peek() is None  # answered from disk: no state derived in this process
    assert ui.instance._store is None  # nor the store opened (on SQLite: no SQLAlchemy to import)
    return first


def test_a_restarted_ui_serves_the_stored_rows_without_computing(web):
    computed = warmed(web)
    assert len(snapshots(web)) == 1  # kept by the background refresh
    with Ui(web) as ui:
        first = served(ui)
        assert first.json() == computed.json()
        assert first.headers["X-Headwater-As-Of"] >= computed.headers["X-Headwater-As-Of"]  # holds now
        assert ui.client.get("/").status_code == 200 and ui.ctx.cache.peek() is None  # / is a frame
        filtered = ui.client.get("/api/assets", params={"health": "degraded"})  # anything else computes
        assert ui.ctx.cache.peek() is not None
        assert {r["key"] for r in filtered.json()} < {r["key"] for r in first.json()}
        assert ui.client.get("/api/assets").json() == first.json()


def test_a_body_computed_for_a_request_is_stored_once_the_server_is_quiet(web):
    computed = web.client.get("/api/assets")  # no warm-up: computed while the request waited
    assert web.app.state.ctx.stored_assets.wait_idle(timeout=60)
    assert len(snapshots(web)) == 1
    with Ui(web) as ui:
        assert served(ui).json() == computed.json()


def test_after_a_run_the_restarted_ui_serves_what_the_run_kept(web):
    stored = warmed(web)
    assert web.instance.materialize(web.defs, "flaky").success  # its row and downstream change
    with Ui(web) as ui:
        first = served(ui)  # the run's process brought the stored rows up to date
        assert first.json() != stored.json()
        assert {r["key"]: r["health"] for r in first.json()}["flaky"] == "healthy"
        assert first.json() == ui.computed()


def test_a_write_that_kept_nothing_is_brought_up_to_date_by_the_ui(web):
    stored = warmed(web)
    (snap,) = snapshots(web)
    aside = snap.with_suffix(".aside")
    snap.rename(aside)  # as for a write by another tool: nobody brings the rows up to date
    assert web.instance.materialize(web.defs, "flaky").success
    aside.rename(snap)
    with Ui(web) as ui:
        fresh = served(ui)  # the stored rows no longer held: brought up to date (flaky and below), not computed
        assert fresh.json() != stored.json()
        assert fresh.json() == ui.computed()
    with Ui(web) as ui:
        assert served(ui).json() == fresh.json()  # and kept


def test_after_an_edit_the_ui_serves_the_rows_of_the_definitions_before_it_brought_up_to_date(web):
    """revenue's code version moves on: revenue and dashboard derived again, the rest reused."""
    from headwater.definitions.loader import load_definitions

    stored = warmed(web)
    pipeline = web.folder / "pipeline.py"
    pipeline.write_text(pipeline.read_text().replace('group="marts", code_version="1"', 'group="marts", code_version="2"'))
    edited = load_definitions(web.location)
    with Ui(web, defs=edited) as ui:
        first = served(ui)
        rows = {r["key"]: r for r in first.json()}
        assert rows["revenue"]["stale"] and rows["dashboard"]["stale"] and not rows["staging/orders"]["stale"]
        assert first.json() != stored.json() and first.json() == ui.computed()
    assert len(snapshots(web)) == 2  # the edited definitions' rows kept beside the others


def test_a_damaged_or_foreign_file_is_not_served(web):
    warmed(web)
    (path,) = snapshots(web)
    whole = path.read_bytes()
    for damaged in (b"", b"not a snapshot\n", whole[:-100], whole.replace(b'"format":', b'"format":9', 1)):
        path.write_bytes(damaged)
        with Ui(web) as ui:
            assert ui.client.get("/api/assets").status_code == 200
            assert ui.ctx.cache.peek() is not None  # computed


def test_with_freshness_policies_the_rows_are_evaluated_when_served(make_web, project):
    folder, _ = project
    pipeline = folder / "pipeline.py"
    policy = "default_freshness=hw.FreshnessPolicy.within(__import__('datetime').timedelta(hours=1)), "
    pipeline.write_text(pipeline.read_text().replace("checks=[revenue_positive],", "checks=[revenue_positive], " + policy))
    web = make_web()
    assert web.defs.default_freshness is not None
    clock = Clock()
    with hw.Instance(home=web.instance.home, clock=clock) as writer:
        writer.observe(web.defs)
        assert writer.materialize(web.defs).success
    with Ui(web, clock) as ui:
        kept = ui.computed()  # computed, and kept once sent
    assert len(snapshots(web)) == 1
    clock.now += 600
    with Ui(web, clock) as ui:
        first = served(ui).json()
        assert {r["freshness"]["state"] for r in first} == {"fresh"}
        assert first == ui.computed() and first != kept  # evaluated now ("late by" moved)
    clock.now += 2 * 3600  # past every asset's hour
    with Ui(web, clock) as ui:
        late = served(ui).json()
        assert {r["freshness"]["state"] for r in late} == {"overdue"}
        assert {r["health"] for r in late} == {"degraded"}
        assert late == ui.computed()
    with hw.Instance(home=web.instance.home, clock=clock) as writer:
        assert writer.materialize(web.defs, "staging/orders+").success  # a run kept the rows current
    with Ui(web, clock) as ui:
        after = {r["key"]: r for r in served(ui).json()}
        assert after["revenue"]["freshness"]["state"] == "overdue"  # its data is as old as the source's
        assert list(after.values()) == ui.computed()
