"""RestingDesk: the open orders of the person at the dashboard (and of scripts), through their whole life.

Each tick (engine.tick, where orders in flight are delivered) the desk lets pending orders
arrive after their exchange's latency, fills crossing ones at once as takers through the
executor (the book net of our earlier takes, slippage cap, liquidity memory), rests the rest
at the back of the queue at their price, and fills resting ones from the public trades the
source reports (bot/execution/resting.py). Every change is an event in data/orders.jsonl,
written after the ledger line of any fill it booked; on start the file is replayed and each
order's filled quantity is taken from the ledger (the truth) so a crash between the two writes
loses nothing. While an order rests its funds are reserved against the wallet
(PortfolioTracker.order_reserve): no strategy, and no other order, can spend them.
A source without a public trade feed (live, until the streams give one) leaves orders resting
and marks them stale.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from bot.config_execution import ExecutionConfig
from bot.execution.order_log import OrderLog, replay
from bot.execution.resting import (QTY_TOLERANCE, RestingOrder, crosses, match_prints, reserve_of, shrink_queue,
                                   stop_hit)
from bot.models import Fill, Leg, Signal, Snapshot, Trade, round_step

log = logging.getLogger(__name__)


def level_size(levels, price: float) -> float:
    """The visible size at exactly price in book levels (0 when the level is empty)."""
    for level_price, size in levels:
        if abs(level_price - price) <= abs(price) * 1e-12:
            return size
    return 0.0


class RestingDesk:
    """Open orders: placement, arrival, queue, fills, cancels, reserves, persistence."""

    def __init__(self, config: ExecutionConfig, source, data_flow, data_dir: str | Path, fsync: bool = False,
                 shorting: frozenset[str] = frozenset()):
        self.config = config
        self.source = source
        self.data_flow = data_flow
        self.shorting = shorting  # the strategies that declare shorts (Strategy.allows_short); manual does not
        self.log = OrderLog(data_dir, fsync=fsync)
        self.orders: dict[str, RestingOrder] = {}  # every order this data dir has seen, placement order
        self._next_number = 1
        self._executing: str | None = None  # the order filling as a taker now: its own reserve is not in its way

    # ----- state --------------------------------------------------------------------------
    def restore(self, trades: Iterable[Trade]) -> list[str]:
        """Rebuild the orders from data/orders.jsonl, their fills from the ledger; returns warnings."""
        orders, _ = replay(self.log.path)
        if not orders:
            return []
        booked: dict[str, tuple[float, float, float, list]] = {}
        for trade in trades:
            if trade.signal_id in orders:
                qty, cost, fees, ids = booked.get(trade.signal_id, (0.0, 0.0, 0.0, []))
                booked[trade.signal_id] = (qty + trade.qty, cost + trade.qty * trade.price, fees + trade.fee,
                                           ids + [trade.id])
        warnings = []
        for order in orders.values():
            qty, cost, fees, ids = booked.get(order.id, (0.0, 0.0, 0.0, []))
            if abs(qty - order.filled) > QTY_TOLERANCE:
                warnings.append(f"order {order.id}: the ledger holds {qty:g} filled where data/orders.jsonl says "
                                f"{order.filled:g}; the ledger wins")
                order.filled, order.cost, order.fees, order.trade_ids = qty, cost, fees, ids
                if order.is_open and order.remaining <= QTY_TOLERANCE:
                    order.status = "filled"
        self.orders = orders
        numbers = [int(o.id[1:]) for o in orders.values() if o.id[1:].isdigit()]
        self._next_number = max(numbers, default=0) + 1
        return warnings

    def next_id(self) -> str:
        """The id the next placed order gets."""
        return f"O{self._next_number:08d}"

    @property
    def active(self) -> bool:
        """True while any order can still fill (the engine's tick skips the desk otherwise)."""
        return any(order.is_open for order in self.orders.values())

    def open_orders(self) -> list[RestingOrder]:
        """The orders that can still fill, oldest first."""
        return [order for order in self.orders.values() if order.is_open]

    def reserved(self, exchange: str, asset: str) -> float:
        """What open orders hold of asset on exchange (a take-profit and stop-loss pair holds its base once)."""
        return self._held(asset, lambda order: order.exchange == exchange)

    def committed(self, strategy: str, asset: str) -> float:
        """What strategy's open orders hold of asset over every exchange: what they will give up if they
        fill (a take-profit and stop-loss pair once)."""
        return self._held(asset, lambda order: order.strategy == strategy)

    def _held(self, asset: str, counts) -> float:
        total, pairs = 0.0, {}
        for order in self.orders.values():
            if not order.is_open or order.id == self._executing or not counts(order):
                continue
            held_asset, amount = self._reserve(order)
            if held_asset != asset:
                continue
            if order.oco_id is not None and order.side == "sell":
                pairs[order.oco_id] = max(pairs.get(order.oco_id, 0.0), amount)
            else:
                total += amount
        return total + sum(pairs.values())

    def _reserve(self, order: RestingOrder) -> tuple[str, float]:
        market = self.source.markets[(order.exchange, order.symbol)]
        return reserve_of(order, market.base, market.quote, market.maker_fee, market.taker_fee,
                          self.config.max_slippage_pct)

    # ----- commands -----------------------------------------------------------------------
    def place(self, order: RestingOrder, snapshot: Snapshot) -> RestingOrder:
        """Send a checked order: written as placed, then on its way (it arrives after the latency)."""
        order.id = order.id or self.next_id()
        order.placed_ts = order.updated_ts = snapshot.ts
        order.arrive_ts = snapshot.ts + self.config.latency_for(order.exchange) / 1000.0
        order.status = "pending"
        self.log.append("placed", snapshot.ts, order)  # StorageError: nothing placed
        self.orders[order.id] = order
        self._next_number = max(self._next_number, int(order.id[1:]) + 1 if order.id[1:].isdigit() else 0)
        if order.arrive_ts <= snapshot.ts:
            self._arrive(order, snapshot)
        return order

    def cancel(self, order_id: str, ts: float, note: str = "cancelled by user") -> RestingOrder:
        """Cancel an open order (its reserve is released); a finished one is returned as it ended. KeyError if unknown."""
        order = self.orders[order_id]
        if not order.is_open:
            return order
        before = order.status
        order.status, order.note, order.updated_ts = "cancelled", note, ts
        try:
            self.log.append("cancelled", ts, order)
        except Exception:
            order.status, order.note = before, ""
            raise
        return order

    # ----- the tick -----------------------------------------------------------------------
    def on_tick(self, snapshot: Snapshot) -> int:
        """Arrivals, stop triggers and resting fills for this snapshot; returns the fills booked."""
        booked = 0
        by_market: dict[tuple[str, str], list[RestingOrder]] = {}
        for order in self.open_orders():
            if order.status == "pending":
                if snapshot.ts + 1e-9 >= order.arrive_ts:
                    booked += self._arrive(order, snapshot)
                continue
            by_market.setdefault((order.exchange, order.symbol), []).append(order)
        for key, orders in by_market.items():
            booked += self._on_market(key, [o for o in orders if o.is_open], snapshot)
        return booked

    def _on_market(self, key: tuple[str, str], orders: list[RestingOrder], snapshot: Snapshot) -> int:
        stale = key in snapshot.stale or not self.source.has_trade_feed_for(*key)
        for order in orders:
            if order.stale != stale:
                order.stale = stale
                self._event("updated", order, snapshot.ts)
        if stale or not orders:
            return 0
        since = min(order.seen_ms for order in orders)
        prints = self.source.recent_trades(*key, since)
        booked = 0
        quote = snapshot.quotes.get(key)
        for order in [o for o in orders if o.is_stop and not o.triggered]:
            prices = [float(t["price"]) for t in prints if int(t["timestamp"]) > order.seen_ms]
            if quote is not None:
                prices.append(quote.last)
            if any(stop_hit(order, price) for price in prices):
                order.triggered = True
                self._event("triggered", order, snapshot.ts)
                booked += self._arrive(order, snapshot)
            elif prints:
                order.seen_ms = max(order.seen_ms, max(int(t["timestamp"]) for t in prints))
        resting = [o for o in orders if o.is_open and o.queue_ahead is not None]
        if not resting:
            return booked
        queues = {order.id: order.queue_ahead for order in resting}
        book = snapshot.order_book(*key)
        if book is not None:
            for order in resting:
                shrink_queue(order, level_size(book.bids if order.side == "buy" else book.asks, order.price))
        fills: dict[str, float] = {}
        for order, qty, _price, _ms in match_prints(resting, prints):
            fills[order.id] = fills.get(order.id, 0.0) + qty
        for order in resting:
            qty = fills.get(order.id, 0.0)
            if qty > QTY_TOLERANCE and self._maker_fill(order, qty, snapshot):
                booked += 1
            elif order.queue_ahead != queues[order.id]:
                self._event("updated", order, snapshot.ts)  # its place in the queue outlives a restart
        return booked

    def _arrive(self, order: RestingOrder, snapshot: Snapshot) -> int:
        """The order meets the book: stops wait, crossing parts fill as takers, the rest rests (or ends)."""
        order.seen_ms = int(round(snapshot.ts * 1000))
        if order.is_stop and not order.triggered:
            order.status = "open"
            self._event("updated", order, snapshot.ts)
            return 0
        book = snapshot.order_book(order.exchange, order.symbol)
        if order.type in ("market", "stop-market"):
            return self._take(order, snapshot, None, end_rest=True)
        best_bid = book.bids[0][0] if book is not None and book.bids else None
        best_ask = book.asks[0][0] if book is not None and book.asks else None
        booked = 0
        if crosses(order.side, order.price, best_bid, best_ask):
            if order.tif == "post-only":
                return self._end(order, "rejected", snapshot.ts,
                                 f"post-only: the limit {order.price:g} would cross the book "
                                 f"(best {'ask' if order.side == 'buy' else 'bid'} "
                                 f"{best_ask if order.side == 'buy' else best_bid:g})")
            booked = self._take(order, snapshot, order.price, end_rest=order.tif == "IOC")
            if not order.is_open:
                return booked
        elif order.tif == "IOC":
            return self._end(order, "expired", snapshot.ts, "IOC: nothing to take at the limit price on arrival")
        levels = () if book is None else (book.bids if order.side == "buy" else book.asks)
        order.queue_ahead = level_size(levels, order.price)
        order.status = "partially_filled" if order.filled > 0 else "open"
        self._event("updated", order, snapshot.ts)
        return booked

    def _take(self, order: RestingOrder, snapshot: Snapshot, limit: float | None, end_rest: bool) -> int:
        """Fill what crosses now as a taker (the executor); with end_rest the rest expires."""
        leg = Leg(order.exchange, order.symbol, order.side, order.remaining, order.price or order.stop_price or 0.0,
                  limit_price=limit)
        signal = Signal(order.strategy, "manual", (leg,), order.reason or order.type, closes_position=True,
                        id=order.id)
        self._executing = order.id
        try:
            shorts = order.strategy in self.shorting
            result, trades = self.data_flow.execute_now(signal, snapshot, allows_short=shorts)
        finally:
            self._executing = None
        if result.status == "rejected":
            if order.filled <= 0 or end_rest:
                return self._end(order, "rejected" if order.filled <= 0 else "expired", snapshot.ts, result.reason)
            return 0
        self._book(order, trades, snapshot)
        if order.is_open and end_rest:
            self._end(order, "expired", snapshot.ts, "the rest found no liquidity within the limit and slippage cap")
        return len(trades)

    def _maker_fill(self, order: RestingOrder, qty: float, snapshot: Snapshot) -> int:
        market = snapshot.markets.get((order.exchange, order.symbol)) or self.source.markets[(order.exchange,
                                                                                                 order.symbol)]
        qty = round_step(min(qty, order.remaining), market.amount_step)
        if order.side == "sell" and order.strategy not in self.shorting:
            # The executor's rule for a fill that does not go through it: a strategy that does not short
            # sells only what it holds (a close resting while the strategy's own exit sold the position).
            own = self.data_flow.portfolio.held(order.strategy, market.base)
            if own < qty:
                qty = round_step(max(own, 0.0), market.amount_step)
                if qty <= 0:
                    return self._end(order, "rejected" if order.filled <= 0 else "expired", snapshot.ts,
                                     f"{order.strategy} no longer holds the {market.base} this order sells")
        if qty <= 0:
            return 0
        rate = snapshot.usdt_rate(order.exchange, market.quote)
        if rate is None:
            return 0
        notional = qty * order.price
        fill = Fill(order.exchange, order.symbol, order.side, qty, order.price, notional * market.maker_fee,
                    market.quote, rate, order.remaining, 0, 0.0, (), snapshot.ts, None)
        signal = Signal(order.strategy, "manual", (Leg(order.exchange, order.symbol, order.side, qty, order.price,
                                                       order.price),), order.reason or "resting limit", id=order.id)
        trades = self.data_flow.record_fills(signal, snapshot, snapshot, (fill,))
        self._book(order, trades, snapshot)
        return len(trades)

    def _book(self, order: RestingOrder, trades: list[Trade], snapshot: Snapshot) -> None:
        """Count the trades in the order, write the event, then the pair and attached exits."""
        qty = sum(t.qty for t in trades)
        order.filled = round(order.filled + qty, 12)  # 20.0, not 20.000000000000004, after many fills
        order.cost += sum(t.qty * t.price for t in trades)
        order.fees += sum(t.fee for t in trades)
        order.trade_ids = list(order.trade_ids) + [t.id for t in trades]
        done = order.remaining <= QTY_TOLERANCE
        order.status = "filled" if done else "partially_filled"
        self._event("filled" if done else "partially_filled", order, snapshot.ts, [t.id for t in trades])
        if order.oco_id is not None:
            self._reduce_pair(order, qty, snapshot)
        if done:
            self._attach_exits(order, snapshot)

    def _reduce_pair(self, order: RestingOrder, qty: float, snapshot: Snapshot) -> None:
        for other in self.open_orders():
            if other.oco_id == order.oco_id and other.id != order.id:
                other.qty = max(other.filled, other.qty - qty)
                if other.remaining <= QTY_TOLERANCE:
                    self._end(other, "cancelled", snapshot.ts, f"the other side of its pair ({order.id}) filled")
                else:
                    self._event("updated", other, snapshot.ts)

    def _attach_exits(self, order: RestingOrder, snapshot: Snapshot) -> None:
        """A filled entry with a take-profit or stop-loss: the exits go out (as one pair when both)."""
        if order.parent_id is not None or (order.take_profit is None and order.stop_loss is None):
            return
        exit_side = "sell" if order.side == "buy" else "buy"
        pair = order.id if order.take_profit is not None and order.stop_loss is not None else None
        if order.take_profit is not None:
            self.place(RestingOrder("", order.strategy, order.exchange, order.symbol, exit_side, "limit", order.filled,
                                    price=order.take_profit, reason=f"take-profit of {order.id}",
                                    parent_id=order.id, oco_id=pair), snapshot)
        if order.stop_loss is not None:
            self.place(RestingOrder("", order.strategy, order.exchange, order.symbol, exit_side, "stop-market",
                                    order.filled, stop_price=order.stop_loss, reason=f"stop-loss of {order.id}",
                                    parent_id=order.id, oco_id=pair), snapshot)

    def _end(self, order: RestingOrder, status: str, ts: float, note: str) -> int:
        order.status, order.note = status, note
        self._event(status, order, ts)
        return 0

    def _event(self, event: str, order: RestingOrder, ts: float, trade_ids=()) -> None:
        order.updated_ts = ts
        self.log.append(event, ts, order, trade_ids)
