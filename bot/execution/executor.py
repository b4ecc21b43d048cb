"""PaperExecutor: fills signals on paper by walking the order books, honest about costs.

Taker fee from the market, slippage cap from config (measured from the best price of the book
the order meets), IOC limit prices on legs that carry one, amounts rounded down to the market's
step, minimum notional enforced, wallets never overdrawn, and a strategy that does not declare
shorts never gives up more of an asset than its own position holds. Every book is read net of what our
earlier fills took (LiquidityMemory); what a leg takes is recorded the moment it fills and
rolled back when its signal is refused. A multi-leg signal fills every leg in full or nothing
at all, each leg checked against the wallets as the earlier legs left them. A refusal carries a
reason key (MISS_REASONS) so misses can be counted by why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Sequence

from bot.config_execution import ExecutionConfig
from bot.execution.fills import (WALLET_TOLERANCE, depth_within, leg_amounts, levels_taken, slippage_limit,
                                 wallet_changes)
from bot.execution.liquidity import LiquidityMemory, raw_reader
from bot.accounting.positions import DUST_QTY
from bot.models import PORTFOLIO_QUOTE, Fill, Leg, Market, Signal, Snapshot, fast_constructor, split_symbol

# Why an order that reached the market did not fill (data/misses.jsonl "reason_key").
MISS_REASONS = ("price_moved", "liquidity_taken", "insufficient_funds", "no_book", "timeout", "other")


class WalletReader(Protocol):
    """What the executor reads of the portfolio: spendable amounts per strategy."""

    def available(self, exchange: str, asset: str, strategy: str) -> float:
        """What strategy may spend: the wallet less other strategies' reserved holdings."""

    def held(self, strategy: str, asset: str) -> float:
        """The strategy's net position in asset, over every exchange (negative: a short)."""

    # Optional (PortfolioTracker has both; bot/accounting/margin.py): collateral_freed(exchange,
    # asset, strategy, qty) -> USDT a buy-back frees; short_opened(exchange, asset, strategy, qty)
    # -> float | None, the part of a sell that opens a short (None: margin off, wallet-level rule).


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """The executor's answer: the fills made, or why there are none ("pending": still in flight).

    takes are the liquidity handles of the fills, for a caller that must undo them (a failed write).
    """

    status: Literal["filled", "partial", "rejected", "pending"]
    fills: tuple[Fill, ...] = ()
    reason: str = ""
    reason_key: str = ""
    takes: tuple = ()


# A fill's objects, made by setting their slots (models.fast_constructor: half the cost of a frozen __init__).
_new_fill = fast_constructor(Fill, ("exchange", "symbol", "side", "qty", "price", "fee", "fee_asset", "quote_usdt_rate",
                                    "requested_qty", "levels_used", "slippage_pct", "levels_taken", "book_ts",
                                    "liquidity_taken_pct"))
_new_result = fast_constructor(ExecutionResult, ("status", "fills", "reason", "reason_key", "takes"))


class _Rejected(Exception):
    def __init__(self, key: str, text: str):
        super().__init__(text)
        self.key = key


