"""The HTML tearsheet: one self-contained file (inline CSS and SVG, no script, no link out).

Every figure comes from the BotFacade (the same answers the dashboard and the API give), so
the report, the pages and the exit summary cannot disagree: gather() asks the facade, render()
only formats. Jinja2 autoescapes every data string; the SVG charts escape their own
(bot/report_svg.py). The page carries its own Content-Security-Policy: nothing loads, and the
one inline stylesheet is allowed by its hash.
"""
from __future__ import annotations

import base64
import hashlib
import math
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.timestamps import parse_iso
from bot.report_svg import calendar, line_chart
from bot.run_settings import REPORTED_SECTIONS, flatten

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "–"
CHART_POINTS = 600
RANKED_TRIPS = 5
KEY_SETTINGS = ("market.source", "market.seed", "market.exchanges", "market.symbols", "market.tick_seconds",
                "market.start_time", "risk.max_drawdown_pct", "risk.drawdown_basis", "analytics.period")
PERIOD_UNITS = {3600.0: "hour", 86400.0: "day", 60.0: "minute"}


# ----- formatting (None and non-finite numbers show as a dash) -------------------------------
def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def money(value, digits: int = 2) -> str:
    """12,345.67"""
    return DASH if _missing(value) else f"{value:,.{digits}f}"


def signed(value, digits: int = 2) -> str:
    """+12.34 / −5.00 (a true minus sign, as on the dashboard)."""
    if _missing(value):
        return DASH
    if abs(value) < 0.5 * 10 ** -digits:
        value = 0.0
    sign = "+" if value > 0 else "\u2212" if value < 0 else ""
    return f"{sign}{abs(value):,.{digits}f}"


def pct(value, digits: int = 2) -> str:
    """1.23% (−1.23% below zero) from a value already in percent."""
    return DASH if _missing(value) else signed(value, digits).lstrip("+") + "%"


def signed_pct(value, digits: int = 2) -> str:
    """+1.23% / −0.40%"""
    return DASH if _missing(value) else f"{signed(value, digits)}%"


def ratio_pct(value, digits: int = 1) -> str:
    """0.5 -> 50.0%"""
    return DASH if _missing(value) else pct(value * 100.0, digits)


def number(value, digits: int = 2) -> str:
    """A plain figure (Sharpe, profit factor), with a true minus sign below zero."""
    return DASH if _missing(value) else signed(value, digits).lstrip("+")


