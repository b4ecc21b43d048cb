"""Book-walking arithmetic for the arbitrage strategy.

Two kinds of maths live here:
- sizing: walk several books together, in units of one pivot asset, while the marginal unit
  still pays after every taker fee and no level lies past the executor's slippage cap;
- replay: fill a leg, check the wallet and book the realized P&L with the very functions the
  executor and the portfolio use (bot.execution.fills for the fill and wallet arithmetic, bot.accounting.positions
  for the booking), so the estimate and the booked result cannot drift apart.
TickState carries one tick's books and what the signals proposed so far will do to the wallets
and positions, so later signals of the tick are sized and booked after them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from bot.execution.fills import WALLET_TOLERANCE, Levels, after_take, leg_amounts, wallet_changes
from bot.models import PORTFOLIO_QUOTE, Market, OrderBook, PortfolioView, Snapshot, round_step
from bot.accounting.positions import Position, book_fill


# ----- sizing ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BookSide:
    """One side of one book to walk: levels best first, the worst acceptable price, and the side."""

    levels: Levels
    limit_price: float
    is_buy: bool


# rates(prices) -> (base units of each book per pivot unit, net value per pivot unit in the
# portfolio quote, wallet spend per pivot unit, buy notional in USDT per pivot unit)
RateFunction = Callable[[list[float]], tuple[Sequence[float], float, float, float]]


def walk_together(books: Sequence[BookSide], rates: RateFunction, max_pivot: float = math.inf,
                  max_spend: float = math.inf, max_notional: float = math.inf) -> float:
    """How many pivot units to trade: walk every book level by level while the marginal unit pays.

    Stops at the first segment whose net value per unit is <= 0 (books are sorted, so it never
    pays again), at a level past its book's limit price, at an empty book, or at a cap.
    """
    count = len(books)
    index = [0] * count
    used = [0.0] * count
    pivot = spend = notional = 0.0
    while True:
        prices = []
        for k, side in enumerate(books):
            if index[k] >= len(side.levels):
                return pivot
            price = side.levels[index[k]][0]
            if (price > side.limit_price) if side.is_buy else (price < side.limit_price):
                return pivot
            prices.append(price)
        per_unit, value, spend_unit, notional_unit = rates(prices)
        if value <= 0:
            return pivot
        caps = [(books[k].levels[index[k]][1] - used[k]) / per_unit[k] for k in range(count)]
        empty = [k for k in range(count) if caps[k] <= 0]
        if empty:
            for k in empty:
                index[k] += 1
                used[k] = 0.0
            continue
        take = min(caps)
        limit_take = min(max_pivot - pivot,
                         (max_spend - spend) / spend_unit if spend_unit > 0 else math.inf,
                         (max_notional - notional) / notional_unit if notional_unit > 0 else math.inf)
        if limit_take < take:
            return pivot + max(limit_take, 0.0)
        pivot += take
        spend += take * spend_unit
        notional += take * notional_unit
        for k in range(count):
            if caps[k] <= take:
                index[k] += 1
                used[k] = 0.0
            else:
                used[k] += take * per_unit[k]


def ceil_step(value: float, step: float) -> float:
    """Round up to a multiple of step (the counterpart of models.round_step)."""
    units = math.ceil(value / step - 1e-9)
    return round_step(units * step, step)


# ----- replaying the executor -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LegFill:
    """What the executor will make of one leg: the same numbers its Fill and Trade will carry."""

    exchange: str
    symbol: str
    side: str
    base: str
    quote: str
    qty: float
    price: float
    notional: float
    fee: float
    rate: float  # quote_usdt_rate
    worst_price: float = 0.0  # the last book level the fill reaches: the leg's limit price

    @property
    def notional_usdt(self) -> float:
        """The notional valued in USDT at the fill's quote rate."""
        return self.notional * self.rate


def fill_leg(market: Market, levels: Levels, side: str, qty: float, max_slippage_pct: float,
             rate: float) -> LegFill | None:
    """The executor's fill of one leg of an all-or-none signal, or None where it would refuse it."""
    amounts = leg_amounts(market, levels, side, qty, max_slippage_pct)
    # A partial leg makes the executor refuse the whole signal.
    if isinstance(amounts, str) or amounts.partial:
        return None
    return LegFill(market.exchange, market.symbol, side, market.base, market.quote, amounts.qty, amounts.price,
                   amounts.notional, amounts.fee, rate, amounts.worst)


class WalletScratch:
    """The executor's wallet check for one signal (no shorts): balances plus what earlier legs did."""

    __slots__ = ("_balance", "_deltas")

    def __init__(self, balance: Callable[[str, str], float]):
        self._balance = balance
        self._deltas: dict[tuple[str, str], float] = {}

    def have(self, exchange: str, asset: str) -> float:
        """What the wallet holds once the legs taken so far have filled."""
        return self._balance(exchange, asset) + self._deltas.get((exchange, asset), 0.0)

    def take(self, fill: LegFill) -> bool:
        """Apply the leg if the wallet allows it; False where the executor would refuse."""
        ex = fill.exchange
        if fill.side == "buy":
            if fill.notional + fill.fee > self.have(ex, fill.quote) + WALLET_TOLERANCE:
                return False
        elif self.have(ex, fill.base) - fill.qty < -WALLET_TOLERANCE:
            return False
        for asset, change in wallet_changes(fill.side, fill.base, fill.quote, fill.qty, fill.notional, fill.fee):
            self._deltas[(ex, asset)] = self._deltas.get((ex, asset), 0.0) + change
        return True

    @property
    def deltas(self) -> dict[tuple[str, str], float]:
        """The wallet changes of the legs applied so far, per (exchange, asset)."""
        return self._deltas