class PaperExecutor:
    """Turns Signals into Fills against the books the orders meet and the current wallets."""

    def __init__(self, config: ExecutionConfig, short_margin_ratio: float = 1.5,
                 liquidity: LiquidityMemory | None = None):
        self.max_slippage_pct = config.max_slippage_pct
        self.allow_partial = config.allow_partial_fills
        self.short_margin_ratio = short_margin_ratio
        self.liquidity = liquidity if liquidity is not None else LiquidityMemory(config.liquidity)

    def execute(self, signal: Signal, snapshot: Snapshot, wallets: WalletReader, allows_short: bool = False,
                arrivals: Sequence[Snapshot] | None = None, fill_ts: float | None = None) -> ExecutionResult:
        """Fill the signal or say why not. Never changes the wallets: the portfolio does that.

        arrivals: per leg, the snapshot whose book the leg meets (default: snapshot for every leg);
        fill_ts: the time the liquidity memory records the takes at (default: snapshot.ts).
        """
        if not signal.legs:
            return ExecutionResult("rejected", reason="signal has no legs", reason_key="other")
        atomic = len(signal.legs) > 1
        deltas: dict[tuple[str, str], float] = {}
        when = snapshot.ts if fill_ts is None else fill_ts
        if not atomic:  # one leg: nothing taken before a refusal, so nothing to roll back
            leg = signal.legs[0]
            try:
                fill = self._fill_leg(leg, arrivals[0] if arrivals is not None else snapshot, wallets, deltas,
                                      allows_short, False, signal.strategy, "")
                if leg.side == "sell" or fill.fee_asset != PORTFOLIO_QUOTE:
                    _check_positions(signal, deltas, wallets, allows_short)
            except _Rejected as exc:
                return ExecutionResult("rejected", reason=str(exc), reason_key=exc.key)
            take = self.liquidity.record(leg.exchange, leg.symbol, leg.side, fill.levels_taken, when)
            return _new_result("partial" if fill.partial else "filled", (fill,), "", "", (take,))
        fills, takes = [], []
        try:
            for number, leg in enumerate(signal.legs, start=1):
                met = arrivals[number - 1] if arrivals is not None else snapshot
                label = f"leg {number} ({leg.side} {leg.symbol} on {leg.exchange})" if atomic else ""
                fill = self._fill_leg(leg, met, wallets, deltas, allows_short, atomic, signal.strategy, label)
                takes.append(self.liquidity.record(leg.exchange, leg.symbol, leg.side, fill.levels_taken, when))
                fills.append(fill)
            _check_positions(signal, deltas, wallets, allows_short)
        except _Rejected as exc:
            self.liquidity.rollback(takes)
            return ExecutionResult("rejected", reason=str(exc), reason_key=exc.key)
        partial = any(f.partial for f in fills)
        return ExecutionResult("partial" if partial else "filled", tuple(fills), takes=tuple(takes))

    def _fill_leg(self, leg: Leg, snapshot: Snapshot, wallets: WalletReader, deltas: dict[tuple[str, str], float],
                  allows_short: bool, atomic: bool, strategy: str, label: str) -> Fill:
        key = (leg.exchange, leg.symbol)
        market: Market | None = snapshot.markets.get(key)
        if market is None:
            raise _Rejected("no_book", f"{leg.symbol} is not traded on {leg.exchange}")
        side = leg.side
        if side != "buy" and side != "sell":
            raise _Rejected("other", f"unknown side {side!r}")
        raw = None if key in snapshot.stale else raw_reader(snapshot.book_reader)(*key)
        if raw is None:
            raise _Rejected("no_book", f"no fresh order book for {leg.symbol} on {leg.exchange}")
        if raw.crossed:
            raise _Rejected("no_book", f"order book for {leg.symbol} on {leg.exchange} is crossed; not trading on it")
        book = self.liquidity.adjust(raw)
        is_buy = side == "buy"
        levels = book.asks if is_buy else book.bids
        amounts = leg_amounts(market, levels, side, leg.qty, self.max_slippage_pct, leg.limit_price)
        whole = atomic or not self.allow_partial
        if isinstance(amounts, str) or (whole and amounts.partial):
            raw_levels = raw.asks if is_buy else raw.bids
            key = self._shortfall(market, leg, raw_levels, levels, whole)
            if isinstance(amounts, str):
                raise _Rejected(key, f"{label}: {amounts}" if label else amounts)
            if atomic:
                raise _Rejected(key, f"{label} could fill only {amounts.qty:g} of {amounts.requested:g} "
                                     f"within {self._bound(leg)}; no leg was filled")
            raise _Rejected(key, f"only {amounts.qty:g} of {amounts.requested:g} {market.base} available within "
                                 f"{self._bound(leg)} and partial fills are off")
        rate = snapshot.usdt_rate(leg.exchange, market.quote)
        if rate is None:
            raise _Rejected("other", f"cannot value {market.quote} in USDT on {leg.exchange}")
        self._check_wallet(leg, amounts.qty, amounts.notional, amounts.fee, rate, wallets, deltas, allows_short,
                           strategy)
        slippage_pct = abs(amounts.price - amounts.best) / amounts.best * 100.0
        visible = depth_within(levels, slippage_limit(amounts.best, self.max_slippage_pct, is_buy), is_buy)
        return _new_fill(leg.exchange, leg.symbol, side, amounts.qty, amounts.price, amounts.fee, market.quote, rate,
                         amounts.requested, amounts.levels_used, slippage_pct,
                         levels_taken(levels, amounts.levels_used, amounts.qty), raw.ts,
                         round(amounts.qty / visible * 100.0, 6) if visible > 0 else None)

    def _bound(self, leg: Leg) -> str:
        text = f"{self.max_slippage_pct:g}% slippage"
        return text if leg.limit_price is None else f"{text} and the limit price {leg.limit_price:.10g}"

    def _shortfall(self, market: Market, leg: Leg, raw_levels, levels, whole: bool) -> str:
        """Why the book could not fill the leg: our own earlier takes, a price that moved, or else."""
        def fills(book_levels, limit_price) -> bool:
            amounts = leg_amounts(market, book_levels, leg.side, leg.qty, self.max_slippage_pct, limit_price)
            return not isinstance(amounts, str) and not (whole and amounts.partial)

        if levels is not raw_levels and fills(raw_levels, leg.limit_price):
            return "liquidity_taken"
        if not raw_levels:
            return "no_book"
        if leg.limit_price is not None and fills(levels, None):
            return "price_moved"
        return "other"

    def _check_wallet(self, leg: Leg, qty: float, notional: float, fee: float, rate: float,
                      wallets: WalletReader, deltas: dict, allows_short: bool, strategy: str) -> None:
        base, quote = split_symbol(leg.symbol)
        ex = leg.exchange
        # What strategy may spend of an asset here: the wallet as the earlier legs left it.
        if leg.side == "buy":
            need = notional + fee
            available = wallets.available(ex, quote, strategy) + deltas.get((ex, quote), 0.0)
            # (books) Buying back a short may spend the collateral reserved for it.
            freed = getattr(wallets, "collateral_freed", None) if allows_short else None
            if freed is not None:
                available += freed(ex, base, strategy, qty)
            if need > available + WALLET_TOLERANCE:
                raise _Rejected("insufficient_funds", f"insufficient {quote} on {ex}: need {need:.8g}, "
                                                      f"have {available:.8g}")
            _record(deltas, ex, wallet_changes(leg.side, base, quote, qty, notional, fee))
            return
        available = wallets.available(ex, base, strategy) + deltas.get((ex, base), 0.0)
        after = available - qty
        if after < -WALLET_TOLERANCE and not allows_short:
            raise _Rejected("insufficient_funds", f"insufficient {base} on {ex}: need {qty:.8g}, "
                                                  f"have {available:.8g}")
        # (books) With margin on, the short is position-level (bot/accounting/margin.py): the part of
        # this sell beyond what the strategy holds on the exchange, whatever the wallet holds.
        opened = getattr(wallets, "short_opened", None)
        opened = opened(ex, base, strategy, qty) if opened is not None and allows_short else None
        short_qty = max(0.0, -after) if opened is None else opened
        if allows_short and short_qty > WALLET_TOLERANCE:
            short_usdt = short_qty * (notional / qty) * rate
            collateral_usdt = (wallets.available(ex, quote, strategy) + deltas.get((ex, quote), 0.0) + notional - fee) * rate
            if short_usdt * self.short_margin_ratio > collateral_usdt + 1e-9:
                raise _Rejected("insufficient_funds", f"short of {short_qty:.8g} {base} on {ex} exceeds the margin rule "
                                f"(needs {short_usdt * self.short_margin_ratio:.2f} USDT collateral, "
                                f"{collateral_usdt:.2f} available)")
        _record(deltas, ex, wallet_changes(leg.side, base, quote, qty, notional, fee))


