"""Trading by hand: orders (place, estimate, list, cancel) and closing a position (issue 17).

Each write is parse -> command -> answer (bot/commands.py -> bot/commands_orders.py): checked
against the running bot, written to data/orders.jsonl, then applied. The fresh orders_update
goes to every dashboard at once.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from bot.commands import CancelOrder, ClosePosition, EstimateOrder, PlaceOrder
from bot.commands_orders import orders_listing
from bot.requests_orders import ClosePositionRequest, OrderRequest
from dashboard.parsing import handle, parse_body

orders_api = Blueprint("orders_api", __name__, url_prefix="/api")


def _pushed() -> None:
    """Everyone sees an order change at once, not at the next broadcast."""
    broadcaster = current_app.extensions["dashboard"].broadcaster
    broadcaster.send("orders_update", broadcaster.payload("orders_update", 0))


@orders_api.get("/orders")
def list_orders():
    engine = current_app.extensions["dashboard"].engine
    return jsonify(orders_listing(engine))


@orders_api.post("/orders")
def place_order():
    order = handle(PlaceOrder(parse_body(OrderRequest)))
    _pushed()
    return jsonify({"order": order}), 201


@orders_api.post("/orders/estimate")
def estimate_order():
    return jsonify({"estimate": handle(EstimateOrder(parse_body(OrderRequest)))})


@orders_api.delete("/orders/<order_id>")
def cancel_order(order_id: str):
    parse_body()
    order = handle(CancelOrder(order_id))
    _pushed()
    return jsonify({"order": order})


@orders_api.post("/positions/close")
def close_position():
    order = handle(ClosePosition(parse_body(ClosePositionRequest)))
    _pushed()
    return jsonify({"order": order}), 201
