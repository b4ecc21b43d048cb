"""Arbitrage: cross-exchange and triangular, sized through the books, estimated as booked.

Cross-exchange: for a symbol, buy on the exchange whose ask is low and sell on the one whose bid
is high, walking both books to the size where the marginal unit stops paying after both taker
fees. Triangular: within one exchange, USDT -> X -> Y -> USDT (or the reverse) through the
X/USDT, Y/X and Y/USDT books. Each opportunity is one all-or-none Signal.

Per tick the cost is a top-of-book test on the quotes (O(exchanges) per symbol, O(1) per
cycle and exchange); books are read only when that test passes. Sizing and the estimate then
replay the executor's fills and the portfolio's booking (arbitrage_math), so
expected_profit_usdt is exactly the realized P&L minus fees (in USDT) the trades will book.

Leftovers: a triangular cycle rounds the intermediate asset X to its market's step, so a
sliver of X (less than one step) stays in this strategy's position. It counts at its cost basis
there, as any position does: the X/USDT price paid for it (forward cycle), or the X/USDT mid the
portfolio values cross-pair fills at (reverse cycle). So the estimate is cash in minus cash out
plus the sliver at cost, which is exactly realized P&L minus fees. The next cycle spends the
sliver first, as far as the wallet on its exchange holds X, so the sliver stays under one step
while wallets hold X; on an exchange whose wallet cross-exchange selling has drained of X, each
cycle can add up to one step until a cycle elsewhere spends it. Estimates start from the
strategy's current positions (a later trade in X books against the sliver's average cost), and
signals proposed earlier in the same tick are assumed to fill (when they clear min_profit_pct)
before later ones are sized: the order the manager runs them in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from bot.config import ArbitrageConfig, MarketConfig
from bot.execution.fills import slippage_limit
from bot.models import (PORTFOLIO_QUOTE, Leg, Market, OrderBook, PortfolioView, Signal, Snapshot, round_step,
                        split_symbol)
from bot.lookahead import Lookahead
from bot.strategies.arbitrage_math import (BookSide, Plan, TickState, ceil_step, fill_leg,
                                           walk_together)
from bot.strategies.arbitrage_screen import first_maybe
from bot.strategies.base import Strategy
from bot.strategies.common import format_price, format_qty

USDT = PORTFOLIO_QUOTE
# Keep sizing a hair inside the wallet: the executor sees balances summed in another order.
SPEND_MARGIN = 1e-9
# After rounding, a size the executor would refuse is retried this many steps smaller.
MAX_STEP_DOWNS = 4


@dataclass(frozen=True, slots=True)
class Cycle:
    """Three markets X/USDT, Y/X and Y/USDT through which USDT can go round either way."""

    middle: str  # X
    far: str  # Y
    middle_usdt: str
    far_middle: str
    far_usdt: str


def find_cycles(symbols: Sequence[str]) -> list[Cycle]:
    """Every X/USDT, Y/X, Y/USDT triple among the symbols, in the symbols' order."""
    pairs = []
    for symbol in symbols:
        try:
            pairs.append(split_symbol(symbol))
        except ValueError:
            continue
    usdt_bases = {base for base, quote in pairs if quote == USDT}
    return [Cycle(quote, base, f"{quote}/{USDT}", f"{base}/{quote}", f"{base}/{USDT}")
            for base, quote in pairs if quote != USDT and quote in usdt_bases and base in usdt_bases]


@dataclass(frozen=True, slots=True)
class _Venue:
    """One symbol on one exchange, with its fee factors."""

    exchange: str
    market: Market
    key: tuple[str, str]
    buy_factor: float  # 1 + taker fee
    sell_factor: float  # 1 - taker fee


@dataclass(frozen=True, slots=True)
class _Triangle:
    """A cycle on one exchange: its three markets (X/USDT, Y/X, Y/USDT)."""

    exchange: str
    cycle: Cycle
    middle_usdt: _Venue
    far_middle: _Venue
    far_usdt: _Venue