def _check_positions(signal: Signal, deltas: dict[tuple[str, str], float], wallets: WalletReader,
                     allows_short: bool) -> None:
    """What the signal's legs give up, summed per asset over the legs (a leg that a later leg covers
    passes), against the strategy's own position in it:

    - a strategy that does not declare shorts may not take its net position below zero, nor further
      below it: a sell beyond what it holds over all exchanges would sell coins that are not its own
      (the starting inventory, another strategy's) and book a short it has no margin for. Its
      holdings on one exchange may still go negative (arbitrage sells on one exchange what it buys
      on another);
    - a strategy that shorts may borrow on an exchange (take what it may spend there below zero)
      only as far as its position over all exchanges is short after the signal: a short borrowed on
      one exchange and covered by coins bought on another would leave that wallet below zero with
      no short on the books to answer for it.
    """
    net: dict[str, float] = {}
    for (_, asset), change in deltas.items():
        if asset != PORTFOLIO_QUOTE:
            net[asset] = net.get(asset, 0.0) + change
    strategy = signal.strategy
    if not allows_short:
        for asset, change in net.items():
            if change > -DUST_QTY:  # gives up nothing net (a position below zero from before may trade)
                continue
            before = wallets.held(strategy, asset)
            if before + change < -DUST_QTY:
                holds = (f"holds {max(before, 0.0):.8g} {asset}" if before > -DUST_QTY
                         else f"is {-before:.8g} {asset} below zero already (books from before this rule)")
                raise _Rejected("insufficient_funds",
                                f"{strategy} {holds} and does not short: it cannot "
                                f"give up {-change:.8g} (the rest of the wallet's {asset} is not its own)")
        return
    for (exchange, asset), change in deltas.items():
        if asset == PORTFOLIO_QUOTE or change > -DUST_QTY:
            continue
        borrowed = -(wallets.available(exchange, asset, strategy) + change)
        if borrowed <= DUST_QTY:
            continue
        short = max(0.0, -(wallets.held(strategy, asset) + net[asset]))
        if borrowed > short + DUST_QTY:
            raise _Rejected("insufficient_funds",
                            f"{strategy} would borrow {borrowed:.8g} {asset} on {exchange} while short only "
                            f"{short:.8g} over all exchanges: a short is borrowed where it is sold")


def _record(deltas: dict[tuple[str, str], float], exchange: str, changes) -> None:
    for asset, change in changes:
        deltas[(exchange, asset)] = deltas.get((exchange, asset), 0.0) + change
