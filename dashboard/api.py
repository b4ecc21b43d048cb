"""The JSON API (see dashboard/API.md): read the facade, control the engine.

Views only read answers the BotFacade computes (cheap: from memory under the engine lock);
the few that stream the ledger file call cooperate() as they go.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from bot import payloads
from bot.commands import PauseBot, SetSpeed, StartBot, StopBot, ToggleStrategy
from bot.requests import SpeedRequest, TradesQuery
from dashboard.parsing import handle, parse_body, parse_query
from dashboard.security import json_error

api = Blueprint("api", __name__, url_prefix="/api")


def _ctx():
    return current_app.extensions["dashboard"]


def _strategy_arg(name: str | None):
    """The ?strategy= filter: None, a known strategy name, or a 400 response."""
    if name is None:
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
    return jsonify(payloads.status(_ctx().facade))


@api.get("/portfolio")
def portfolio():
    return jsonify(payloads.portfolio(_ctx().facade))


@api.get("/trades")
def trades():
    query = parse_query(TradesQuery)
    strategy, error = _strategy_arg(query.strategy)
    if error is not None:
        return error
    ctx = _ctx()
    return jsonify(payloads.trades(ctx.facade, query.limit, strategy, ctx.cooperate))


@api.get("/strategies/performance")
def strategies_performance():
    return jsonify(payloads.strategies(_ctx().facade))


@api.get("/market/live")
def market_live():
    return jsonify(payloads.market(_ctx().facade))


@api.get("/catalog")
def catalog():
    """Strategy names, notification levels, alert conditions with their fields and limits (bot/payloads.py)."""
    return jsonify(payloads.catalog(_ctx().facade))


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


# ----- controls: parse -> command -> answer (bot/commands.py persists, then applies) -------
@api.post("/bot/start")
def bot_start():
    parse_body()
    return jsonify({"state": handle(StartBot())})


@api.post("/bot/pause")
def bot_pause():
    parse_body()
    return jsonify({"state": handle(PauseBot("paused from the dashboard"))})


@api.post("/bot/stop")
def bot_stop():
    parse_body()
    return jsonify({"state": handle(StopBot("stopped from the dashboard"))})


@api.post("/strategies/<name>/toggle")
def toggle_strategy(name: str):
    parse_body()
    enabled = handle(ToggleStrategy(name))
    broadcaster = _ctx().broadcaster
    broadcaster.send("strategies_update", broadcaster.payload("strategies_update", 0))  # the new version's
    return jsonify({"strategy": name, "enabled": enabled})


@api.post("/market/speed")
def market_speed():
    """Set the simulated clock's speed: persisted in the state file, then applied (bot/commands.py)."""
    request_model = parse_body(SpeedRequest)
    return jsonify(handle(SetSpeed(request_model)))
