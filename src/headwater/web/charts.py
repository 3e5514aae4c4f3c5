"""Small SVG line charts of an asset's history, computed here and drawn by a template.

No charting library: a chart is a polyline in a fixed box plus its axis labels. Points are
(time, value); time runs left to right, oldest first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from headwater.web.formatting import when

WIDTH = 340
HEIGHT = 120
PAD_LEFT = 56
PAD_BOTTOM = 20
PAD_TOP = 8


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    points: str                      # "x,y x,y ..." for <polyline>
    dots: list[tuple[float, float, str]]  # x, y, tooltip
    y_min: str
    y_max: str
    x_from: str
    x_to: str
    width: int = WIDTH
    height: int = HEIGHT


def line_chart(title: str, series: Sequence[tuple[float, float]], unit: str = "") -> Chart | None:
    pts = sorted((t, v) for t, v in series if _finite(t) and _finite(v))
    if len(pts) < 1:
        return None
    t0, t1 = pts[0][0], pts[-1][0]
    lo = min(v for _, v in pts)
    hi = max(v for _, v in pts)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    coords = []
    for t, v in pts:
        x = PAD_LEFT + (plot_w * (t - t0) / (t1 - t0) if t1 > t0 else plot_w / 2)
        y = PAD_TOP + plot_h * (1 - (v - lo) / (hi - lo))
        coords.append((round(x, 1), round(y, 1), f"{when(t)}: {_num(v)}{unit}"))
    return Chart(title, unit, " ".join(f"{x},{y}" for x, y, _ in coords), coords, _num(lo) + unit, _num(hi) + unit,
                 when(t0)[:16], when(t1)[:16])


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v:.3g}"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def history_charts(materializations: Sequence[object]) -> list[Chart]:
    """Duration, data-time lag and every numeric metadata entry, over the materializations."""
    charts: list[Chart] = []
    durations = [(m.timestamp, m.duration) for m in materializations if m.duration is not None]  # type: ignore[attr-defined]
    c = line_chart("duration", durations, " s")
    if c:
        charts.append(c)
    lags = [(m.timestamp, (m.timestamp - m.data_time) / 3600) for m in materializations  # type: ignore[attr-defined]
            if m.data_time is not None]  # type: ignore[attr-defined]
    c = line_chart("data time lag (materialized at − data time)", lags, " h")
    if c:
        charts.append(c)
    names: dict[str, list[tuple[float, float]]] = {}
    for m in materializations:
        for name, value in m.metadata.items():  # type: ignore[attr-defined]
            if _finite(value):
                names.setdefault(str(name), []).append((m.timestamp, float(value)))  # type: ignore[attr-defined]
    for name in sorted(names)[:8]:
        c = line_chart(f"metadata: {name}", names[name])
        if c:
            charts.append(c)
    return charts
