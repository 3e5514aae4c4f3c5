"""The partition strip: a cell per partition (a row per region for day × region), buckets
past 2,000 cells with a zoom into each, states told by pattern and title as well as colour,
with WCAG AA contrast."""

import re

import pytest

from headwater.core.keys import to_key
from headwater.core.partitions import (
    DailyPartitions,
    HourlyPartitions,
    MultiPartitions,
    PartitionContext,
    PartitionError,
    StaticPartitions,
)
from headwater.core.status import AssetStatus, MaterializationStatus, StaleCause, StaleCauseKind
from headwater.web.partition_strip import (
    BACKGROUND,
    MAX_CELLS,
    PALETTE,
    STATES,
    build_strip,
    contrast,
    legend_svg,
    strip_svg,
)

NOW = 1_800_000_000.0  # 2027-01-15
KEY = to_key("events")


def status(p: str, state: str) -> AssetStatus:
    value = {"stale": "materialized"}.get(state, state)
    causes = (StaleCause(StaleCauseKind.UPSTREAM_UPDATED, KEY, to_key("raw"), f"raw[{p}] has news"),) \
        if state == "stale" else ()
    return AssetStatus(KEY, MaterializationStatus(value), state == "stale", causes, partition=p)


def statuses(keys, pick):
    return {k: status(k, pick(i, k)) for i, k in enumerate(keys)}


def cycle(i, _k):
    return STATES[i % len(STATES)]


def test_one_cell_per_partition_links_and_titles():
    d = DailyPartitions(start="2026-03-01", end="2026-03-11")
    ctx = PartitionContext(NOW)
    keys = ctx.keys(d)
    st = statuses(keys, cycle)
    strip = build_strip("events", d, keys, st, ctx)
    assert not strip.aggregated and [c.first for c in strip.cells] == list(keys)
    assert [c.state for c in strip.cells] == [cycle(i, k) for i, k in enumerate(keys)]
    assert strip.cells[0].href == "/partitions/events%5B2026-03-01%5D"
    assert strip.cells[0].title == "2026-03-01 — failed: the latest attempt failed"
    assert strip.cells[3].title == "2026-03-04 — stale: upstream_updated: raw[2026-03-04] has news"
    assert strip.counts == {s: 2 for s in STATES} and strip.shown == 10
    svg = str(strip_svg(strip))
    assert svg.count("<a ") == 10 and svg.count("<title>") == 10
    assert 'data-state="missing"' in svg and 'fill="url(#ps-failed)"' in svg


def test_day_by_region_is_a_heat_map_with_a_row_per_region():
    d = MultiPartitions(day=DailyPartitions(start="2026-03-01", end="2026-03-08"),
                        region=StaticPartitions(["eu", "us", "apac"]))
    ctx = PartitionContext(NOW)
    keys = ctx.keys(d)
    strip = build_strip("sales", d, keys, statuses(keys, lambda i, k: "failed" if k.endswith("|us") else
                                                   "materialized"), ctx)
    assert strip.columns == "day" and [text for _x, _y, text in strip.labels] == ["eu", "us", "apac"]
    rows: dict[int, list] = {}
    for c in strip.cells:
        rows.setdefault(c.y, []).append(c)
    assert len(rows) == 3 and all(len(r) == 7 for r in rows.values())
    us = sorted(rows)[1]
    assert {c.state for c in rows[us]} == {"failed"} and all(c.first.endswith("|us") for c in rows[us])
    assert [c.first for c in rows[sorted(rows)[0]]][:2] == ["2026-03-01|eu", "2026-03-02|eu"]
    assert strip.cells[0].href == "/partitions/sales%5B2026-03-01%7Ceu%5D"


def test_ten_thousand_days_aggregate_by_week_and_zoom_in():
    d = DailyPartitions(start="1999-08-01", end="2026-12-17")
    ctx = PartitionContext(NOW)
    keys = ctx.keys(d)
    assert len(keys) == 10_000
    st = statuses(keys, lambda i, k: "failed" if k == "2026-03-04" else ("missing" if k >= "2026-12-01"
                                                                          else "materialized"))
    strip = build_strip("events", d, keys, st, ctx, base="/partitions/events")
    assert strip.bucket == "week" and len(strip.cells) == 1430 <= MAX_CELLS  # the finest bucket that fits
    assert sum(c.count for c in strip.cells) == 10_000
    assert strip.counts == {"failed": 1, "running": 0, "missing": 16, "stale": 0, "materialized": 9983}
    week = next(c for c in strip.cells if c.first == "2026-03-02")
    assert week.state == "failed" and week.count == 7 and week.last == "2026-03-08"
    assert week.title == "week of 2026-03-02: 7 partitions — 6 materialized, 1 failed. Click to zoom in."
    assert week.href == "/partitions/events?from=2026-03-02&to=2026-03-08"
    assert strip.cells[0].count == 1 and strip.cells[-1].state == "missing"  # 1999-08-01 is a Sunday

    years = build_strip("events", d, keys, st, ctx, max_cells=400)  # a smaller budget: coarser buckets
    assert years.bucket == "month" and len(years.cells) == 329

    zoomed = build_strip("events", d, keys, st, ctx, "2026-03-01", "2026-03-31")
    assert not zoomed.aggregated and len(zoomed.cells) == 31 and zoomed.in_range == list(keys[-291:-260])
    assert [c.state for c in zoomed.cells].count("failed") == 1
    with pytest.raises(PartitionError, match="from '2026-13-01' is not a partition of asset events"):
        build_strip("events", d, keys, st, ctx, "2026-13-01", None)


