"""Small helpers several strategies share: USDT symbols, candle closes, exits, formatting."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from bot.models import PORTFOLIO_QUOTE, Leg, Market, PositionView, Signal, Snapshot, round_step, split_symbol


def usdt_symbols(symbols: Iterable[str]) -> dict[str, str]:
    """Base asset -> its USDT symbol, in config order (cross pairs such as ETH/BTC are left out)."""
    by_asset: dict[str, str] = {}
    for symbol in symbols:
        try:
            base, quote = split_symbol(symbol)
        except ValueError:
            continue
        if quote == PORTFOLIO_QUOTE:
            by_asset[base] = symbol
    return by_asset


def recent_closes(snapshot: Snapshot, exchange: str, symbol: str, count: int, copy: bool = False) -> np.ndarray | None:
    """The last count closes, oldest first, or None when history has nothing usable.

    copy=True gives a private array (for work handed to another thread).
    """
    try:
        values = snapshot.history.closes(exchange, symbol, count)
    except (LookupError, ValueError):
        return None
    if values is None:
        return None
    values = np.array(values, dtype=float) if copy else np.asarray(values, dtype=float)
    return values if values.ndim == 1 and values.shape[0] > 0 else None


def trading_exchange(snapshot: Snapshot, symbol: str, preferred: str | None, exchanges: Iterable[str]) -> str | None:
    """preferred if it lists the market, else (no preference) the first exchange that does."""
    if preferred is not None:
        return preferred if (preferred, symbol) in snapshot.markets else None
    for exchange in exchanges:
        if (exchange, symbol) in snapshot.markets:
            return exchange
    return None


def sellable(held: float, market: Market) -> float:
    """What of a holding can be sold: rounded down to the step, zero below the minimum amount."""
    qty = round_step(held, market.amount_step)
    return qty if qty > 0 and qty >= market.min_amount else 0.0


def exit_legs(snapshot: Snapshot, position: PositionView, symbol: str) -> list[Leg]:
    """One sell per exchange holding a sellable amount of a long position, at that exchange's bid."""
    legs = []
    for exchange, held in position.by_exchange.items():
        if held <= 0:
            continue
        market = snapshot.markets.get((exchange, symbol))
        quote = snapshot.quotes.get((exchange, symbol))
        if market is None or quote is None or not quote.bid > 0:
            continue
        qty = sellable(held, market)
        if qty > 0:
            legs.append(Leg(exchange=exchange, symbol=symbol, side="sell", qty=qty, expected_price=quote.bid))
    return legs


def exit_signal(strategy: str, kind: str, snapshot: Snapshot, position: PositionView, symbol: str,
                trigger: str) -> Signal | None:
    """Sell a long position on every exchange holding it, with the trigger and the P&L estimate as reason."""
    legs = exit_legs(snapshot, position, symbol)
    if not legs:
        return None
    if len(legs) == 1:  # the sums below of one leg (sum starts from 0: 0 + x, as written here)
        leg = legs[0]
        qty = 0 + leg.qty
        pnl_usdt = 0 + ((leg.expected_price - position.avg_cost) * leg.qty
                        - leg.expected_price * leg.qty * snapshot.markets[(leg.exchange, symbol)].taker_fee)
        venues = leg.exchange
    else:
        qty = sum(leg.qty for leg in legs)
        pnl_usdt = sum((leg.expected_price - position.avg_cost) * leg.qty
                       - leg.expected_price * leg.qty * snapshot.markets[(leg.exchange, symbol)].taker_fee
                       for leg in legs)
        venues = ", ".join(leg.exchange for leg in legs)
    cost = position.avg_cost * qty
    pnl_pct = pnl_usdt / cost * 100.0 if cost > 0 else 0.0
    reason = (f"{trigger}; sell {format_qty(qty)} {position.asset} on {venues} "
              f"(entry {format_price(position.avg_cost)}), est. P&L {pnl_usdt:+,.2f} USDT ({pnl_pct:+.2f}%) "
              f"after the sell fee")
    return Signal(strategy=strategy, kind=kind, legs=tuple(legs), reason=reason, confidence=1.0,
                  closes_position=True)


def is_dust(snapshot: Snapshot, position: PositionView, symbol: str) -> bool:
    """True when no exchange holds enough to sell (rounding leftovers do not block entries)."""
    for exchange, held in position.by_exchange.items():
        if held <= 0:
            continue
        market = snapshot.markets.get((exchange, symbol))
        if market is None or sellable(held, market) > 0:
            return False
    return True


def format_price(price: float) -> str:
    """A price for a reason sentence: 2 decimals from 100, 4 from 1, 8 below 1.

    8 decimals is the finest tick exchanges quote (a satoshi), so no price below 1 loses a digit:
    6, as this used to be, showed SHIB at 0.00001234 as 0.000012.
    """
    if price >= 100:
        return f"{price:,.2f}"
    return f"{price:,.4f}" if price >= 1 else f"{price:,.8f}"


def format_qty(qty: float) -> str:
    """A quantity to at most 8 decimals, without trailing zeros."""
    return f"{qty:.8f}".rstrip("0").rstrip(".") or "0"
