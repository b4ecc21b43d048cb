"""The trade journal API: list, add and edit entries (parse -> command -> answer; see bot/commands.py)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from bot.commands import AddJournalEntry, EditJournalEntry
from bot.requests import CommandError, JournalEntryRequest, JournalQuery
from bot.storage_reading import CorruptFileError
from dashboard.parsing import handle, parse_body, parse_query

journal_api = Blueprint("journal_api", __name__, url_prefix="/api/journal")


def _ctx():
    return current_app.extensions["dashboard"]


@journal_api.get("/entries")
def entries():
    query = parse_query(JournalQuery)
    if query.strategy is not None and query.strategy not in _ctx().facade.strategy_names():
        raise CommandError(f"unknown strategy {query.strategy!r}", "strategy")
    try:
        found = _ctx().facade.journal_entries(query.trade_id, query.strategy, query.q)
    except CorruptFileError as exc:
        raise CommandError(f"storage: the journal file cannot be read: {exc}", None, 503) from None
    return jsonify({"entries": found})


@journal_api.post("/entry")
def add_entry():
    entry = handle(AddJournalEntry(parse_body(JournalEntryRequest)))
    return jsonify({"entry": entry}), 201


@journal_api.put("/entry/<entry_id>")
def update_entry(entry_id: str):
    entry = handle(EditJournalEntry(entry_id, parse_body(JournalEntryRequest)))
    return jsonify({"entry": entry})