def test_hours_aggregate_by_the_finest_bucket_that_fits():
    d = HourlyPartitions(start="2026-01-01-00:00", end="2026-04-01-00:00")  # 2,160 hours
    ctx = PartitionContext(NOW)
    keys = ctx.keys(d)
    strip = build_strip("h", d, keys, statuses(keys, lambda i, k: "materialized"), ctx)
    assert strip.bucket == "day" and len(strip.cells) == 90 and strip.cells[0].count == 24


def test_many_static_keys_aggregate_into_runs_of_keys():
    d = StaticPartitions([f"c{i:05d}" for i in range(5000)])
    ctx = PartitionContext(NOW)
    keys = ctx.keys(d)
    strip = build_strip("customers", d, keys, statuses(keys, lambda i, k: "missing"), ctx)
    assert strip.bucket == "3 keys" and len(strip.cells) == 1667 and strip.cells[0].last == "c00002"


def test_states_are_not_told_by_colour_alone_and_keep_contrast():
    legend = str(legend_svg())
    for state in STATES:
        assert f"{state} (" in legend  # its name and letter beside its pattern
    patterns = re.findall(r'<pattern id="pl-(\w+)"[^>]*>(.*?)</pattern>', legend)
    bodies = {state: re.sub(r'fill="#\w+"|stroke="#\w+"', "", body) for state, body in patterns}
    assert len(set(bodies.values())) == len(STATES) - 1  # distinct shapes; missing and materialized differ by outline
    assert 'stroke="' in str(legend_svg()).split('pl-missing')[-1]
    for state, (fill, ink) in PALETTE.items():
        edge = ink if state == "missing" else fill  # a hollow cell is seen by its outline
        assert contrast(edge, BACKGROUND) >= 3.0, state            # WCAG 1.4.11: graphics >= 3:1
        if state not in ("materialized", "missing"):
            assert contrast(ink, fill) >= 3.0, state               # its pattern stands out from its fill
    css = (__import__("pathlib").Path(__import__("headwater.web", fromlist=["x"]).__file__).parent
           / "static" / "partitions.css").read_text()
    for state in ("materialized", "stale", "failed", "running"):  # the badges: white text on the fill
        fill = PALETTE[state][0]
        assert f".pbadge.s-{state} {{ background: {fill}; color: #fff; }}" in css
        assert contrast(fill, "#ffffff") >= 4.5, state             # WCAG 1.4.3: text >= 4.5:1


def test_hostile_keys_are_escaped():
    d = StaticPartitions(["<script>alert(1)</script>", "ok"])
    ctx = PartitionContext(NOW)
    keys = ctx.keys(d)
    svg = str(strip_svg(build_strip("x", d, keys, statuses(keys, lambda i, k: "missing"), ctx)))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_a_zoomed_range_of_regions_by_product_is_launched_as_drawn(tmp_path):
    """Without a time dimension the strip's columns are the first dimension: a zoomed page's
    "materialize missing in this range" sends those keys, and the launch takes them so."""
    from headwater.definitions.loader import DefinitionsLocation
    from headwater.web import UiConfig
    from headwater.web.partition_launch import choose

    from .conftest import Web

    (tmp_path / "pipeline.py").write_text(
        "import headwater as hw\n"
        "from headwater.core.partitions import MultiPartitions, StaticPartitions\n"
        "grid = MultiPartitions(region=StaticPartitions(['eu', 'us', 'apac']), product=StaticPartitions(['a', 'b']))\n"
        "@hw.asset(partitions=grid)\n"
        "def stock():\n    return 1\n"
        "defs = hw.Definitions(assets=[stock])\n")
    web = Web(tmp_path, DefinitionsLocation(file=str(tmp_path / "pipeline.py"), working_dir=str(tmp_path)),
              UiConfig(launch="queue"))
    try:
        key, chosen, args = choose(web.app.state.ctx, "stock", (), "us", "apac", "missing")
        assert (key, chosen) == ("stock", ["us|a", "us|b", "apac|a", "apac|b"])
        assert args == {"targets": {to_key("stock"): tuple(chosen)}}
        with pytest.raises(PartitionError, match="from 'mars' is not a partition of asset stock"):
            choose(web.app.state.ctx, "stock", (), "mars", None, "missing")
    finally:
        web.close()