def duration(seconds) -> str:
    """45s, 12m 30s, 3h 05m, 2d 4h."""
    if _missing(seconds):
        return DASH
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def setting_text(value) -> str:
    """A setting as config.yaml would spell it: lists joined by commas, true/false, null, {} as none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return ", ".join(setting_text(item) for item in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {setting_text(item)}" for key, item in value.items()) if value else "none"
    return str(value)


def needs_text(figures: dict) -> str:
    """"needs 12 more hours" for a ratio not shown yet (the period's unit, or "periods of 10m")."""
    count = int(figures.get("needs_periods") or 0)
    unit = PERIOD_UNITS.get(float(figures.get("period_seconds") or 0.0))
    if unit is None:
        return f"needs {count} more period{'s' if count != 1 else ''} of {figures.get('period')}"
    return f"needs {count} more {unit}{'s' if count != 1 else ''}"


def basis_text(figures: dict) -> str:
    """"1h × 36 periods": the period and the sample size next to a risk figure."""
    count = figures.get("periods", 0)
    return f"{figures.get('period')} \u00d7 {count} period{'' if count == 1 else 's'}"


# ----- what the report shows, all from the facade --------------------------------------------
def _epoch_points(pairs) -> list[tuple[float, float]]:
    return [(parse_iso(ts), float(value)) for ts, value in pairs]


def _falls(pairs) -> list[tuple[float, float]]:
    """Drawdown points drawn downwards (a fall of 2% at -2)."""
    return [(ts, -value) for ts, value in _epoch_points(pairs)]


def _charts(facade) -> dict:
    curves = facade.cumulative_pnl(max_points=CHART_POINTS)
    falls = facade.drawdown_chart(max_points=CHART_POINTS)
    equity = [{"name": "Equity", "css": "line-1", "points": _epoch_points(curves["equity"])},
              {"name": "Trading equity (equity less the starting inventory's price moves)", "css": "line-2",
               "points": _epoch_points(curves["trading_equity"])},
              {"name": "Buy and hold (the starting inventory left alone)", "css": "line-3 dashed",
               "points": _epoch_points(curves.get("buy_and_hold", []))}]
    drawdown = [{"name": "Equity below its peak", "css": "line-1", "points": _falls(falls["equity"])},
                {"name": "Trading equity below its peak", "css": "line-2", "points": _falls(falls["trading_equity"])}]
    strategies = [{"name": name, "css": f"line-{index % 6 + 1}", "points": _epoch_points(pairs)}
                  for index, (name, pairs) in enumerate(sorted(curves["strategies"].items()))]
    return {"equity": line_chart(equity, lambda v: money(v, 0), "Equity, trading equity and buy and hold (USDT)"),
            "drawdown": line_chart(drawdown, lambda v: pct(v, 1), "Drawdown from the running peak (%)", zero_line=True),
            "strategies": line_chart(strategies, lambda v: signed(v, 0), "Cumulative net P&L by strategy (USDT)",
                                     zero_line=True),
            "calendar": calendar(facade.daily_returns(), signed_pct)}


def _settings(settings_document: dict | None, fallback_config) -> dict:
    if settings_document is not None and isinstance(settings_document.get("config"), dict):
        config, source = settings_document["config"], "recorded at the run's last start (data/run_settings.json)"
    else:
        from bot.run_settings import settings_document as document

        config = document(fallback_config)
        source = "not recorded in this data dir; these are the settings of the config the report was made with"
    rows = flatten({section: config.get(section, {}) for section in REPORTED_SECTIONS})
    values = dict(rows)
    return {"source": source, "key": [(key, values[key]) for key in KEY_SETTINGS if key in values], "all": rows}


def _ranked(trips: list[dict]) -> dict:
    ordered = sorted(trips, key=lambda trip: (trip["net_pnl"], trip["id"]))
    return {"best": list(reversed(ordered[-RANKED_TRIPS:])), "worst": ordered[:RANKED_TRIPS]}


def gather(facade, settings_document: dict | None, config, notes: list[str] | None = None) -> dict:
    """Everything the report shows, asked of the facade once (JSON-like data plus the SVG charts)."""
    analytics = facade.analytics()
    summary = facade.portfolio_summary()
    risk_rows = [("Equity", "equity", analytics["overall"]), ("Trading equity", "trading", analytics["overall"]["trading"])]
    risk_rows += [(name, name, figures) for name, figures in analytics["strategies"].items()]
    trade_rows = [("All strategies", "overall", analytics["overall"])]
    trade_rows += [(name, name, figures) for name, figures in analytics["strategies"].items()]
    settings = _settings(settings_document, config)
    return {"generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "summary": summary, "analytics": analytics, "performance": facade.strategy_performance(),
            "risk_rows": risk_rows, "trade_rows": trade_rows, "fees": facade.fees_by_kind(),
            "trips": _ranked(facade.round_trips(status="closed")), "charts": _charts(facade),
            "settings": settings, "market": dict(settings["key"]).get("market.source", "?"), "notes": list(notes or []),
            "basis": {"drawdown": config.risk.drawdown_basis, "period": analytics["period_rule"]}}


# ----- rendering -----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(money=money, signed=signed, pct=pct, signed_pct=signed_pct, ratio_pct=ratio_pct,
                               number=number, duration=duration, needs=needs_text, basis=basis_text, setting=setting_text,
                               label=lambda name: str(name).replace("_", " ").capitalize(),
                               raw=lambda value: "" if value is None else repr(value))
    return environment


def stylesheet() -> str:
    """The report's CSS, inlined in a <style> element."""
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def style_hash(css: str) -> str:
    """The CSP source that allows exactly this inline stylesheet."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii") + "'"


def render(report: dict) -> str:
    """The report as one HTML document."""
    css = stylesheet()
    return _environment().get_template("report.html").render(report=report, css=css, style_hash=style_hash(css))


def build_report(facade, settings_document: dict | None, config, notes: list[str] | None = None) -> str:
    """gather() then render(): the HTML the CLI writes and /api/report.html serves."""
    return render(gather(facade, settings_document, config, notes))
