"""GET /api/candles: the price chart's page of candles, our fills on them and the strategies' indicators.

The answer comes from bot/chart_data.py's ChartReader (one per app, so its index of the
ledger's fills is caught up once rather than rebuilt per request).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from bot.chart_data import CandlesQuery, ChartReader
from dashboard.parsing import parse_query

chart_api = Blueprint("chart_api", __name__, url_prefix="/api")


def _reader() -> ChartReader:
    context = current_app.extensions["dashboard"]
    reader = current_app.extensions.get("chart_reader")
    if reader is None:
        reader = current_app.extensions["chart_reader"] = ChartReader(context.engine, context.cooperate)
    return reader


@chart_api.get("/candles")
def candles():
    """One market's closed 1-minute candles (before= pages back, after= follows), fills and indicators."""
    return jsonify(_reader().page(parse_query(CandlesQuery)))
