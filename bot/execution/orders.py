"""Orders in flight: a signal's legs travel to their exchanges and meet the book found on arrival.

Each leg reaches its exchange execution.latency_ms[exchange] after the snapshot the signal was
decided on (market time). It has arrived on the first tick that holds a fresh book of its market
with a time at or after decision + latency: in the simulator the first tick at or after that
moment (the next tick with 1-second ticks), in live mode the first book fetched after it. A leg
with latency 0 meets the decision snapshot itself. An order is ready when every leg has
arrived; one with a leg still waiting order_timeout_seconds after its decision has expired.
The DataFlowManager owns the one OrdersInFlight and fills what is ready each tick.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.config_execution import ExecutionConfig
from bot.execution.liquidity import raw_reader
from bot.models import Signal, Snapshot


@dataclass(slots=True)
class Order:
    """One signal on its way: per leg, when it reaches the book and the snapshot it found there."""

    signal: Signal
    decision: Snapshot
    allows_short: bool
    due_ts: tuple[float, ...]
    arrivals: list[Snapshot | None] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """True once every leg has met a book."""
        arrivals = self.arrivals
        if len(arrivals) == 1:
            return arrivals[0] is not None
        return all(snapshot is not None for snapshot in arrivals)

    def latency_ms(self) -> float | None:
        """The longest time, in ms, from the decision to the book a leg met (None before all arrived)."""
        if not self.ready:
            return None
        seen = []
        for leg, snapshot in zip(self.signal.legs, self.arrivals):
            book = raw_reader(snapshot.book_reader)(leg.exchange, leg.symbol)
            seen.append(((book.ts if book is not None else snapshot.ts) - self.decision.ts) * 1000.0)
        return round(max(seen), 3)


class OrdersInFlight:
    """The orders sent and not yet filled or missed, oldest first."""

    def __init__(self, config: ExecutionConfig):
        self.config = config
        self.timeout_seconds = config.order_timeout_seconds
        self._orders: list[Order] = []

    def __len__(self) -> int:
        return len(self._orders)

    def latency_seconds(self, exchange: str) -> float:
        """The configured latency of an exchange, in seconds."""
        return self.config.latency_for(exchange) / 1000.0

    def make(self, signal: Signal, decision: Snapshot, allows_short: bool) -> Order:
        """The order a signal becomes; legs with latency 0 have arrived already."""
        legs = signal.legs
        if len(legs) == 1:  # the usual signal: the same tuple and list without the generators
            when = decision.ts + self.latency_seconds(legs[0].exchange)
            return Order(signal, decision, allows_short, (when,), [decision if when <= decision.ts else None])
        due = tuple(decision.ts + self.latency_seconds(leg.exchange) for leg in legs)
        arrivals: list[Snapshot | None] = [decision if when <= decision.ts else None for when in due]
        return Order(signal, decision, allows_short, due, arrivals)

    def add(self, order: Order) -> None:
        """Put an order in flight."""
        self._orders.append(order)

    def advance(self, snapshot: Snapshot) -> tuple[list[Order], list[Order]]:
        """Take out the orders that are ready at this snapshot and those that have expired, oldest first."""
        ready, expired, waiting = [], [], []
        for order in self._orders:
            self._arrive(order, snapshot)
            if order.ready:
                ready.append(order)
            elif snapshot.ts - order.decision.ts > self.timeout_seconds:
                expired.append(order)
            else:
                waiting.append(order)
        self._orders = waiting
        return ready, expired

    def cancel_all(self) -> list[Order]:
        """Take out every order still in flight (at shutdown)."""
        orders, self._orders = self._orders, []
        return orders

    @staticmethod
    def _arrive(order: Order, snapshot: Snapshot) -> None:
        reader = None
        for index, (leg, when) in enumerate(zip(order.signal.legs, order.due_ts)):
            if order.arrivals[index] is not None or snapshot.ts < when:
                continue
            key = (leg.exchange, leg.symbol)
            if key not in snapshot.markets:
                order.arrivals[index] = snapshot  # no such market: the executor says so at once
                continue
            if key in snapshot.stale:
                continue
            reader = reader or raw_reader(snapshot.book_reader)
            book = reader(*key)
            if book is not None and book.ts >= when:
                order.arrivals[index] = snapshot
