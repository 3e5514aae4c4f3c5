"""Charts of an asset's history, drawn on the server as SVG with altair and vl-convert.

Each chart is a Vega-Lite spec (altair builds it) rendered to SVG by vl-convert (no
browser, no JavaScript on the page), inlined in the asset page. What a reader needs is
decided here: the unit follows the magnitude (1–9 ms durations read "4 ms", not "0.00 s"),
axes carry four or more round ticks over a padded domain (a flat series too),
dates read "Dec 04 10:30", failed and skipped attempts are marked on every chart (on the
duration chart at the time they took), and every point carries its values as an SVG
``<title>``, which the browser shows on hover. Every numeric metadata entry gets a chart
without configuration.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

WIDTH = 330
HEIGHT = 130
MAX_METADATA = 8
X_TICKS = 4
RANGES = {"24h": 86_400.0, "7d": 7 * 86_400.0, "30d": 30 * 86_400.0, "all": None}
COLORS = {"materialized": "#1d6fb8", "failed": "#b42f2f", "skipped": "#6a3d9a"}
# (unit, seconds per unit), smallest first: the first whose next would make values < 1.5 wins
TIME_UNITS = (("ms", 0.001), ("s", 1.0), ("min", 60.0), ("h", 3600.0), ("d", 86_400.0))


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    unit: str
    svg: Markup
    points: int
    marked: int  # failed or skipped attempts marked on it


def time_unit(values: Sequence[float]) -> tuple[str, float]:
    """The unit that keeps the largest value readable: below 1 s in ms, below 2 min in s..."""
    top = max((abs(v) for v in values), default=0.0)
    chosen = TIME_UNITS[0]
    for unit, size in TIME_UNITS:
        if top >= size * (1.0 if size <= 1 else 2.0):
            chosen = (unit, size)
    return chosen


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _label(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-3:
        return f"{v:.3g}"
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:,.1f}"


def _domain(values: Sequence[float]) -> list[float]:
    """The values' range with a margin (a flat series gets one too), never below zero for
    values that are not."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 if hi != lo else (abs(hi) * 0.1 or 1.0)
    return [max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad]


def value_ticks(domain: Sequence[float], least: int = 4) -> list[float]:
    """Round tick values inside ``domain``, at least ``least`` of them: the renderer's own
    ticks are only a hint (a domain of 33–47 gets 35, 40, 45)."""
    lo, hi = domain
    span = hi - lo
    if not span > 0:
        return [lo]
    exp = 10.0 ** math.ceil(math.log10(span))
    for k in range(12):
        for m in (1.0, 0.5, 0.25, 0.2):
            step = exp * m / 10.0 ** k
            ticks = [i * step for i in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
            if len(ticks) >= least:
                return [round(t, 12) for t in ticks]
    return [lo, hi]


def line_chart(name: str, title: str, unit: str, points: Sequence[tuple[float, float]],
               marks: Sequence[tuple[float, float | None, str, str]] = (),
               rules: Sequence[tuple[float, str]] = ()) -> Chart | None:
    """``points``: (time, value) of the materializations; ``marks``: (time, value or None,
    state, what happened) of failed or skipped attempts (None: marked at the axis);
    ``rules``: (value, label) horizontal lines, e.g. a freshness limit."""
    import altair as alt

    pts = sorted((t, v) for t, v in points if _finite(t) and _finite(v))
    if not pts:
        return None
    values = [v for _, v in pts] + [v for _, v, _, _ in marks if v is not None] + [v for v, _ in rules]
    domain = _domain(values)
    suffix = f" {unit}" if unit else ""
    rows = [{"t": t * 1000, "v": v, "state": "materialized", "tip": f"{_label(t)}: {_num(v)}{suffix}"} for t, v in pts]
    for t, v, state, what in marks:
        rows.append({"t": t * 1000, "v": v if v is not None else domain[0], "state": state,
                     "tip": f"{_label(t)}: {state}" + (f", {_num(v)}{suffix}" if v is not None else "")
                            + (f" — {what[:160]}" if what else "")})
    data = alt.Data(values=rows)
    times = [t for t, _ in pts] + [t for t, _, _, _ in marks]
    t0, t1 = min(times), max(times)
    span = t1 - t0 or 3600.0
    first, last = t0 - span * 0.04, t1 + span * 0.04
    ticks = [round((first + (last - first) * (i + 0.5) / X_TICKS) * 1000) for i in range(X_TICKS)]
    fmt = ("%H:%M:%S.%L" if span < 20 else "%H:%M:%S" if span < 600 else "%b %d %H:%M" if span < 4 * 86_400
           else "%b %d")
    # A linear axis of epoch milliseconds, labelled as UTC times: the tick values are ours
    # (a time axis drops explicit values closer than a second apart).
    x = alt.X("t:Q", title="time (UTC)", scale=alt.Scale(domain=[first * 1000, last * 1000], nice=False, zero=False),
              axis=alt.Axis(values=ticks, labelExpr=f"utcFormat(datum.value, '{fmt}')", labelAngle=0,
                            labelFontSize=10, titleFontSize=10, grid=False, labelOverlap=False))
    y = alt.Y("v:Q", title=unit or None, scale=alt.Scale(domain=domain, nice=False, zero=False),
              axis=alt.Axis(values=value_ticks(domain), format="~s" if not unit else ",.3~r", labelFontSize=10, titleFontSize=10))
    color = alt.Color("state:N", scale=alt.Scale(domain=list(COLORS), range=list(COLORS.values())),
                      legend=alt.Legend(orient="bottom", title=None, labelFontSize=10) if marks else None)
    ok = alt.Chart(data).transform_filter("datum.state == 'materialized'")
    layers: list[Any] = [ok.mark_line(strokeWidth=1.6, color=COLORS["materialized"]).encode(x=x, y=y),
                         ok.mark_point(filled=True, size=28).encode(x=x, y=y, color=color, description="tip:N")]
    if marks:
        bad = alt.Chart(data).transform_filter("datum.state != 'materialized'")
        layers.append(bad.mark_point(shape="cross", size=70, filled=True).encode(
            x=x, y=y, color=color, description="tip:N"))
    for value, label in rules:
        layers.append(alt.Chart(alt.Data(values=[{"v": value, "tip": label}])).mark_rule(
            strokeDash=[4, 3], color="#8a5a00").encode(y=alt.Y("v:Q", scale=alt.Scale(domain=domain)),
                                                       description="tip:N"))
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=alt.TitleParams(
        title, anchor="start", fontSize=12, fontWeight="normal"))
    svg = render(json.dumps(chart.to_dict(), sort_keys=True))
    return Chart(name, title, unit, Markup(svg), len(pts), len(marks))


