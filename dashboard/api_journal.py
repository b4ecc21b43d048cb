"""The trade journal API: list, add and edit entries (validation lives in bot/journal.py)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from bot.journal import MAX_QUERY_CHARS, JournalError
from bot.storage import CorruptFileError
from dashboard.security import json_error

journal_api = Blueprint("journal_api", __name__, url_prefix="/api/journal")


def _ctx():
    return current_app.extensions["dashboard"]


def _body():
    """The JSON object sent, or an error response."""
    body = request.get_json(silent=True)
    if body is None:
        return None, json_error("the body must be a JSON object", 400)
    if not isinstance(body, dict):
        return None, json_error("the body must be a JSON object", 400)
    return body, None


def _journal_error(exc: Exception):
    if isinstance(exc, JournalError):
        return json_error(exc.message, exc.status, exc.field)
    return json_error(f"the journal file cannot be read, so it is not changed: {exc}", 500)


@journal_api.get("/entries")
def entries():
    args = request.args
    trade_id = args.get("trade_id") or None
    strategy = args.get("strategy") or None
    query = args.get("q") or None
    if query is not None and len(query) > MAX_QUERY_CHARS:
        return json_error(f"q must be at most {MAX_QUERY_CHARS} characters", 400, "q")
    if strategy is not None and strategy not in _ctx().facade.strategy_names():
        return json_error(f"unknown strategy {strategy!r}", 400, "strategy")
    try:
        found = _ctx().facade.journal_entries(trade_id, strategy, query)
    except CorruptFileError as exc:
        return _journal_error(exc)
    return jsonify({"entries": found})


@journal_api.post("/entry")
def add_entry():
    body, error = _body()
    if error is not None:
        return error
    ctx = _ctx()
    try:
        entry = ctx.facade.add_journal_entry(body, ctx.cooperate)
    except (JournalError, CorruptFileError) as exc:
        return _journal_error(exc)
    return jsonify({"entry": entry}), 201


@journal_api.put("/entry/<entry_id>")
def update_entry(entry_id: str):
    body, error = _body()
    if error is not None:
        return error
    ctx = _ctx()
    try:
        entry = ctx.facade.update_journal_entry(entry_id, body, ctx.cooperate)
    except (JournalError, CorruptFileError) as exc:
        return _journal_error(exc)
    return jsonify({"entry": entry})