# ----- replaying the portfolio ----------------------------------------------------------------

def book_fills(fills: Sequence[LegFill], lot_for: Callable[[str], Position]) -> tuple[float, float]:
    """(realized P&L, fees) in USDT the portfolio will book for these fills, updating the lots."""
    realized = 0.0
    fees = 0.0
    for fill in fills:
        realized += book_fill(fill.side, fill.base, fill.quote, fill.qty, fill.price, fill.fee, fill.rate,
                              fill.exchange, 0.0, lot_for, PORTFOLIO_QUOTE)
        fees += fill.fee * fill.rate
    return realized, fees


# ----- one tick's replay state ----------------------------------------------------------------

@dataclass(slots=True)
class Plan:
    """A sized opportunity: the fills as the executor will make them and what they will book."""

    fills: tuple[LegFill, ...]
    net_usdt: float
    notional_usdt: float
    wallet_deltas: dict[tuple[str, str], float]
    lots: dict[str, Position]
    leftover: float = 0.0  # of the intermediate asset, kept in the position at cost (triangular)

    @property
    def net_pct(self) -> float:
        """Net profit in % of the notional (0 without notional)."""
        return self.net_usdt / self.notional_usdt * 100.0 if self.notional_usdt > 0 else 0.0


class TickState:
    """One tick's books (read once) and what the signals proposed so far will do to wallets and positions."""

    __slots__ = ("snapshot", "view", "books", "deltas", "lots", "consume_books")

    def __init__(self, snapshot: Snapshot, view: PortfolioView, consume_books: bool = True):
        self.snapshot = snapshot
        self.view = view
        self.consume_books = consume_books  # False with the liquidity memory off (books refill at once)
        self.books: dict[tuple[str, str], OrderBook | None] = {}
        self.deltas: dict[tuple[str, str], float] = {}
        self.lots: dict[str, Position] = {}

    def balance(self, exchange: str, asset: str) -> float:
        """The wallet once this tick's accepted signals have filled."""
        return self.view.balance(exchange, asset) + self.deltas.get((exchange, asset), 0.0)

    def lot(self, asset: str) -> Position:
        """This strategy's holding of asset once this tick's accepted signals have filled."""
        lot = self.lots.get(asset)
        if lot is None:
            held = self.view.position(asset)
            lot = Position("arbitrage", asset) if held is None else Position(
                "arbitrage", asset, held.qty, held.qty * held.avg_cost, dict(held.by_exchange), held.opened_ts)
            self.lots[asset] = lot
        return lot

    def book(self, key: tuple[str, str]) -> OrderBook | None:
        """The fresh, uncrossed book of a market, or None."""
        if key not in self.books:
            book = self.snapshot.order_book(*key)
            self.books[key] = None if book is None or book.crossed else book
        return self.books[key]

    def replay(self, fills: Sequence[LegFill], notional_usdt: float) -> Plan | None:
        """Check the fills against the wallets and book them; None where the executor would refuse."""
        wallet = WalletScratch(self.balance)
        for fill in fills:
            if not wallet.take(fill):
                return None
        lots: dict[str, Position] = {}

        def lot_for(asset: str) -> Position:
            if asset not in lots:
                lots[asset] = self.lot(asset).copy()
            return lots[asset]

        realized, fees = book_fills(fills, lot_for)
        return Plan(tuple(fills), realized - fees, notional_usdt, wallet.deltas, lots)

    def commit(self, plan: Plan) -> None:
        """Count a plan as filled for the signals that follow it in this tick: wallets, lots, and
        the books less what its legs take (the executor sees them so, through the liquidity memory)."""
        for key, delta in plan.wallet_deltas.items():
            self.deltas[key] = self.deltas.get(key, 0.0) + delta
        self.lots.update(plan.lots)
        for fill in plan.fills if self.consume_books else ():
            key = (fill.exchange, fill.symbol)
            book = self.books.get(key)
            if book is not None:
                if fill.side == "buy":
                    book = OrderBook(book.exchange, book.symbol, book.bids, after_take(book.asks, fill.qty), book.ts)
                else:
                    book = OrderBook(book.exchange, book.symbol, after_take(book.bids, fill.qty), book.asks, book.ts)
                self.books[key] = book

    def own_leftover(self, exchange: str, asset: str) -> float:
        """The sliver of asset this strategy holds, as far as the wallet on exchange has it.

        Positions are aggregated over exchanges and cross-exchange trades move by_exchange
        around, so the aggregate is what a cycle on any exchange may spend first.
        """
        return max(0.0, min(self.lot(asset).qty, self.balance(exchange, asset)))
