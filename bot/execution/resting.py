"""Resting orders: limit and stop orders that wait on the book, and how public trades fill them.

A limit order that does not cross joins the back of the queue at its price: queue_ahead is the
visible size at that level when it arrives. Trade prints (MarketSource.recent_trades) fill it:
an aggressor's print at its price first consumes the queue ahead, then the order; a print at a
worse price than the order's (a sell below a resting buy, a buy above a resting sell) means the
level was traded through, so nothing is ahead any more. When the visible level shrinks below
the queue ahead (others cancelled), the queue ahead shrinks with it: the conservative queue
model of hftbacktest's RiskAverseQueueModel. Several of our orders at one price share a print
in placement order. Resting fills pay the maker fee at the order's own price.

Stops trigger on the last trade price (the prints, else the quote's last) and then behave as a
market (stop-market) or limit (stop-limit) order. Pure: no IO, no wallets, only arithmetic.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

ORDER_TYPES = ("market", "limit", "stop-market", "stop-limit")
TIME_IN_FORCE = ("GTC", "IOC", "post-only")
OPEN_STATUSES = ("pending", "open", "partially_filled")
FINAL_STATUSES = ("filled", "cancelled", "expired", "rejected")
MANUAL_STRATEGY = "manual"  # the person at the dashboard trades as a strategy of its own
MANUAL_CLOSE_REASON = "manual close"
QTY_TOLERANCE = 1e-12


@dataclass(slots=True)
class RestingOrder:
    """One order of the person (or a script) and its life: arrival, queue, fills, end.

    status: pending (travelling to the exchange), open, partially_filled, then one of
    FINAL_STATUSES. queue_ahead is None until the order rests at its price (a stop rests untriggered).
    seen_ms: the public trades up to this time (ms) have been read for it.
    """

    id: str
    strategy: str
    exchange: str
    symbol: str
    side: str
    type: str
    qty: float
    price: float | None = None
    stop_price: float | None = None
    tif: str = "GTC"
    reason: str = ""
    take_profit: float | None = None
    stop_loss: float | None = None
    parent_id: str | None = None
    oco_id: str | None = None
    status: str = "pending"
    filled: float = 0.0
    cost: float = 0.0  # sum of qty * price over the fills
    fees: float = 0.0
    queue_ahead: float | None = None
    triggered: bool = False
    stale: bool = False
    placed_ts: float = 0.0
    arrive_ts: float = 0.0
    seen_ms: int = 0
    updated_ts: float = 0.0
    note: str = ""  # why it ended (a rejection's or expiry's sentence)
    trade_ids: list = field(default_factory=list)

    @property
    def remaining(self) -> float:
        """The quantity still to fill."""
        return max(0.0, self.qty - self.filled)

    @property
    def is_open(self) -> bool:
        """True while the order can still fill."""
        return self.status in OPEN_STATUSES

    @property
    def is_stop(self) -> bool:
        """True for stop-market and stop-limit orders."""
        return self.type.startswith("stop")

    @property
    def average_price(self) -> float | None:
        """The average fill price (None before any fill)."""
        return self.cost / self.filled if self.filled > 0 else None

    def to_dict(self) -> dict:
        """Every field by name (what an orders.jsonl event carries)."""
        out = asdict(self)
        out["trade_ids"] = list(self.trade_ids)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "RestingOrder":
        """An order from to_dict()'s fields (unknown fields are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def is_through(side: str, print_price: float, price: float) -> bool:
    """True when a print is at a worse price than a resting order's (the level was traded through)."""
    return print_price < price if side == "buy" else print_price > price


def hits(side: str, print_side: str) -> bool:
    """True when an aggressor of print_side trades against resting orders of side (a sell hits bids)."""
    return (side == "buy") == (print_side == "sell")


def crosses(side: str, price: float, best_bid: float | None, best_ask: float | None) -> bool:
    """True when a limit price is marketable against the book: a buy at or above the ask, a sell at or below the bid."""
    if side == "buy":
        return best_ask is not None and price >= best_ask
    return best_bid is not None and price <= best_bid


def shrink_queue(order: RestingOrder, visible_at_price: float) -> None:
    """Others cancelled: the queue ahead is never more than the level shows now."""
    if order.queue_ahead is not None and visible_at_price < order.queue_ahead:
        order.queue_ahead = max(0.0, visible_at_price)


def match_prints(orders: list[RestingOrder], prints: list[dict]) -> list[tuple[RestingOrder, float, float, int]]:
    """Fill resting limit orders of one market from its prints (oldest first): (order, qty, price, ms) per fill.

    Updates each order's queue_ahead and seen_ms (not filled: the caller books the fills).
    orders must be in placement order; only those resting (queue_ahead not None) take part.
    """
    out: list[tuple[RestingOrder, float, float, int]] = []
    left = {order.id: order.remaining for order in orders}
    for trade in prints:
        ms, price, amount, side = int(trade["timestamp"]), float(trade["price"]), float(trade["amount"]), trade["side"]
        ours = 0.0  # what our earlier orders took from this print
        for order in orders:
            if order.queue_ahead is None or ms <= order.seen_ms or left[order.id] <= QTY_TOLERANCE:
                continue
            if not hits(order.side, side):
                continue
            if math.isclose(price, order.price, rel_tol=1e-12, abs_tol=0.0):
                volume = max(0.0, amount - ours)
                used = min(volume, order.queue_ahead)
                order.queue_ahead -= used
                volume -= used
            elif is_through(order.side, price, order.price):
                order.queue_ahead = 0.0
                volume = max(0.0, amount - ours)
            else:
                continue
            take = min(volume, left[order.id])
            if take > QTY_TOLERANCE:
                left[order.id] -= take
                ours += take
                out.append((order, take, order.price, ms))
    if prints:
        last = max(int(t["timestamp"]) for t in prints)
        for order in orders:
            if order.queue_ahead is not None:
                order.seen_ms = max(order.seen_ms, last)
    return out


def stop_hit(order: RestingOrder, last_price: float) -> bool:
    """True when the last trade price reaches a stop: a sell stop at or below it, a buy stop at or above."""
    if order.stop_price is None:
        return False
    return last_price <= order.stop_price if order.side == "sell" else last_price >= order.stop_price


def reserve_of(order: RestingOrder, base: str, quote: str, maker_fee: float, taker_fee: float,
               max_slippage_pct: float) -> tuple[str, float]:
    """What a resting order holds of its wallet: (asset, amount). A buy holds its quote and fee at its
    price (a stop-market buy at its stop plus the slippage cap, at the taker fee); a sell its base."""
    left = order.remaining if order.is_open else 0.0
    if order.side == "sell":
        return base, left
    if order.type == "stop-market":
        return quote, left * order.stop_price * (1 + max_slippage_pct / 100.0) * (1 + taker_fee)
    if order.price is None:  # a market order on its way: it fills on arrival against the wallet as it is then
        return quote, 0.0
    fee = taker_fee if order.is_stop else maker_fee
    return quote, left * order.price * (1 + max(fee, maker_fee))
