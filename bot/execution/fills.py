"""The arithmetic of a taker fill, shared by the executor and by strategies that size exactly.

Pure functions over models only: walking a book, rounding to the market's step, the taker fee,
and what a fill does to a wallet. PaperExecutor fills with these; the arbitrage strategy sizes
with the same functions, so its estimate and the booked result cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bot.models import Market, fast_constructor, round_step

Levels = Sequence[tuple[float, float]]
# Float slack when comparing what a wallet holds with what a fill needs.
WALLET_TOLERANCE = 1e-12


def slippage_limit(best: float, max_slippage_pct: float, is_buy: bool) -> float:
    """The worst price a fill may reach: max_slippage_pct beyond the best price."""
    factor = max_slippage_pct / 100.0
    return best * (1 + factor) if is_buy else best * (1 - factor)


def walk_book(levels: Levels, qty: float, limit_price: float, is_buy: bool) -> tuple[float, float, int]:
    """Take up to qty from levels (best first) not past limit_price: (filled, cost, levels used)."""
    filled = 0.0
    cost = 0.0
    used = 0
    for price, size in levels:
        if (price > limit_price) if is_buy else (price < limit_price):
            break
        take = min(size, qty - filled)
        if take <= 0:
            break
        filled += take
        cost += take * price
        used += 1
        if filled >= qty:
            break
    return filled, cost, used


@dataclass(frozen=True, slots=True)
class LegAmounts:
    """What walking the book gives for one order: the numbers its Fill will carry."""

    requested: float
    qty: float
    price: float
    notional: float
    fee: float
    best: float
    levels_used: int
    worst: float  # the price of the last level taken

    @property
    def partial(self) -> bool:
        """True when the book could not fill the whole requested quantity."""
        return self.qty < self.requested - 1e-12


_new_amounts = fast_constructor(LegAmounts, ("requested", "qty", "price", "notional", "fee", "best", "levels_used",
                                             "worst"))  # (slots set directly: half a frozen __init__'s cost)


def leg_amounts(market: Market, levels: Levels, side: str, qty: float, max_slippage_pct: float,
                limit_price: float | None = None) -> LegAmounts | str:
    """Walk the book for one order; the amounts, or a sentence saying why there is no fill.

    limit_price (an IOC limit order) tightens the slippage cap: no level worse than it is taken.
    """
    requested = round_step(qty, market.amount_step)
    if requested < market.min_amount or requested <= 0:
        return f"{qty:g} {market.base} is below the minimum amount {market.min_amount:g} on {market.exchange}"
    is_buy = side == "buy"
    if not levels:
        return f"no {'asks' if is_buy else 'bids'} in the {market.symbol} book on {market.exchange}"
    best = levels[0][0]
    limit = slippage_limit(best, max_slippage_pct, is_buy)
    if limit_price is not None:
        if (best > limit_price) if is_buy else (best < limit_price):
            return (f"the best {'ask' if is_buy else 'bid'} {best:.10g} for {market.symbol} on {market.exchange} "
                    f"is beyond the limit price {limit_price:.10g}")
        limit = min(limit, limit_price) if is_buy else max(limit, limit_price)
    filled, cost, used = walk_book(levels, requested, limit, is_buy)
    filled_qty = round_step(filled, market.amount_step)
    if filled_qty < filled and used:
        # Rounding down trims the worst level taken.
        cost -= (filled - filled_qty) * levels[used - 1][0]
    if filled_qty <= 0 or filled_qty < market.min_amount:
        return (f"the {market.symbol} book on {market.exchange} has no liquidity within "
                f"{max_slippage_pct:g}% of the best price")
    price = cost / filled_qty
    notional = filled_qty * price
    if notional < market.min_notional:
        return (f"notional {notional:.8g} {market.quote} is below the minimum {market.min_notional:g} "
                f"on {market.exchange}")
    return _new_amounts(requested, filled_qty, price, notional, notional * market.taker_fee, best, used,
                        levels[used - 1][0])


def levels_taken(levels: Levels, used: int, qty: float) -> tuple[tuple[float, float], ...]:
    """(price, qty) taken at each of the first `used` levels by a fill of qty (the last one partly)."""
    taken = []
    left = qty
    for price, size in levels[:used]:
        take = min(size, left)
        if take <= 0:
            break
        left -= take
        taken.append((price, round(take, 12)))  # 0.1605, not 0.16049999999999986, from the subtraction
    return tuple(taken)


def after_take(levels: Levels, qty: float) -> tuple[tuple[float, float], ...]:
    """The levels once a fill of qty has taken them best first (what the liquidity memory shows
    of the same book right after the fill: emptied levels gone, the last one reduced)."""
    out = []
    left = qty
    for price, size in levels:
        take = min(size, left) if left > 0 else 0.0
        left -= take
        rest = size - take
        if rest > size * 1e-12:
            out.append((price, rest))
    return tuple(out)


def depth_within(levels: Levels, limit_price: float, is_buy: bool) -> float:
    """The quantity the levels offer at prices not beyond limit_price."""
    total = 0.0
    for price, size in levels:
        if (price > limit_price) if is_buy else (price < limit_price):
            break
        total += size
    return total


def wallet_changes(side: str, base: str, quote: str, qty: float, notional: float, fee: float
                   ) -> tuple[tuple[str, float], tuple[str, float]]:
    """What a fill does to its exchange's wallet: ((asset, change), (asset, change)); fee in quote."""
    if side == "buy":
        return (quote, -(notional + fee)), (base, qty)
    return (base, -qty), (quote, notional - fee)
