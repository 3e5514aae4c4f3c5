"""The change feed the graph, catalog and asset pages poll: what changed since a page's
cursor, written from outside the UI (another process's instance on the same store)."""

import re

from headwater.web.changes import ChangeFeed
from headwater.web.state import Snapshot


def cursor_of(html: str) -> str:
    return re.search(r'<meta name="hw-cursor" content="([^"]+)">', html).group(1)


def graph_cursor(web) -> str:
    """The graph page follows changes from the cursor of the state it drew (its canvas answer)."""
    return web.client.get("/api/graph/canvas").json()["cursor"]


def fix_flaky(web):
    """What a worker or the CLI does: flaky materializes (it is no longer failing)."""
    assert web.instance.materialize(web.defs, "flaky").success
    # On a loaded machine one health computation can pass 50 ms, and the UI then serves its
    # last snapshot for a while (state.py): these tests are about the feed, not that policy.
    web.app.state.ctx.cache.drop()


def test_changes_name_what_moved_and_nothing_else(web):
    everything = web.client.get("/api/changes").json()
    assert everything["full"] and everything["changed"] == 5 and len(everything["assets"]) == 5
    cursor = everything["cursor"]
    quiet = web.client.get("/api/changes", params={"since": cursor}).json()
    assert quiet == {**quiet, "full": False, "changed": 0, "assets": [], "cursor": cursor}

    fix_flaky(web)
    moved = web.client.get("/api/changes", params={"since": cursor}).json()
    assert not moved["full"] and moved["cursor"] != cursor
    by_key = {a["key"]: a for a in moved["assets"]}
    assert by_key["flaky"]["health"] == "healthy" and by_key["flaky"]["status"] == "materialized"
    assert "dashboard" in by_key                      # downstream of flaky: its state moved too
    assert not {"raw/orders", "staging/orders", "revenue"} & set(by_key)
    again = web.client.get("/api/changes", params={"since": moved["cursor"]}).json()
    assert again["changed"] == 0
    # A page drawn before both polls still gets everything since it was drawn.
    assert web.client.get("/api/changes", params={"since": cursor}).json()["assets"] == moved["assets"]


def test_a_cursor_from_elsewhere_gets_everything(web):
    for since in ("", "nonsense", "deadbeef.3", "x.y"):
        answer = web.client.get("/api/changes", params={"since": since}).json()
        assert answer["full"] and answer["changed"] == 5


def test_pages_carry_the_cursor_of_the_snapshot_they_were_drawn_from(web):
    assert 'name="hw-cursor"' not in web.client.get("/graph").text  # a frame: no state computed for it
    assert web.app.state.ctx.cache.peek() is None
    cursors = {url: cursor_of(web.client.get(url).text) for url in ("/assets", "/assets/revenue")}
    cursors["/api/graph/canvas"] = graph_cursor(web)
    cursors["/graph"] = cursor_of(web.client.get("/graph").text)  # a state at hand: the frame says which
    for url, cursor in cursors.items():
        assert web.client.get("/api/changes", params={"since": cursor}).json()["changed"] == 0, url
    assert 'name="hw-cursor"' not in web.client.get("/runs").text


def test_graph_changes_redraw_the_changed_nodes(web):
    cursor = graph_cursor(web)
    shape = web.client.get("/api/graph/changes").json()["shape"]
    assert web.client.get("/api/graph/changes", params={"since": cursor}).json()["nodes"] == []

    fix_flaky(web)
    answer = web.client.get("/api/graph/changes", params={"since": cursor}).json()
    nodes = {n["id"]: n for n in answer["nodes"]}
    assert set(nodes) == {"flaky", "dashboard"} and answer["shape"] == shape
    assert nodes["flaky"]["class"] == "node h-healthy"
    assert "healthy · materialized" in nodes["flaky"]["body"] and "<g" not in nodes["flaky"]["body"]
    assert nodes["flaky"]["tip"].startswith("flaky — healthy")
    assert answer["summary"].get("degraded", 0) == 0 and answer["shown"] == answer["total"] == 5
    # What a full answer (no cursor) draws now, node for node.
    full = {n["id"]: n for n in web.client.get("/api/graph/changes").json()["nodes"]}
    for node_id, node in nodes.items():
        assert full[node_id] == node


def test_a_collapsed_group_is_redrawn_when_a_member_changes(web):
    cursor = graph_cursor(web)
    fix_flaky(web)
    answer = web.client.get("/api/graph/changes", params={"since": cursor, "collapse": "marts"}).json()
    group = next(n for n in answer["nodes"] if n["id"] == "group:marts")
    assert group["class"] == "node h-healthy group-node" and "2 healthy" in group["body"]


def test_a_health_filter_that_now_matches_others_says_the_layout_moved(web):
    cursor = web.client.get("/api/graph/canvas", params={"health": "degraded"}).json()["cursor"]
    shape = web.client.get("/api/graph/changes", params={"health": "degraded"}).json()["shape"]
    fix_flaky(web)
    answer = web.client.get("/api/graph/changes", params={"since": cursor, "health": "degraded"}).json()
    assert answer["changed"] and answer["shape"] != shape


def test_catalog_rows_render_alone(web):
    html = web.client.get("/assets?sort=health&fragment=rows").text
    assert "<html" not in html and 'id="catalog"' in html and "5 asset(s)" in html
    page = web.client.get("/assets?sort=health").text
    assert 'data-fragment="/assets?sort=health&amp;page=1&amp;fragment=rows"' in page


def test_the_feed_forgets_old_versions_and_then_sends_everything(web):
    feed = ChangeFeed(keep=1)

    def snapshot(seq):
        return Snapshot(web.instance.healths(web.defs), 0.0, 0.0, 0.0, None, seq)

    failed = snapshot(1)
    first = feed.cursor(failed)
    fix_flaky(web)
    second = feed.cursor(snapshot(2))                   # version 1: flaky healthy
    (web.folder / "FLAKY").write_text("")
    assert not web.instance.materialize(web.defs, "flaky").success
    third = snapshot(3)                                  # version 2: flaky failed again; the log keeps one
    cursor, keys = feed.since(second, third)
    assert cursor.endswith(".2") and "flaky" in {str(k) for k in keys}
    assert feed.since(first, third)[1] is None          # forgotten: everything
    assert feed.observe(failed) == 0                     # an older snapshot keeps its version
