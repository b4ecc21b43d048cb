"""Short margin, the arithmetic: collateral reserved per short, the margin level, borrow accrual.

A short is what a strategy that declares shorts (Strategy.allows_short) owes on one exchange:
a negative Position.by_exchange there (even when it is long the asset elsewhere). Model (isolated margin, one account per short and exchange):
- Collateral reserved on the short's exchange, in USDT: initial_ratio x the short's entry value
  (quantity x average short price; portfolio.short_margin_ratio). Nobody, its own strategy
  included, may spend it (PortfolioTracker.available), except to buy the short back: a buy that
  covers part of it frees that part's collateral (PortfolioTracker.collateral_freed).
- Margin level = collateral / (quantity x the exchange's mid). The collateral counted is what
  the wallet still holds of it (borrow fees paid from a wallet with no free USDT eat into it).
  Below margin.maintenance_ratio the short is bought back at market (bot/accounting/margin_desk.py).
- Borrow fee: quantity x price x hourly rate x hours, pro rata to the second (Binance charges
  whole hours; we do not round up), paid in USDT from the short's exchange wallet. The unbilled
  quantity-seconds since the last booking are replayed from the ledger (Accrual), so a restart
  bills exactly what an uninterrupted run would have.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class MarginRules:
    """What the books need to know about shorts: who shorts, the ratios, the borrow rates."""

    shorting: frozenset[str] = frozenset()
    initial_ratio: float = 1.5
    maintenance_ratio: float = 1.25
    # Hourly borrow rate in % per borrowed asset; "default" for the rest.
    borrow_rate_hourly_pct: dict = field(default_factory=lambda: {"default": 0.0})
    borrow_interval_seconds: float = SECONDS_PER_HOUR

    def rate_pct(self, asset: str) -> float:
        """The hourly borrow rate of asset, in %."""
        rates = self.borrow_rate_hourly_pct
        return float(rates.get(asset, rates.get("default", 0.0)))


@dataclass(slots=True)
class Accrual:
    """The unbilled borrow of one short (strategy, asset, exchange): quantity now, and the
    quantity-seconds accrued since `since_ts` up to `last_change_ts`."""

    qty: float
    since_ts: float
    last_change_ts: float
    qty_seconds: float = 0.0

    def qty_seconds_until(self, ts: float) -> float:
        """Quantity-seconds unbilled at ts."""
        return self.qty_seconds + self.qty * max(0.0, ts - self.last_change_ts)


def short_qty(position, exchange: str) -> float:
    """How much of position is short on exchange (>= 0)."""
    if position is None:
        return 0.0
    return max(0.0, -position.by_exchange.get(exchange, 0.0))


def note_short_change(accruals: dict, key: tuple[str, str, str], before: float, after: float, ts: float) -> None:
    """Accrue the quantity held until ts and take the new quantity (a trade changed the short)."""
    if before <= 0.0 and after <= 0.0 and key not in accruals:
        return
    accrual = accruals.get(key)
    if accrual is None:
        if after > 0.0:
            accruals[key] = Accrual(after, ts, ts)
        return
    accrual.qty_seconds = accrual.qty_seconds_until(ts)
    accrual.last_change_ts = ts
    accrual.qty = after
    if after <= 0.0 and accrual.qty_seconds <= 0.0:
        del accruals[key]  # opened and closed at one instant: nothing to bill


def note_borrow_billed(accruals: dict, key: tuple[str, str, str], until_ts: float) -> None:
    """A borrow_fee entry billed everything up to until_ts: start accruing afresh from there."""
    accrual = accruals.get(key)
    if accrual is None:
        return
    if accrual.qty <= 0.0:
        del accruals[key]
        return
    accrual.qty_seconds = 0.0
    accrual.since_ts = accrual.last_change_ts = until_ts


def borrow_fee_usdt(qty_seconds: float, price: float, rate_hourly_pct: float) -> float:
    """The borrow fee in USDT for qty_seconds of a short priced at price."""
    return qty_seconds / SECONDS_PER_HOUR * price * rate_hourly_pct / 100.0


def reserved_collateral(positions: dict, rules: MarginRules, exchange: str, shorts=None) -> float:
    """USDT reserved on exchange as collateral for every short there (shorts: the (strategy,
    asset) keys of positions that are shorts, when the caller keeps them; else all are looked at)."""
    total = 0.0
    for key in (sorted(shorts) if shorts is not None else positions):
        position = positions.get(key)
        if position is not None and key[0] in rules.shorting:
            qty = short_qty(position, exchange)
            if qty:
                total += rules.initial_ratio * qty * position.avg_cost
    return total


def collateral_of(position, rules: MarginRules, exchange: str) -> float:
    """The collateral reserved for one short position on exchange, in USDT."""
    return rules.initial_ratio * short_qty(position, exchange) * position.avg_cost


def margin_level(collateral_usdt: float, qty: float, price: float) -> float:
    """Collateral over the short's value at price (inf for no short)."""
    value = qty * price
    return collateral_usdt / value if value > 0 else float("inf")

