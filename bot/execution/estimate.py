"""What an order would do now: the book walk with fees and slippage, or where it would rest.

Read-only (a getter changes nothing): the order ticket shows this before the person confirms.
A marketable order is walked through the book as the executor would (net of our earlier takes,
within the slippage cap and its limit); a limit that does not cross would rest with the visible
size at its price ahead of it and pay the maker fee when it fills.
"""
from __future__ import annotations

from bot.execution.fills import leg_amounts
from bot.execution.resting import RestingOrder, crosses
from bot.execution.resting_desk import level_size
from bot.models import Market, OrderBook


def estimate(order: RestingOrder, market: Market, book: OrderBook | None, max_slippage_pct: float) -> dict:
    """The estimate for a checked order against the book now (JSON-ready)."""
    out = {"exchange": order.exchange, "symbol": order.symbol, "side": order.side, "type": order.type,
           "qty": order.qty, "base": market.base, "quote": market.quote, "maker_fee_rate": market.maker_fee,
           "taker_fee_rate": market.taker_fee}
    if book is None:
        return {**out, "action": "unknown", "message": "no fresh order book for this market now"}
    buy = order.side == "buy"
    best_bid = book.bids[0][0] if book.bids else None
    best_ask = book.asks[0][0] if book.asks else None
    out.update(best_bid=best_bid, best_ask=best_ask)
    if order.is_stop:
        return {**out, "action": "wait", "stop_price": order.stop_price,
                "message": f"waits until the last price {'rises to' if buy else 'falls to'} {order.stop_price:g}, "
                           f"then {'buys' if buy else 'sells'} at {'market' if order.type == 'stop-market' else order.price}"}
    marketable = order.type == "market" or crosses(order.side, order.price, best_bid, best_ask)
    if not marketable or order.tif == "post-only":
        if marketable:
            return {**out, "action": "refuse", "message": "post-only: this limit would cross the book and be refused"}
        queue = level_size(book.bids if buy else book.asks, order.price)
        notional = order.qty * order.price
        return {**out, "action": "rest", "price": order.price, "queue_ahead": queue, "notional": notional,
                "fee": notional * market.maker_fee,
                "message": f"rests at {order.price:.10g} behind {queue:g} {market.base}; fills only as trades reach it"}
    amounts = leg_amounts(market, book.asks if buy else book.bids, order.side, order.qty, max_slippage_pct,
                          order.price if order.type == "limit" else None)
    if isinstance(amounts, str):
        return {**out, "action": "refuse", "message": amounts}
    slippage = abs(amounts.price - amounts.best) / amounts.best * 100.0
    rest = amounts.requested - amounts.qty
    return {**out, "action": "take", "fill_qty": amounts.qty, "average_price": amounts.price,
            "notional": amounts.notional, "fee": amounts.fee, "slippage_pct": slippage, "levels": amounts.levels_used,
            "unfilled_qty": rest,
            "message": f"takes {amounts.qty:g} {market.base} at about {amounts.price:.10g} "
                       f"({slippage:.3f}% slippage, fee {amounts.fee:.6g} {market.quote})"
                       + (f"; {rest:g} would {'rest' if order.type == 'limit' and order.tif == 'GTC' else 'expire'}"
                          if rest > 1e-12 else "")}
