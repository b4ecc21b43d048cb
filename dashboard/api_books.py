"""GET /api/transfers: transfers between exchanges, coins in transit, transfer and borrow fees.

The rows come from BotFacade.transfers (the newest transfer entries the ledger holds in memory,
each transfer_out paired with its transfer_in); the CSV exports of every transfer and borrow fee
stream the whole ledger file (dashboard/exports.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

books_api = Blueprint("books_api", __name__, url_prefix="/api")
TRANSFER_ROWS = 100


@books_api.get("/transfers")
def transfers():
    """{"transfers": [row... newest first], "in_transit", "strategies": {name: fees}, "books": counters}."""
    return jsonify(current_app.extensions["dashboard"].facade.transfers(TRANSFER_ROWS))