_POINT = re.compile(r'<path ([^>]*?)aria-label="([^"]*)"([^>]*?)/>')
_MARK_GROUP = re.compile(r'(<g class="mark-(?:symbol|rule) role-mark[^"]*"[^>]*>)(.*?)(</g>)', re.S)


@functools.lru_cache(maxsize=256)
def render(spec: str) -> str:
    """The spec as SVG, each point's description as its ``<title>`` (the hover text).
    Kept by spec: an unchanged history is not drawn twice."""
    import vl_convert

    svg: str = vl_convert.vegalite_to_svg(json.loads(spec))
    svg = svg.replace('class="marks"', 'class="marks chart-svg" role="img"', 1)

    def titled(group: re.Match[str]) -> str:
        body = _POINT.sub(lambda m: f'<path {m.group(1)}aria-label="{m.group(2)}"{m.group(3)}><title>{m.group(2)}'
                                    f'</title></path>', group.group(2))
        return group.group(1) + body + group.group(3)

    return _MARK_GROUP.sub(titled, svg)


def warm() -> None:
    """Start vl-convert's engine (about a second, once per process) before a page needs it."""
    line_chart("warm", "warm", "s", [(0.0, 1.0), (60.0, 2.0)])


def history_charts(materializations: Sequence[Any], attempts: Sequence[Any] = (), *, since: float | None = None,
                   max_lag: float | None = None, warn_lag: float | None = None) -> list[Chart]:
    """Duration, data-time lag and every numeric metadata entry over the materializations
    (oldest first), with the failed and skipped ``attempts`` marked; only what happened
    after ``since`` (the time range control)."""
    mats = [m for m in materializations if since is None or m.timestamp >= since]
    tries = [a for a in attempts if since is None or a.at >= since]
    charts: list[Chart] = []
    durations = [(m.timestamp, m.duration) for m in mats if _finite(m.duration)]
    if durations or tries:
        unit, size = time_unit([d for _, d in durations] + [a.duration for a in tries if _finite(a.duration)])
        c = line_chart("duration", "duration", unit, [(t, d / size) for t, d in durations],
                       [(a.at, a.duration / size if _finite(a.duration) else None, a.state, a.message) for a in tries])
        if c:
            charts.append(c)
    lags = [(m.timestamp, m.timestamp - m.data_time) for m in mats if _finite(m.data_time)]
    if lags:
        limits = [(v, name) for v, name in ((max_lag, "freshness limit"), (warn_lag, "warning")) if v is not None]
        unit, size = time_unit([lag for _, lag in lags] + [v for v, _ in limits])
        c = line_chart("lag", "data time lag (materialized at − data time)", unit,
                       [(t, lag / size) for t, lag in lags], [(a.at, None, a.state, a.message) for a in tries],
                       [(v / size, f"{name}: {_num(v / size)} {unit}") for v, name in limits])
        if c:
            charts.append(c)
    names: dict[str, list[tuple[float, float]]] = {}
    for m in mats:
        for name, value in m.metadata.items():
            if _finite(value):
                names.setdefault(str(name), []).append((m.timestamp, float(value)))
    for name in sorted(names)[:MAX_METADATA]:
        c = line_chart(f"metadata:{name}", f"metadata: {name}", "", names[name],
                       [(a.at, None, a.state, a.message) for a in tries])
        if c:
            charts.append(c)
    return charts
