"""GET /api/report.html: the HTML tearsheet of the running bot, as a download.

The same builder as `run_bot.py report` (bot/report.py) over the engine's own facade, so the
file, the pages and the API show one set of figures. The report carries no script; its
Content-Security-Policy allows nothing but its one inline stylesheet (by hash).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, current_app

from bot.timestamps import iso_utc
from bot.report import build_report, style_hash, stylesheet
from bot.run_settings import settings_document

report_api = Blueprint("report_api", __name__, url_prefix="/api")


def report_csp() -> str:
    """The policy the report is served with (the one its own meta tag states)."""
    return (f"default-src 'none'; style-src {style_hash(stylesheet())}; img-src data:; base-uri 'none'; "
            f"form-action 'none'; frame-ancestors 'none'")


@report_api.get("/report.html")
def report_html():
    ctx = current_app.extensions["dashboard"]
    engine = ctx.engine
    facade = ctx.facade
    facade.performance_synced(ctx.cooperate)  # a long catch-up yields to other clients; the report's reads then find it done
    snapshot = engine.last_snapshot
    notes = [f"The bot is {engine.state}: figures as of market time {iso_utc(snapshot.ts)[:19].replace('T', ' ')} UTC."
             if snapshot is not None else f"The bot is {engine.state} and has not read the market yet."]
    html = build_report(facade, {"config": settings_document(engine.config)}, engine.config, notes)
    response = Response(html, mimetype="text/html")
    filename = f"report-{datetime.now(timezone.utc).strftime('%Y-%m-%d')}.html"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Security-Policy"] = report_csp()
    return response
