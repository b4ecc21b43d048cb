"""PaperExecutor: fills signals on paper by walking the order books, honest about costs.

Taker fee from the market, slippage cap from config, amounts rounded down to the market's
step, minimum notional enforced, wallets never overdrawn. A multi-leg signal fills every leg
in full or nothing at all, each leg checked against the wallets as the earlier legs left them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.config import ExecutionConfig
from bot.models import Fill, Leg, Market, Signal, Snapshot, round_step, split_symbol


class WalletReader(Protocol):
    def balance(self, exchange: str, asset: str) -> float: ...


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """The executor's answer: the fills made, or why there are none."""

    status: Literal["filled", "partial", "rejected"]
    fills: tuple[Fill, ...] = ()
    reason: str = ""


class _Rejected(Exception):
    pass


def walk_book(levels, qty: float, limit_price: float, is_buy: bool) -> tuple[float, float, int]:
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


class PaperExecutor:
    """Turns Signals into Fills against the snapshot's books and the current wallets."""

    def __init__(self, config: ExecutionConfig, short_margin_ratio: float = 1.5):
        self.max_slippage_pct = config.max_slippage_pct
        self.allow_partial = config.allow_partial_fills
        self.short_margin_ratio = short_margin_ratio

    def execute(self, signal: Signal, snapshot: Snapshot, wallets: WalletReader,
                allows_short: bool = False) -> ExecutionResult:
        """Fill the signal or say why not. Never changes the wallets: the portfolio does that."""
        if not signal.legs:
            return ExecutionResult("rejected", reason="signal has no legs")
        atomic = len(signal.legs) > 1
        deltas: dict[tuple[str, str], float] = {}
        fills = []
        try:
            for number, leg in enumerate(signal.legs, start=1):
                fill = self._fill_leg(leg, snapshot, wallets, deltas, allows_short, atomic)
                label = f"leg {number} ({leg.side} {leg.symbol} on {leg.exchange})" if atomic else ""
                if atomic and fill.partial:
                    raise _Rejected(f"{label} could fill only {fill.qty:g} of {fill.requested_qty:g} "
                                    f"within {self.max_slippage_pct:g}% slippage; no leg was filled")
                fills.append(fill)
        except _Rejected as exc:
            return ExecutionResult("rejected", reason=str(exc))
        partial = any(f.partial for f in fills)
        return ExecutionResult("partial" if partial else "filled", tuple(fills))

    def _fill_leg(self, leg: Leg, snapshot: Snapshot, wallets: WalletReader,
                  deltas: dict[tuple[str, str], float], allows_short: bool, atomic: bool) -> Fill:
        market: Market | None = snapshot.markets.get((leg.exchange, leg.symbol))
        if market is None:
            raise _Rejected(f"{leg.symbol} is not traded on {leg.exchange}")
        if leg.side not in ("buy", "sell"):
            raise _Rejected(f"unknown side {leg.side!r}")
        requested = round_step(leg.qty, market.amount_step)
        if requested < market.min_amount or requested <= 0:
            raise _Rejected(f"{leg.qty:g} {market.base} is below the minimum amount {market.min_amount:g} on {leg.exchange}")
        book = snapshot.order_book(leg.exchange, leg.symbol)
        if book is None:
            raise _Rejected(f"no fresh order book for {leg.symbol} on {leg.exchange}")
        if book.crossed:
            raise _Rejected(f"order book for {leg.symbol} on {leg.exchange} is crossed; not trading on it")
        is_buy = leg.side == "buy"
        levels = book.asks if is_buy else book.bids
        if not levels:
            raise _Rejected(f"no {'asks' if is_buy else 'bids'} in the {leg.symbol} book on {leg.exchange}")
        best = levels[0][0]
        factor = self.max_slippage_pct / 100.0
        limit = best * (1 + factor) if is_buy else best * (1 - factor)
        filled, cost, used = walk_book(levels, requested, limit, is_buy)
        qty = round_step(filled, market.amount_step)
        if qty < filled and used:
            # Rounding down trims the worst level taken.
            cost -= (filled - qty) * levels[used - 1][0]
        if qty <= 0 or qty < market.min_amount:
            raise _Rejected(f"the {leg.symbol} book on {leg.exchange} has no liquidity within "
                            f"{self.max_slippage_pct:g}% of the best price")
        if qty < requested and not self.allow_partial and not atomic:
            raise _Rejected(f"only {qty:g} of {requested:g} {market.base} available within "
                            f"{self.max_slippage_pct:g}% slippage and partial fills are off")
        price = cost / qty
        notional = qty * price
        if notional < market.min_notional:
            raise _Rejected(f"notional {notional:.8g} {market.quote} is below the minimum "
                            f"{market.min_notional:g} on {leg.exchange}")
        fee = notional * market.taker_fee
        rate = snapshot.usdt_rate(leg.exchange, market.quote)
        if rate is None:
            raise _Rejected(f"cannot value {market.quote} in USDT on {leg.exchange}")
        self._check_wallet(leg, market, qty, notional, fee, rate, wallets, deltas, allows_short)
        slippage_pct = abs(price - best) / best * 100.0
        return Fill(leg.exchange, leg.symbol, leg.side, qty, price, fee, market.quote, rate,
                    requested, used, slippage_pct)

    def _check_wallet(self, leg: Leg, market: Market, qty: float, notional: float, fee: float, rate: float,
                      wallets: WalletReader, deltas: dict, allows_short: bool) -> None:
        base, quote = split_symbol(leg.symbol)
        ex = leg.exchange

        def have(asset: str) -> float:
            return wallets.balance(ex, asset) + deltas.get((ex, asset), 0.0)

        if leg.side == "buy":
            need = notional + fee
            available = have(quote)
            if need > available + 1e-12:
                raise _Rejected(f"insufficient {quote} on {ex}: need {need:.8g}, have {available:.8g}")
            deltas[(ex, quote)] = deltas.get((ex, quote), 0.0) - need
            deltas[(ex, base)] = deltas.get((ex, base), 0.0) + qty
            return
        available = have(base)
        after = available - qty
        if after < -1e-12:
            if not allows_short:
                raise _Rejected(f"insufficient {base} on {ex}: need {qty:.8g}, have {available:.8g}")
            short_usdt = -after * (notional / qty) * rate
            collateral_usdt = (have(quote) + notional - fee) * rate
            if short_usdt * self.short_margin_ratio > collateral_usdt + 1e-9:
                raise _Rejected(f"short of {-after:.8g} {base} on {ex} exceeds the margin rule "
                                f"(needs {short_usdt * self.short_margin_ratio:.2f} USDT collateral, "
                                f"{collateral_usdt:.2f} available)")
        deltas[(ex, base)] = deltas.get((ex, base), 0.0) - qty
        deltas[(ex, quote)] = deltas.get((ex, quote), 0.0) + notional - fee