class ArbitrageStrategy(Strategy):
    """Cross-exchange and triangular arbitrage; every signal is flat in the traded assets."""

    name = "arbitrage"
    allows_short = False
    params: ArbitrageConfig
    screen_cost = 1  # quiet_ticks runs in this order, cheap first (bot/fast_forward.py)

    def __init__(self, params: ArbitrageConfig, exchanges: tuple[str, ...], symbols: tuple[str, ...],
                 market: MarketConfig, max_slippage_pct: float, liquidity_memory: bool = True):
        super().__init__(params)
        # With execution.liquidity on, a signal's takes are gone from the books the tick's later signals meet.
        self.liquidity_memory = liquidity_memory
        self.exchanges = tuple(exchanges)
        self.symbols = tuple(symbols)
        self.max_quote_skew_seconds = market.max_quote_skew_seconds
        self.max_slippage_pct = max_slippage_pct
        self.cycles = find_cycles(self.symbols)
        self._markets_seen: Mapping | None = None
        # Hot-loop tuples, built from the snapshot's markets on first use.
        self._cross: list[tuple[str, tuple]] = []
        self._triangles: list[tuple] = []

    # -- index --------------------------------------------------------------------------------

    def _index(self, markets: Mapping[tuple[str, str], Market]) -> None:
        """Fees and keys of every configured market that exists, as tuples for the per-tick loop."""
        def venue(exchange: str, symbol: str) -> _Venue | None:
            m = markets.get((exchange, symbol))
            return None if m is None else _Venue(exchange, m, (exchange, symbol), 1 + m.taker_fee, 1 - m.taker_fee)

        self._cross = []
        for symbol in self.symbols:
            venues = [v for v in (venue(ex, symbol) for ex in self.exchanges) if v is not None]
            if len(venues) >= 2:
                self._cross.append((symbol, tuple((v.key, v.buy_factor, v.sell_factor, v) for v in venues)))
        self._triangles = []
        for exchange in self.exchanges:
            for cycle in self.cycles:
                xu, yx, yu = (venue(exchange, s) for s in (cycle.middle_usdt, cycle.far_middle, cycle.far_usdt))
                if xu is None or yx is None or yu is None:
                    continue
                self._triangles.append((xu.key, yx.key, yu.key, xu.buy_factor, xu.sell_factor, yx.buy_factor,
                                        yx.sell_factor, yu.buy_factor, yu.sell_factor,
                                        _Triangle(exchange, cycle, xu, yx, yu)))
        self._markets_seen = markets

    # -- fast-forward screening ----------------------------------------------------------------

    def quiet_ticks(self, lookahead: Lookahead, view: PortfolioView) -> int:
        """Ticks before the first whose top-of-book tests could pass (bot/strategies/arbitrage_screen.py);
        0 when the block's markets (fees) are not known constant. A tick no test passes changes nothing here."""
        if lookahead.traded is None:
            return 0
        if lookahead.traded is not self._markets_seen:
            self._index(lookahead.traded)  # what on_snapshot would index on these markets (a pure memo)
        return first_maybe(self, lookahead)

    # -- per tick -----------------------------------------------------------------------------

    def on_snapshot(self, snapshot: Snapshot, view: PortfolioView) -> list[Signal]:
        """Top-of-book tests on the quotes; books are walked only for the markets that pass."""
        if snapshot.markets is not self._markets_seen:
            self._index(snapshot.markets)
        get = snapshot.quotes.get
        state: TickState | None = None  # made on the first opportunity: most ticks have none
        signals: list[Signal] = []
        if self.params.cross_exchange:
            for symbol, venues in self._cross:
                best_bid = 0.0
                best_ask = math.inf
                for key, buy_factor, sell_factor, _ in venues:
                    quote = get(key)
                    if quote is not None:
                        value = quote.bid * sell_factor
                        if value > best_bid:
                            best_bid = value
                        value = quote.ask * buy_factor
                        if value < best_ask:
                            best_ask = value
                if best_bid > best_ask:
                    if state is None:
                        state = TickState(snapshot, view, self.liquidity_memory)
                    signal = self._cross_signal(state, symbol, venues)
                    if signal is not None:
                        signals.append(signal)
        if self.params.triangular:
            for k_xu, k_yx, k_yu, b_xu, s_xu, b_yx, s_yx, b_yu, s_yu, triangle in self._triangles:
                q_xu, q_yx, q_yu = get(k_xu), get(k_yx), get(k_yu)
                if q_xu is None or q_yx is None or q_yu is None:
                    continue
                if q_yu.bid * s_yu > q_xu.ask * b_xu * q_yx.ask * b_yx:
                    forward = True
                elif q_yx.bid * s_yx * q_xu.bid * s_xu > q_yu.ask * b_yu:
                    forward = False
                else:
                    continue
                if state is None:
                    state = TickState(snapshot, view, self.liquidity_memory)
                signal = self._triangle_signal(state, triangle, forward, (q_xu, q_yx, q_yu))
                if signal is not None:
                    signals.append(signal)
        return signals

    def _usable(self, snapshot: Snapshot, keys: Sequence[tuple[str, str]], quotes: Sequence) -> bool:
        """No stale market and the quotes close enough in time to be paired."""
        stale = snapshot.stale
        if stale and any(key in stale for key in keys):
            return False
        times = [quote.ts for quote in quotes]
        return max(times) - min(times) <= self.max_quote_skew_seconds

    def _accept(self, state: TickState, plan: Plan) -> None:
        # Only a signal the manager will pass changes what later signals of this tick can use.
        if plan.net_pct >= self.params.min_profit_pct:
            state.commit(plan)

    # -- cross-exchange ------------------------------------------------------------------------

    def _cross_signal(self, state: TickState, symbol: str, venues: tuple) -> Signal | None:
        quotes = state.snapshot.quotes
        fresh = [(venue, quotes[venue.key]) for *_, venue in venues if venue.key in quotes]
        best: Plan | None = None
        for buy, buy_quote in fresh:
            for sell, sell_quote in fresh:
                if sell is buy or sell_quote.bid * sell.sell_factor <= buy_quote.ask * buy.buy_factor:
                    continue
                if not self._usable(state.snapshot, (buy.key, sell.key), (buy_quote, sell_quote)):
                    continue
                plan = self._size_cross(state, buy, sell)
                if plan is not None and (best is None or plan.net_usdt > best.net_usdt):
                    best = plan
        if best is None:
            return None
        self._accept(state, best)
        bought, sold = best.fills
        reason = (f"{symbol}: buy {format_qty(bought.qty)} on {bought.exchange} at {format_price(bought.price)}, "
                  f"sell on {sold.exchange} at {format_price(sold.price)}; net {_money(best.net_usdt)} USDT "
                  f"({best.net_pct:.3f}%) after fees")
        return self._signal("cross_exchange", best, reason)

    def _size_cross(self, state: TickState, buy: _Venue, sell: _Venue) -> Plan | None:
        buy_market, sell_market = buy.market, sell.market
        quote = buy_market.quote
        spendable = state.balance(buy.exchange, quote) * (1 - SPEND_MARGIN)
        sellable = state.balance(sell.exchange, sell_market.base)
        # Cheap wallet tests before any book is read: no cash on A or no inventory on B, no trade.
        if spendable < buy_market.min_notional or spendable <= 0 or sellable <= 0 \
                or sellable < max(buy_market.min_amount, sell_market.min_amount):
            return None
        buy_book, sell_book = state.book(buy.key), state.book(sell.key)
        if buy_book is None or sell_book is None or not buy_book.asks or not sell_book.bids:
            return None
        buy_rate = state.snapshot.usdt_rate(buy.exchange, quote)
        sell_rate = state.snapshot.usdt_rate(sell.exchange, quote)
        if not buy_rate or not sell_rate:
            return None
        asks, bids = buy_book.asks, sell_book.bids
        buy_fee, sell_fee = buy_market.taker_fee, sell_market.taker_fee

        def rates(prices: list[float]):
            ask, bid = prices
            return (1.0, 1.0), bid * (1 - sell_fee) - ask * (1 + buy_fee), ask * (1 + buy_fee), ask * buy_rate

        slip = self.max_slippage_pct
        books = (BookSide(asks, slippage_limit(asks[0][0], slip, True), True),
                 BookSide(bids, slippage_limit(bids[0][0], slip, False), False))
        raw = walk_together(books, rates, max_pivot=sellable, max_spend=spendable,
                            max_notional=self.params.max_notional_usdt)
        step = max(buy_market.amount_step, sell_market.amount_step)
        qty = round_step(raw, step)
        for _ in range(MAX_STEP_DOWNS):
            if qty <= 0:
                return None
            bought = fill_leg(buy_market, asks, "buy", qty, slip, buy_rate)
            sold = fill_leg(sell_market, bids, "sell", qty, slip, sell_rate)
            if bought is not None and sold is not None and bought.qty == sold.qty:
                plan = state.replay((bought, sold), bought.notional_usdt)
                if plan is not None:
                    return plan if plan.net_usdt > 0 else None
            qty = round_step(qty - step, step)
        return None

    # -- triangular ----------------------------------------------------------------------------

    def _triangle_signal(self, state: TickState, triangle: _Triangle, forward: bool, quotes: tuple) -> Signal | None:
        keys = (triangle.middle_usdt.key, triangle.far_middle.key, triangle.far_usdt.key)
        if not self._usable(state.snapshot, keys, quotes):
            return None
        plan = self._size_triangle(state, triangle, forward)
        if plan is None:
            return None
        self._accept(state, plan)
        cycle = triangle.cycle
        path = (USDT, cycle.middle, cycle.far, USDT) if forward else (USDT, cycle.far, cycle.middle, USDT)
        legs = ", ".join(f"{f.side} {format_qty(f.qty)} {f.symbol} at {format_price(f.price)}" for f in plan.fills)
        tail = f"; {format_qty(plan.leftover)} {cycle.middle} left over, kept at cost" if plan.leftover > 0 else ""
        reason = (f"{triangle.exchange} {'->'.join(path)}: {legs}; net {_money(plan.net_usdt)} USDT "
                  f"({plan.net_pct:.3f}%) after fees{tail}")
        return self._signal("triangular", plan, reason)

    def _size_triangle(self, state: TickState, t: _Triangle, forward: bool) -> Plan | None:
        """Size a cycle in units of Y: forward buys X/USDT, buys Y/X, sells Y/USDT; reverse
        buys Y/USDT, sells Y/X, sells X/USDT. Legs are listed in that order."""
        spendable = state.balance(t.exchange, USDT) * (1 - SPEND_MARGIN)
        first = t.middle_usdt if forward else t.far_usdt
        if spendable <= 0 or spendable < first.market.min_notional:
            return None
        books = [state.book(v.key) for v in (t.middle_usdt, t.far_middle, t.far_usdt)]
        x_rate = state.snapshot.usdt_rate(t.exchange, t.cycle.middle)
        if not x_rate or any(b is None or not b.bids or not b.asks for b in books):
            return None
        xu, yx, yu = books
        f_xu, f_yx, f_yu = (v.market.taker_fee for v in (t.middle_usdt, t.far_middle, t.far_usdt))
        if forward:
            sides = ((xu.asks, True), (yx.asks, True), (yu.bids, False))

            def rates(prices: list[float]):
                a_xu, a_yx, b_yu = prices
                x_per_y = a_yx * (1 + f_yx)
                spend = a_xu * (1 + f_xu) * x_per_y
                return (x_per_y, 1.0, 1.0), b_yu * (1 - f_yu) - spend, spend, a_xu * x_per_y
        else:
            sides = ((yu.asks, True), (yx.bids, False), (xu.bids, False))

            def rates(prices: list[float]):
                a_yu, b_yx, b_xu = prices
                x_per_y = b_yx * (1 - f_yx)
                spend = a_yu * (1 + f_yu)
                return (1.0, 1.0, x_per_y), x_per_y * b_xu * (1 - f_xu) - spend, spend, a_yu

        slip = self.max_slippage_pct
        walk = [BookSide(levels, slippage_limit(levels[0][0], slip, is_buy), is_buy) for levels, is_buy in sides]
        raw = walk_together(walk, rates, max_spend=spendable, max_notional=self.params.max_notional_usdt)
        step = max(t.far_middle.market.amount_step, t.far_usdt.market.amount_step)
        qty = round_step(raw, step)
        own = state.own_leftover(t.exchange, t.cycle.middle)
        for _ in range(MAX_STEP_DOWNS):
            if qty <= 0:
                return None
            plan = self._replay_triangle(state, t, forward, qty, own, x_rate, books)
            if plan is not None:
                return plan if plan.net_usdt > 0 else None
            qty = round_step(qty - step, step)
        return None

    def _replay_triangle(self, state: TickState, t: _Triangle, forward: bool, qty: float, own: float,
                         x_rate: float, books: list[OrderBook]) -> Plan | None:
        """The executor's fills for qty of Y; the X leg is rounded so at most one step of X is left."""
        xu, yx, yu = books
        slip = self.max_slippage_pct
        usdt_rate = state.snapshot.usdt_rate(t.exchange, USDT)
        m_xu, m_yx, m_yu = t.middle_usdt.market, t.far_middle.market, t.far_usdt.market
        if forward:
            second = fill_leg(m_yx, yx.asks, "buy", qty, slip, x_rate)
            third = fill_leg(m_yu, yu.bids, "sell", qty, slip, usdt_rate)
            if second is None or third is None or second.qty != third.qty:
                return None
            x_to_buy = second.notional + second.fee - own
            first = fill_leg(m_xu, xu.asks, "buy", ceil_step(x_to_buy, m_xu.amount_step), slip, usdt_rate) \
                if x_to_buy > 0 else None
            leftover = first.qty - x_to_buy if first is not None else 0.0
        else:
            first = fill_leg(m_yu, yu.asks, "buy", qty, slip, usdt_rate)
            second = fill_leg(m_yx, yx.bids, "sell", qty, slip, x_rate)
            if first is None or second is None or first.qty != second.qty:
                return None
            x_to_sell = second.notional - second.fee + own
            third = fill_leg(m_xu, xu.bids, "sell", round_step(x_to_sell, m_xu.amount_step), slip, usdt_rate)
            leftover = x_to_sell - third.qty if third is not None else 0.0
        if first is None or third is None:
            return None
        plan = state.replay((first, second, third), first.notional_usdt)
        if plan is not None:
            plan.leftover = leftover
        return plan

    # -- output --------------------------------------------------------------------------------

    def _signal(self, kind: str, plan: Plan, reason: str) -> Signal:
        # IOC limits at the worst level the sizing walked: if the books have moved against us by the
        # time the order arrives, the legs do not fill (a "price_moved" miss), rather than at a loss.
        legs = tuple(Leg(f.exchange, f.symbol, f.side, f.qty, f.price, limit_price=f.worst_price)
                     for f in plan.fills)
        # The estimate replays the fills on the books as they are at the decision; with latency the
        # order meets later books, so it is an upper bound the limit prices keep honest.
        return Signal(strategy=self.name, kind=kind, legs=legs, reason=reason, expected_profit_usdt=plan.net_usdt,
                      expected_profit_pct=plan.net_pct, confidence=1.0)


def _money(value: float) -> str:
    return f"{value:+,.2f}" if abs(value) >= 1 else f"{value:+.4f}"
