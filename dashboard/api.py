"""The JSON API (see dashboard/API.md): read the facade, control the engine.

Views only read answers the BotFacade computes (cheap: from memory under the engine lock);
the few that stream the ledger file call cooperate() as they go.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from dashboard.security import json_error

MAX_TRADES_LIMIT = 1000

api = Blueprint("api", __name__, url_prefix="/api")


def _ctx():
    return current_app.extensions["dashboard"]


def _strategy_arg():
    """The ?strategy= filter: None, a known strategy name, or a 400 response."""
    name = request.args.get("strategy")
    if name in (None, ""):
        return None, None
    if name not in _ctx().facade.strategy_names():
        known = ", ".join(_ctx().facade.strategy_names())
        return None, json_error(f"unknown strategy {name!r}; known: {known}", 400, "strategy")
    return name, None


@api.get("/health")
def health():
    """200 {"status": "ok", ...}, or 503 {"status": "degraded", "reasons": [...], ...} (see facade.health)."""
    ctx = _ctx()
    body = ctx.facade.health()
    body["uptime_seconds"] = round(time.monotonic() - ctx.started_monotonic, 3)
    return jsonify(body), 200 if body["status"] == "ok" else 503


@api.get("/status")
def status():
    return jsonify(_ctx().facade.status())


@api.get("/portfolio")
def portfolio():
    return jsonify(_ctx().facade.portfolio_summary())


@api.get("/trades")
def trades():
    raw = request.args.get("limit", "100")
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_TRADES_LIMIT:
        return json_error(f"limit must be a whole number from 1 to {MAX_TRADES_LIMIT} (got {raw!r})", 400, "limit")
    strategy, error = _strategy_arg()
    if error is not None:
        return error
    ctx = _ctx()
    found = ctx.facade.trades(limit, strategy, ctx.cooperate)
    return jsonify({"trades": found, "total": ctx.engine.ledger.count})


@api.get("/strategies/performance")
def strategies_performance():
    return jsonify({"strategies": _ctx().facade.strategy_performance()})


@api.get("/market/live")
def market_live():
    return jsonify(_ctx().facade.market_live())


@api.get("/analytics")
def analytics():
    ctx = _ctx()
    return jsonify(ctx.facade.analytics(ctx.cooperate))


@api.get("/chart/allocation")
def chart_allocation():
    return jsonify(_ctx().facade.allocation())


@api.get("/chart/distribution")
def chart_distribution():
    ctx = _ctx()
    return jsonify(ctx.facade.pnl_distribution(cooperate=ctx.cooperate))


@api.get("/chart/cumulative")
def chart_cumulative():
    ctx = _ctx()
    return jsonify(ctx.facade.cumulative_pnl(cooperate=ctx.cooperate))


# ----- controls ---------------------------------------------------------------------------
@api.post("/bot/start")
def bot_start():
    engine = _ctx().engine
    engine.start()
    return jsonify({"state": engine.state})


@api.post("/bot/pause")
def bot_pause():
    engine = _ctx().engine
    engine.pause("paused from the dashboard")
    return jsonify({"state": engine.state})


@api.post("/bot/stop")
def bot_stop():
    engine = _ctx().engine
    engine.stop_trading("stopped from the dashboard")
    return jsonify({"state": engine.state})


@api.post("/strategies/<name>/toggle")
def toggle_strategy(name: str):
    ctx = _ctx()
    engine = ctx.engine
    with engine.lock:
        if engine.manager is None or name not in engine.manager.strategies:
            known = ", ".join(sorted(engine.manager.strategies)) if engine.manager else ""
            return json_error(f"unknown strategy {name!r}; known: {known}", 404, "name")
        enabled = not engine.manager.enabled[name]
        engine.set_strategy_enabled(name, enabled)
    engine.cache.invalidate()  # the cached strategies_update is stale now
    ctx.broadcaster.send("strategies_update", ctx.facade.strategy_performance())
    return jsonify({"strategy": name, "enabled": enabled})


