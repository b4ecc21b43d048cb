"""GET /api/execution: fill quality per strategy and per (strategy, exchange) (bot/execution/quality.py).

Optional query: strategy (an unknown name is a 400 naming the field).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from bot.requests import CommandError, ExecutionQuery
from dashboard.parsing import parse_query

execution_api = Blueprint("execution_api", __name__, url_prefix="/api")


@execution_api.get("/execution")
def execution():
    ctx = current_app.extensions["dashboard"]
    query = parse_query(ExecutionQuery)
    known = ctx.facade.strategy_names()
    if query.strategy is not None and query.strategy not in known:
        raise CommandError(f"unknown strategy {query.strategy!r}; known: {', '.join(known)}", "strategy")
    return jsonify(ctx.facade.execution_quality(query.strategy, ctx.cooperate))
