"""Average-cost position arithmetic, valued in USDT, for longs and declared shorts.

A position's cost is signed: qty * avg_cost, negative for shorts. Acquiring units covers a
short first, disposing of units reduces a long first; the reduced part books realized P&L.
These two functions keep the identity cash + sum(cost) - realized + fees = constant that
makes ledger replay and P&L attribution exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

# Below this a position is flat: float residue of a round trip, not a holding.
DUST_QTY = 1e-10


@dataclass(slots=True)
class Position:
    """One strategy's holding of one asset, summed over exchanges."""

    strategy: str
    asset: str
    qty: float = 0.0
    cost: float = 0.0
    by_exchange: dict[str, float] = field(default_factory=dict)
    opened_ts: float = 0.0

    @property
    def avg_cost(self) -> float:
        """Cost per unit (signed cost over signed quantity); 0 when flat."""
        return self.cost / self.qty if self.qty else 0.0

    @property
    def is_open(self) -> bool:
        """True when the quantity is more than float residue."""
        return abs(self.qty) > DUST_QTY

    def copy(self) -> "Position":
        """An independent copy (its per-exchange breakdown is not shared)."""
        return Position(self.strategy, self.asset, self.qty, self.cost, dict(self.by_exchange), self.opened_ts)

    def to_dict(self) -> dict:
        """The position as portfolio_state.json stores it."""
        return {
            "strategy": self.strategy,
            "asset": self.asset,
            "qty": self.qty,
            "cost": self.cost,
            "avg_cost": self.avg_cost,
            "by_exchange": dict(sorted(self.by_exchange.items())),
            "opened_ts": self.opened_ts,
        }


def _settle_dust(position: Position) -> float:
    """Close a position whose quantity is float residue; returns the cost booked as realized."""
    if position.qty and abs(position.qty) <= DUST_QTY:
        residue = position.cost
        position.qty = 0.0
        position.cost = 0.0
        return -residue
    if position.qty == 0.0 and position.cost:
        residue = position.cost
        position.cost = 0.0
        return -residue
    return 0.0


def acquire(position: Position, qty: float, value_usdt: float, exchange: str, ts: float) -> float:
    """Add qty units that cost value_usdt in total; returns the realized P&L of any short covered."""
    if qty <= 0:
        return 0.0
    was_open = position.is_open
    unit = value_usdt / qty
    realized = 0.0
    remaining = qty
    if position.qty < 0:
        covered = min(qty, -position.qty)
        avg = position.cost / position.qty
        realized = covered * (avg - unit)
        position.cost += covered * avg
        position.qty += covered
        remaining = qty - covered
    if remaining > 0:
        position.qty += remaining
        position.cost += remaining * unit
    position.by_exchange[exchange] = position.by_exchange.get(exchange, 0.0) + qty
    realized += _settle_dust(position)
    _tidy(position, exchange)
    if not was_open and position.is_open:
        position.opened_ts = ts
    return realized


def dispose(position: Position, qty: float, proceeds_usdt: float, exchange: str, ts: float) -> float:
    """Remove qty units worth proceeds_usdt; returns the realized P&L of any long reduced."""
    if qty <= 0:
        return 0.0
    was_open = position.is_open
    unit = proceeds_usdt / qty
    realized = 0.0
    remaining = qty
    if position.qty > 0:
        reduced = min(qty, position.qty)
        avg = position.cost / position.qty
        realized = reduced * (unit - avg)
        position.cost -= reduced * avg
        position.qty -= reduced
        remaining = qty - reduced
    if remaining > 0:
        position.qty -= remaining
        position.cost -= remaining * unit
    position.by_exchange[exchange] = position.by_exchange.get(exchange, 0.0) - qty
    realized += _settle_dust(position)
    _tidy(position, exchange)
    if not was_open and position.is_open:
        position.opened_ts = ts
    return realized


def _tidy(position: Position, exchange: str) -> None:
    if abs(position.by_exchange.get(exchange, 0.0)) <= DUST_QTY:
        position.by_exchange.pop(exchange, None)
    if not position.is_open:
        position.by_exchange.clear()


def book_fill(side: str, base: str, quote: str, qty: float, price: float, fee_in_quote: float, rate: float,
              exchange: str, ts: float, position_for: Callable[[str], Position], portfolio_quote: str = "USDT") -> float:
    """Book one fill into a strategy's positions; returns the realized P&L in USDT.

    The base position acquires or disposes qty valued at qty * price * rate (rate values the
    quote asset in USDT). When the quote is not USDT (ETH/BTC), the quote asset held is itself
    a position: a buy disposes of notional + fee of it, a sell acquires notional - fee.
    """
    notional = qty * price
    if side == "buy":
        realized = acquire(position_for(base), qty, notional * rate, exchange, ts)
        if quote != portfolio_quote:
            spent = notional + fee_in_quote
            realized += dispose(position_for(quote), spent, spent * rate, exchange, ts)
        return realized
    realized = dispose(position_for(base), qty, notional * rate, exchange, ts)
    if quote != portfolio_quote:
        received = notional - fee_in_quote
        if received >= 0:
            realized += acquire(position_for(quote), received, received * rate, exchange, ts)
    return realized
