"""GET /api/wallets, GET /api/logs and GET /api/journal/trades: the readers behind the wallets
view, the logs panel and the journal's trade picker (bot/wallets.py, bot/log_tail.py,
bot/trade_search.py). Bad parameters are a 400 naming the field (bot/requests_pages.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from bot.log_tail import read_page
from bot.timestamps import iso_utc
from bot.notify.activity import ACTIVITY_FILE, TEXT_LOG_FILE
from bot.requests import CommandError
from bot.requests_pages import LogsQuery, TradeSearchQuery
from bot.trade_search import search_trades
from bot.wallets import wallets_view
from dashboard.parsing import parse_query

pages_api = Blueprint("pages_api", __name__, url_prefix="/api")
LOG_FILES = {"activity": ACTIVITY_FILE, "bot": TEXT_LOG_FILE}


def _ctx():
    return current_app.extensions["dashboard"]


def _known_strategy(name: str | None) -> None:
    if name is not None and name not in _ctx().facade.strategy_names():
        raise CommandError(f"unknown strategy {name!r}; known: {', '.join(_ctx().facade.strategy_names())}",
                           "strategy")


@pages_api.get("/wallets")
def wallets():
    """Balances per exchange and asset, who reserves what, shorts, coins in transit, drift."""
    engine = _ctx().engine
    with engine.lock:
        view = wallets_view(engine.portfolio)
        snapshot = engine.last_snapshot
    return jsonify({**view, "as_of": iso_utc(snapshot.ts) if snapshot else None})


@pages_api.get("/logs")
def logs():
    """A page of the activity log or of bot.log, newest first, read from the end of the file."""
    query = parse_query(LogsQuery)
    _known_strategy(query.strategy)
    path = _ctx().engine.log_dir / LOG_FILES[query.source]
    try:
        page = read_page(path, query.source, query.before, query.limit, query.level, query.strategy, query.q)
    except OSError as exc:
        raise CommandError(f"storage: {path.name} cannot be read: {exc.strerror or exc}", None, 503) from None
    return jsonify({"source": query.source, "file": path.name, "records": page.records,
                    "older_before": page.older_before, "scanned_bytes": page.scanned_bytes})


@pages_api.get("/journal/trades")
def journal_trades():
    """Trades for the journal's picker: newest first, searched over the whole ledger."""
    query = parse_query(TradeSearchQuery)
    _known_strategy(query.strategy)
    ctx = _ctx()
    return jsonify(search_trades(ctx.engine.ledger, ctx.engine.lock, query.q, query.strategy, query.limit,
                                 ctx.cooperate))
