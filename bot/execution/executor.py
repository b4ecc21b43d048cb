"""PaperExecutor: fills signals on paper by walking the order books, honest about costs.

Taker fee from the market, slippage cap from config, amounts rounded down to the market's
step, minimum notional enforced, wallets never overdrawn. A multi-leg signal fills every leg
in full or nothing at all, each leg checked against the wallets as the earlier legs left them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.config import ExecutionConfig
from bot.execution.fills import WALLET_TOLERANCE, leg_amounts, wallet_changes
from bot.models import Fill, Leg, Market, Signal, Snapshot, split_symbol


class WalletReader(Protocol):
    """What the executor reads of the portfolio: spendable amounts per strategy."""

    def available(self, exchange: str, asset: str, strategy: str) -> float:
        """What strategy may spend: the wallet less other strategies' reserved holdings."""

    # Optional (PortfolioTracker has both; bot/accounting/margin.py): collateral_freed(exchange,
    # asset, strategy, qty) -> USDT a buy-back frees; short_opened(exchange, asset, strategy, qty)
    # -> float | None, the part of a sell that opens a short (None: margin off, wallet-level rule).


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """The executor's answer: the fills made, or why there are none."""

    status: Literal["filled", "partial", "rejected"]
    fills: tuple[Fill, ...] = ()
    reason: str = ""


class _Rejected(Exception):
    pass


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
                fill = self._fill_leg(leg, snapshot, wallets, deltas, allows_short, atomic, signal.strategy)
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
                  deltas: dict[tuple[str, str], float], allows_short: bool, atomic: bool, strategy: str) -> Fill:
        market: Market | None = snapshot.markets.get((leg.exchange, leg.symbol))
        if market is None:
            raise _Rejected(f"{leg.symbol} is not traded on {leg.exchange}")
        if leg.side not in ("buy", "sell"):
            raise _Rejected(f"unknown side {leg.side!r}")
        book = snapshot.order_book(leg.exchange, leg.symbol)
        if book is None:
            raise _Rejected(f"no fresh order book for {leg.symbol} on {leg.exchange}")
        if book.crossed:
            raise _Rejected(f"order book for {leg.symbol} on {leg.exchange} is crossed; not trading on it")
        amounts = leg_amounts(market, book.asks if leg.side == "buy" else book.bids, leg.side, leg.qty,
                              self.max_slippage_pct)
        if isinstance(amounts, str):
            raise _Rejected(amounts)
        if amounts.partial and not self.allow_partial and not atomic:
            raise _Rejected(f"only {amounts.qty:g} of {amounts.requested:g} {market.base} available within "
                            f"{self.max_slippage_pct:g}% slippage and partial fills are off")
        rate = snapshot.usdt_rate(leg.exchange, market.quote)
        if rate is None:
            raise _Rejected(f"cannot value {market.quote} in USDT on {leg.exchange}")
        self._check_wallet(leg, amounts.qty, amounts.notional, amounts.fee, rate, wallets, deltas, allows_short,
                           strategy)
        slippage_pct = abs(amounts.price - amounts.best) / amounts.best * 100.0
        return Fill(leg.exchange, leg.symbol, leg.side, amounts.qty, amounts.price, amounts.fee, market.quote, rate,
                    amounts.requested, amounts.levels_used, slippage_pct)

    def _check_wallet(self, leg: Leg, qty: float, notional: float, fee: float, rate: float,
                      wallets: WalletReader, deltas: dict, allows_short: bool, strategy: str) -> None:
        base, quote = split_symbol(leg.symbol)
        ex = leg.exchange

        def have(asset: str) -> float:
            return wallets.available(ex, asset, strategy) + deltas.get((ex, asset), 0.0)

        if leg.side == "buy":
            need = notional + fee
            available = have(quote)
            # (books) Buying back a short may spend the collateral reserved for it.
            freed = getattr(wallets, "collateral_freed", None)
            if freed is not None and allows_short:
                available += freed(ex, base, strategy, qty)
            if need > available + WALLET_TOLERANCE:
                raise _Rejected(f"insufficient {quote} on {ex}: need {need:.8g}, have {available:.8g}")
            _record(deltas, ex, wallet_changes(leg.side, base, quote, qty, notional, fee))
            return
        available = have(base)
        after = available - qty
        if after < -WALLET_TOLERANCE and not allows_short:
            raise _Rejected(f"insufficient {base} on {ex}: need {qty:.8g}, have {available:.8g}")
        # (books) With margin on, the short is position-level (bot/accounting/margin.py): the part of
        # this sell beyond what the strategy holds on the exchange, whatever the wallet holds.
        opened = getattr(wallets, "short_opened", None)
        opened = opened(ex, base, strategy, qty) if opened is not None and allows_short else None
        short_qty = max(0.0, -after) if opened is None else opened
        if allows_short and short_qty > WALLET_TOLERANCE:
            short_usdt = short_qty * (notional / qty) * rate
            collateral_usdt = (have(quote) + notional - fee) * rate
            if short_usdt * self.short_margin_ratio > collateral_usdt + 1e-9:
                raise _Rejected(f"short of {short_qty:.8g} {base} on {ex} exceeds the margin rule "
                                f"(needs {short_usdt * self.short_margin_ratio:.2f} USDT collateral, "
                                f"{collateral_usdt:.2f} available)")
        _record(deltas, ex, wallet_changes(leg.side, base, quote, qty, notional, fee))


def _record(deltas: dict[tuple[str, str], float], exchange: str, changes) -> None:
    for asset, change in changes:
        deltas[(exchange, asset)] = deltas.get((exchange, asset), 0.0) + change
