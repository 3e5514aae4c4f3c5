"""A restarted UI answers its first ``/api/assets`` from the body the last one stored, byte for
byte what it would compute, and only while the store and the definitions are unchanged."""

from headwater.web import create_app


def warmed(web):
    """What ``headwater ui`` does once it listens: the first snapshot, in the background."""
    cache = web.app.state.ctx.cache
    cache.prefetch()
    assert cache.wait_first(timeout=60)
    assert cache.peek() is not None
    return web.client.get("/api/assets")


def restarted(web):
    """A second UI over the same home (another process would read the same files)."""
    app = create_app(web.defs, web.instance, web.location, web.app.state.ctx.config)
    return app, web.client.__class__(app, base_url=str(web.client.base_url))


def test_a_restarted_ui_serves_the_stored_body_without_computing(web):
    computed = warmed(web)
    files = list((web.instance.home / "ui-cache").glob("assets-*.json"))
    assert len(files) == 1
    app, client = restarted(web)
    with client:
        first = client.get("/api/assets")
        assert app.state.ctx.cache.peek() is None  # answered from disk: nothing was computed
        assert first.content == computed.content
        assert first.headers["X-Headwater-As-Of"] == computed.headers["X-Headwater-As-Of"]
        assert client.get("/").status_code == 200 and app.state.ctx.cache.peek() is None  # / is a frame
        filtered = client.get("/api/assets", params={"health": "degraded"})  # anything else computes
        assert app.state.ctx.cache.peek() is not None
        assert {r["key"] for r in filtered.json()} < {r["key"] for r in first.json()}


def test_a_body_computed_for_a_request_is_stored_once_sent(web):
    computed = web.client.get("/api/assets")  # no warm-up: computed while the request waited
    assert len(list((web.instance.home / "ui-cache").glob("assets-*.json"))) == 1
    app, client = restarted(web)
    with client:
        assert client.get("/api/assets").content == computed.content
        assert app.state.ctx.cache.peek() is None


def test_a_write_since_means_the_body_is_computed_again(web):
    stored = warmed(web)
    web.instance.materialize(web.defs, "flaky")  # it succeeds now: its row and downstream change
    app, client = restarted(web)
    with client:
        fresh = client.get("/api/assets")
        assert app.state.ctx.cache.peek() is not None
        assert fresh.content != stored.content
        assert {r["key"]: r["health"] for r in fresh.json()}["flaky"] == "healthy"


def test_a_damaged_or_foreign_file_is_not_served(web):
    warmed(web)
    (path,) = (web.instance.home / "ui-cache").glob("assets-*.json")
    for damaged in (b"", b"not json\n[]", path.read_bytes().replace(b'"format": 1', b'"format": 99', 1)):
        path.write_bytes(damaged)
        app, client = restarted(web)
        with client:
            assert client.get("/api/assets").status_code == 200
            assert app.state.ctx.cache.peek() is not None  # computed


def test_nothing_is_stored_for_definitions_whose_rows_move_with_the_clock(make_web, project):
    folder, _ = project
    pipeline = folder / "pipeline.py"
    policy = "default_freshness=hw.FreshnessPolicy.within(__import__('datetime').timedelta(hours=1)), "
    pipeline.write_text(pipeline.read_text().replace("checks=[revenue_positive],", "checks=[revenue_positive], " + policy))
    web = make_web()
    assert web.defs.default_freshness is not None
    warmed(web)
    assert not list((web.instance.home / "ui-cache").glob("assets-*.json"))
