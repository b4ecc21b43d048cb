"""Inline SVG charts for the HTML report: time lines and a calendar of daily returns.

Rendered in Python so the report needs no script and no file beside it. Every text that comes
from data goes through markupsafe.escape; coordinates are numbers this module formats. Colours
are classes the report's stylesheet defines (no style attributes, so a strict CSP holds).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 280
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 72, 16, 12, 28


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About count round values covering low..high (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high, low = low + 1.0, low - 1.0
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


TIME_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400,
              30 * 86400, 91 * 86400, 365 * 86400)


def time_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round UTC times (whole minutes, hours, days...) from low to high, at most `most` of them."""
    span = max(high - low, 1.0)
    step = next((step for step in TIME_STEPS if span / step <= most), TIME_STEPS[-1])
    first = math.ceil(low / step) * step
    return [float(first + index * step) for index in range(int((high - first) // step) + 1)]


def time_label(ts: float, step: float) -> str:
    """UTC time for an axis: HH:MM for steps under a day (the date at midnight), the date from a day."""
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    if step >= 86400 or (moment.hour == 0 and moment.minute == 0):
        return moment.strftime("%b %d")
    return moment.strftime("%H:%M")


def _bounds(series: Sequence[dict]) -> tuple[float, float, float, float] | None:
    points = [(t, v) for s in series for t, v in s["points"]]
    if len(points) < 2:
        return None
    times = [t for t, _ in points]
    values = [v for _, v in points]
    return min(times), max(times), min(values), max(values)


def _axes(x0, x1, y0, y1, y_ticks, y_format, t_low, t_high, scale_y) -> list[str]:
    """Horizontal grid lines with value labels, vertical ones at round times with time labels."""
    parts = []
    for tick in y_ticks:
        y = scale_y(tick)
        parts.append(f'<line class="grid" x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(y_format(tick))}</text>')
    ticks = time_ticks(t_low, t_high)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 86400.0
    for ts in ticks:
        x = x0 + (ts - t_low) / ((t_high - t_low) or 1.0) * (x1 - x0)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}"/>'
                     f'<text class="axis" x="{x:.1f}" y="{y1 + 18}" text-anchor="middle">{escape(time_label(ts, step))}</text>')
    return parts


def line_chart(series: Sequence[dict], y_format, title: str, zero_line: bool = False) -> Markup:
    """series: [{"name", "css" (a class: line-1...), "points": [(epoch s, value), ...]}] on one
    time axis. An empty chart says so in words."""
    bounds = _bounds(series)
    if bounds is None:
        return Markup('<p class="empty">Not enough samples for a chart yet.</p>')
    t_low, t_high, v_low, v_high = bounds
    if zero_line:
        v_low, v_high = min(v_low, 0.0), max(v_high, 0.0)
    y_ticks = nice_ticks(v_low, v_high)
    v_low, v_high = min([v_low] + y_ticks), max([v_high] + y_ticks)
    x0, x1 = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    y0, y1 = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    t_span = (t_high - t_low) or 1.0
    v_span = (v_high - v_low) or 1.0

    def scale_x(ts: float) -> float:
        return x0 + (ts - t_low) / t_span * (x1 - x0)

    def scale_y(value: float) -> float:
        return y1 - (value - v_low) / v_span * (y1 - y0)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>']
    parts += _axes(x0, x1, y0, y1, y_ticks, y_format, t_low, t_high, scale_y)
    for item in series:
        coordinates = " ".join(f"{scale_x(t):.1f},{scale_y(v):.1f}" for t, v in item["points"])
        parts.append(f'<polyline class="{escape(item["css"])}" points="{coordinates}"><title>{escape(item["name"])}'
                     f'</title></polyline>')
    parts.append("</svg>")
    legend = "".join(f'<li><span class="swatch {escape(item["css"])}"></span>{escape(item["name"])}</li>'
                     for item in series)
    return Markup("".join(parts) + f'<ul class="legend">{legend}</ul>')


def return_class(value: float | None) -> str:
    """A cell's colour class by the size and sign of a daily return (in %)."""
    if value is None:
        return "day-none"
    size = abs(value)
    level = 0 if size < 0.05 else 1 if size < 0.5 else 2 if size < 2 else 3
    return "day-flat" if level == 0 else f"day-{'up' if value > 0 else 'down'}-{level}"


def calendar(days: Sequence[dict], pct_format) -> Markup:
    """A month-by-week grid of daily returns: days = [{"date": "YYYY-MM-DD", "equity_pct", "trading_pct"}]."""
    if not days:
        return Markup('<p class="empty">No equity samples to take daily returns from yet.</p>')
    by_date = {day["date"]: day for day in days}
    first = datetime.strptime(days[0]["date"], "%Y-%m-%d").date()
    last = datetime.strptime(days[-1]["date"], "%Y-%m-%d").date()
    start = first.toordinal() - first.weekday()  # the Monday of the first week
    rows = []
    for week_start in range(start, last.toordinal() + 1, 7):
        cells = []
        for ordinal in range(week_start, week_start + 7):
            date = datetime.fromordinal(ordinal).date().isoformat()
            day = by_date.get(date)
            if day is None:
                cells.append('<td class="day-none"></td>')
                continue
            tip = f"{date}: equity {pct_format(day['equity_pct'])}, trading equity {pct_format(day['trading_pct'])}"
            cells.append(f'<td class="{return_class(day["equity_pct"])}" title="{escape(tip)}" '
                         f'data-date="{escape(date)}"><span class="day-date">{escape(date[5:])}</span>'
                         f'<span class="day-value">{escape(pct_format(day["equity_pct"]))}</span></td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th scope=\"col\">{name}</th>" for name in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    return Markup(f'<table class="calendar"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
