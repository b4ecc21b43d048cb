"""PortfolioTracker: per-exchange wallets, per-strategy positions, P&L and the equity curve.

Every change comes from a ledger line (a Trade, or a LedgerEntry: a transfer leg, a borrow fee;
bot/accounting/entries.py), so replaying the ledger over the starting balances rebuilds the
portfolio exactly. P&L identity, all in USDT:
    equity - initial_equity = realized + unrealized + holdings_pnl - fees - transfer fees - borrow fees
where equity counts coins in transit and holdings_pnl is the mark-to-market change of the
starting inventory (less coins paid as fees, from when they were paid).
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

from bot.accounting.equity_curve import EquityCurve
from bot.models import PORTFOLIO_QUOTE, PositionView, Snapshot, Trade, split_symbol, trade_fee_usdt
from bot.ledger_entries import LedgerEntry
from bot.accounting.entries import Transit, apply_entry
from bot.accounting.margin import MarginRules, collateral_of, note_short_change, reserved_collateral, short_qty
from bot.accounting.positions import Position, book_fill


@dataclass(slots=True)
class StrategyStats:
    """Running totals for one strategy, all from its trades (wins, losses and the like are per
    round trip: bot/accounting/statistics.py)."""

    realized_pnl: float = 0.0
    fees_usdt: float = 0.0
    trades: int = 0
    volume_usdt: float = 0.0
    transfer_fees_usdt: float = 0.0  # withdrawal fees of the transfers charged to the strategy
    transfers: int = 0
    borrow_fees_usdt: float = 0.0  # borrow fees of its shorts

    @property
    def costs_usdt(self) -> float:
        """Every cost besides trade fees: transfer and borrow fees."""
        return self.transfer_fees_usdt + self.borrow_fees_usdt

    def net_pnl(self, unrealized: float) -> float:
        """Realized + unrealized, less trade fees, transfer fees and borrow fees."""
        return self.realized_pnl + unrealized - self.fees_usdt - self.transfer_fees_usdt - self.borrow_fees_usdt


class PortfolioTracker:
    """Balances, positions and P&L; marks come from the latest snapshot."""

    def __init__(self, starting_balances: dict[str, dict[str, float]], equity_history_points: int = 2000,
                 equity_sample_seconds: float = 60.0, margin: MarginRules | None = None):
        self.starting_balances = {ex: dict(assets) for ex, assets in starting_balances.items()}
        self.balances: dict[str, dict[str, float]] = {ex: dict(assets) for ex, assets in starting_balances.items()}
        self.positions: dict[tuple[str, str], Position] = {}
        self.stats: dict[str, StrategyStats] = {}
        self.in_transit: dict[str, Transit] = {}
        # Coins paid as fees, and their USDT value when paid, per asset (holdings_pnl leaves them out).
        self.fee_coins: dict[str, float] = {}
        self.fee_coins_usdt: dict[str, float] = {}
        # None: margin off (no reserved collateral, no borrow accrual); see bot/accounting/margin.py.
        self.margin = margin
        # What resting orders hold, (exchange, asset) -> amount (bot/execution/resting_desk.py); no one may spend it.
        self.order_reserve: Callable[[str, str], float] | None = None
        self.accruals: dict = {}
        self.shorts: set[tuple[str, str]] = set()  # (strategy, asset) of the shorting strategies' shorts
        self._reserved: dict[str, float] = {}  # exchange -> collateral reserved there (reserved_on)
        # Net wallet change per (exchange, asset) per strategy from its trades: who drained what
        # (the rebalancer charges a transfer to the strategy that took the most out).
        self.flows: dict[tuple[str, str], dict[str, float]] = {}
        self.last_seq = 0
        self.last_tick = -1
        self.curve = EquityCurve(equity_history_points)  # the recent samples: equity_history
        self.equity_sample_seconds = equity_sample_seconds
        self.initial_marks: dict[str, float] = {}
        self.peak_equity = 0.0
        self._snapshot: Snapshot | None = None
        self._marks: dict[str, float] = {}
        self._marks_tick = -2
        self._last_sample_ts = float("-inf")
        # realized_for's booking of one trade, for apply: (trade, positions booked, the positions they
        # were copied from, realized P&L), or None.
        self._draft: tuple | None = None

    # ----- marks and equity -------------------------------------------------------------
    @property
    def equity_history(self) -> deque[tuple[float, float]]:
        """The recent equity samples, (ts, equity) oldest first (bot/accounting/equity_curve.py)."""
        return self.curve.points()

    def mark(self, snapshot: Snapshot) -> bool:
        """Take the snapshot's prices as marks; returns True when an equity sample was taken."""
        self._snapshot = snapshot
        if not self.initial_marks:
            self.initial_marks = dict(self.marks())
        if snapshot.ts - self._last_sample_ts >= self.equity_sample_seconds:
            self.sample_equity()
            return True
        return False

    def marks(self) -> dict[str, float]:
        """USDT value of one unit of each asset: the mean of the exchanges' mid prices."""
        snapshot = self._snapshot
        if snapshot is None:
            return self._marks
        if self._marks_tick == snapshot.tick:
            return self._marks
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for (_, symbol), quote in snapshot.quotes.items():
            base, quote_asset = split_symbol(symbol)
            if quote_asset == PORTFOLIO_QUOTE:
                sums[base] = sums.get(base, 0.0) + (quote.bid + quote.ask) * 0.5
                counts[base] = counts.get(base, 0) + 1
        marks = dict(self._marks)
        marks[PORTFOLIO_QUOTE] = 1.0
        for asset, total in sums.items():
            marks[asset] = total / counts[asset]
        self._marks = marks
        self._marks_tick = snapshot.tick
        return marks

    def equity(self) -> float:
        """Sum over every wallet, and the coins in transit, of each asset at its mark, in USDT."""
        marks = self.marks()
        total = 0.0
        for assets in self.balances.values():
            for asset, amount in assets.items():
                if amount:
                    total += amount * marks.get(asset, 0.0)
        for transit in self.in_transit.values():
            total += transit.amount * marks.get(transit.asset, 0.0)
        return total

    def sample_equity(self) -> float:
        """Record an equity sample at the current snapshot's time, raising the peak; returns the equity."""
        equity = self.equity()
        ts = self._snapshot.ts if self._snapshot is not None else 0.0
        self.equity_history.append((ts, equity))
        self._last_sample_ts = ts
        if equity > self.peak_equity:
            self.peak_equity = equity
        return equity

    def note_equity(self) -> float:
        """Raise peak_equity to the equity now when it is above (the engine does, where the kill switch looks);
        returns that equity."""
        equity = self.equity()
        if equity > self.peak_equity:
            self.peak_equity = equity
        return equity

    def drawdown_pct(self) -> float:
        """Fall of equity from its peak (peak_equity, or the equity now when above it), in %. Changes nothing."""
        equity = self.equity()
        peak = max(self.peak_equity, equity)
        return (peak - equity) / peak * 100.0 if peak > 0 else 0.0

    def initial_equity(self) -> float:
        """The starting balances at the initial marks (the current marks before any), in USDT."""
        marks = self.initial_marks or self.marks()
        return sum(amount * marks.get(asset, 0.0) for assets in self.starting_balances.values()
                   for asset, amount in assets.items())

    def holdings_pnl(self) -> float:
        """Mark-to-market change of the starting inventory (no strategy's doing), less the price
        move of the coins paid from it as fees since they were paid (the strategy paid their value)."""
        marks = self.marks()
        total = 0.0
        for assets in self.starting_balances.values():
            for asset, amount in assets.items():
                total += amount * (marks.get(asset, 0.0) - self.initial_marks.get(asset, marks.get(asset, 0.0)))
        for asset, coins in self.fee_coins.items():
            total += self.fee_coins_usdt.get(asset, 0.0) - coins * marks.get(asset, 0.0)
        return total

    def costs_usdt(self) -> float:
        """Every strategy's transfer and borrow fees, in USDT."""
        return sum(stats.costs_usdt for stats in self.stats.values())

    def unrealized_pnl(self, strategy: str | None = None) -> float:
        """Open positions' value at the marks less their cost, for one strategy or all."""
        marks = self.marks()
        return sum(p.qty * marks.get(p.asset, 0.0) - p.cost for p in self.positions.values()
                   if p.qty and (strategy is None or p.strategy == strategy))

    # ----- applying trades -------------------------------------------------------------
    def realized_for(self, trades: Iterable[Trade]) -> list[float]:
        """The realized P&L each trade would book, in order, without changing anything."""
        scratch: dict[tuple[str, str], Position] = {}
        positions = self.positions
        results = [self._book_positions(trade, scratch, positions) for trade in trades]
        # One trade (a single-leg fill): its booked positions wait for apply, which installs them
        # instead of booking the same arithmetic again, if the books are as they were drafted from.
        self._draft = (trades[0], scratch, {key: positions.get(key) for key in scratch}, results[0]) \
            if len(results) == 1 and isinstance(trades, (list, tuple)) else None
        return results

    def apply_record(self, record: Trade | LedgerEntry) -> None:
        """Book one ledger line, whichever kind it is."""
        if isinstance(record, LedgerEntry):
            apply_entry(self, record)
        else:
            self.apply(record)

    def stats_of(self, strategy: str) -> StrategyStats:
        """The strategy's running totals (created empty on first use)."""
        stats = self.stats.get(strategy)
        if stats is None:
            stats = self.stats[strategy] = StrategyStats()
        return stats

    def apply(self, trade: Trade) -> float:
        """Book one trade into wallets, positions and stats; returns its realized P&L."""
        base, quote = split_symbol(trade.symbol)
        exchange, strategy, qty, fee, fee_asset = trade.exchange, trade.strategy, trade.qty, trade.fee, trade.fee_asset
        notional = qty * trade.price
        wallet = self.balances.setdefault(exchange, {})
        is_buy = trade.side == "buy"
        if is_buy:
            wallet[base] = wallet.get(base, 0.0) + qty
            wallet[quote] = wallet.get(quote, 0.0) - notional
        else:
            wallet[base] = wallet.get(base, 0.0) - qty
            wallet[quote] = wallet.get(quote, 0.0) + notional
        wallet[fee_asset] = wallet.get(fee_asset, 0.0) - fee
        sign = 1.0 if is_buy else -1.0
        flows = self.flows
        for asset, change in ((base, sign * qty), (quote, -sign * notional), (fee_asset, -fee)):
            by_strategy = flows.get((exchange, asset))
            if by_strategy is None:
                by_strategy = flows[(exchange, asset)] = {}
            by_strategy[strategy] = by_strategy.get(strategy, 0.0) + change
        margin = self.margin
        shorting = margin is not None and strategy in margin.shorting
        if shorting:
            key = (strategy, base)
            before = short_qty(self.positions.get(key), exchange)
        realized = self._drafted(trade)
        if realized is None:
            realized = self._book_positions(trade, self.positions)
        if shorting:
            self._reserved.clear()
            position = self.positions.get(key)
            if position is not None and any(amount < 0 for amount in position.by_exchange.values()):
                self.shorts.add(key)
            else:
                self.shorts.discard(key)
            if self.margin.rate_pct(base) > 0:
                after = short_qty(position, trade.exchange)
                note_short_change(self.accruals, (trade.strategy, base, trade.exchange), before, after, trade.ts)
        stats = self.stats.get(strategy) or self.stats_of(strategy)
        stats.trades += 1
        stats.realized_pnl += realized
        stats.fees_usdt += trade_fee_usdt(trade)
        stats.volume_usdt += notional * trade.quote_usdt_rate
        self.last_seq = trade.seq
        if trade.tick > self.last_tick:
            self.last_tick = trade.tick
        return realized

    def _drafted(self, trade: Trade) -> float | None:
        """trade's realized P&L with its positions installed from realized_for's draft, when the draft is
        of this very trade and every position it was copied from is still the one held; else None."""
        draft, self._draft = self._draft, None
        if draft is None or draft[0] is not trade:
            return None
        _, scratch, sources, realized = draft
        positions = self.positions
        # Positions change only by booking here (apply, which takes the draft first): the same objects
        # are the same books.
        for key, source in sources.items():
            if positions.get(key) is not source:
                return None
        positions.update(scratch)
        return realized

    def _book_positions(self, trade: Trade, book: dict, copy_from: dict | None = None) -> float:
        base, quote = split_symbol(trade.symbol)
        fee_in_quote = trade.fee if trade.fee_asset == quote else 0.0
        strategy = trade.strategy

        def position_for(asset: str) -> Position:
            """The strategy's position in asset in book (a copy of copy_from's, or a new one, the first time)."""
            key = (strategy, asset)
            position = book.get(key)
            if position is None:
                source = copy_from.get(key) if copy_from is not None else None
                position = book[key] = source.copy() if source is not None else Position(strategy, asset)
            return position

        return book_fill(trade.side, base, quote, trade.qty, trade.price, fee_in_quote, trade.quote_usdt_rate,
                         trade.exchange, trade.ts, position_for)

    # ----- reading -----------------------------------------------------------------------
    def balance(self, exchange: str, asset: str) -> float:
        """The wallet's amount of asset on exchange, whoever's holdings it includes."""
        return self.balances.get(exchange, {}).get(asset, 0.0)

    def held(self, strategy: str, asset: str) -> float:
        """strategy's net position in asset over every exchange (negative: a short)."""
        position = self.positions.get((strategy, asset))
        return position.qty if position is not None else 0.0

    def available(self, exchange: str, asset: str, strategy: str) -> float:
        """What strategy may spend of asset on exchange: the wallet less what the other
        strategies' open positions hold there (cash is shared; holdings are not: a position
        holds what it has bought on an exchange, a short's long leg on another included), and for USDT
        less the collateral reserved for every short there (its own included), less what
        resting orders hold there."""
        spendable = self._available(exchange, asset, strategy)
        held = self.order_reserve(exchange, asset) if self.order_reserve is not None else 0.0
        return max(0.0, spendable - held) if held else spendable

    def _available(self, exchange: str, asset: str, strategy: str) -> float:
        if asset == PORTFOLIO_QUOTE and self.margin is not None and self.shorts:
            balance = self.balance(exchange, asset)
            reserved = self.reserved_on(exchange)
            return max(0.0, balance - reserved) if reserved else balance
        held_by_others = 0.0
        for (owner, position_asset), position in self.positions.items():
            if position_asset == asset and owner != strategy and position.qty:
                held_by_others += max(0.0, position.by_exchange.get(exchange, 0.0))
        balance = self.balance(exchange, asset)
        if not held_by_others:
            return balance
        return max(0.0, balance - held_by_others) if balance >= 0 else balance

    def unreserved(self, exchange: str, asset: str) -> float:
        """The part of the wallet no strategy's long position holds (and, for USDT, no short's
        collateral): the house inventory the rebalancer may move."""
        balance = self.balance(exchange, asset)
        if asset == PORTFOLIO_QUOTE:
            reserved = 0.0
            if self.margin is not None:
                reserved = self.reserved_on(exchange)
        else:
            reserved = sum(max(0.0, p.by_exchange.get(exchange, 0.0)) for (_, a), p in self.positions.items()
                           if a == asset and p.qty)
        return max(0.0, balance - reserved)

    def reserved_on(self, exchange: str) -> float:
        """USDT reserved on exchange as the shorts' collateral (cached until a shorting strategy trades)."""
        reserved = self._reserved.get(exchange)
        if reserved is None:
            reserved = self._reserved[exchange] = reserved_collateral(self.positions, self.margin, exchange,
                                                                      self.shorts)
        return reserved

    def collateral_freed(self, exchange: str, asset: str, strategy: str, qty: float) -> float:
        """USDT collateral a buy of qty asset by strategy on exchange frees (it covers its short)."""
        if self.margin is None or strategy not in self.margin.shorting:
            return 0.0
        position = self.positions.get((strategy, asset))
        short = short_qty(position, exchange)
        if not short:
            return 0.0
        part = collateral_of(position, self.margin, exchange) * min(qty, short) / short
        # Never more than the wallet holds beyond the other shorts' collateral (borrow fees may have eaten it).
        others = self.reserved_on(exchange) - part
        return max(0.0, min(part, self.balance(exchange, PORTFOLIO_QUOTE) - others))

    def short_opened(self, exchange: str, asset: str, strategy: str, qty: float) -> float | None:
        """How much of a sell of qty opens or adds to strategy's short on exchange (position-level);
        None when margin is off (the executor then applies its wallet-level rule)."""
        if self.margin is None:
            return None
        position = self.positions.get((strategy, asset))
        held = position.by_exchange.get(exchange, 0.0) if position is not None else 0.0
        return max(0.0, qty - max(0.0, held))

    def open_positions(self, strategy: str | None = None) -> list[Position]:
        """The positions that are not flat, for one strategy or all."""
        return [p for p in self.positions.values() if p.is_open and (strategy is None or p.strategy == strategy)]

    def position_view(self, strategy: str, asset: str) -> PositionView | None:
        """A strategy's open position in asset as a read-only view, or None when flat."""
        position = self.positions.get((strategy, asset))
        if position is None or not position.is_open:
            return None
        return PositionView(asset, position.qty, position.avg_cost, dict(position.by_exchange), position.opened_ts)

    def view_for(self, strategy: str) -> "StrategyPortfolioView":
        """The read-only PortfolioView handed to one strategy."""
        return StrategyPortfolioView(self, strategy)

    # ----- persistence -------------------------------------------------------------------
    def to_state(self, raw_curve: bool = False) -> dict:
        """The accounting part of portfolio_state.json (raw_curve: the equity curve as the deque of
        points itself, for bot/accounting/state_encoding.py, not a copy as lists)."""
        return {
            "starting_balances": self.starting_balances,
            "balances": {ex: dict(sorted(assets.items())) for ex, assets in sorted(self.balances.items())},
            "positions": [p.to_dict() for _, p in sorted(self.positions.items()) if p.is_open],
            "strategies": {name: asdict(stats) for name, stats in sorted(self.stats.items())},
            "in_transit": [t.to_dict() for _, t in sorted(self.in_transit.items())],
            "initial_marks": dict(sorted(self.initial_marks.items())),
            "marks": dict(sorted(self.marks().items())),
            "peak_equity": self.peak_equity,
            "equity_history": self.equity_history if raw_curve else [list(point) for point in self.equity_history],
            "last_seq": self.last_seq,
            "last_tick": self.last_tick,
        }

    def restore_curve(self, state: dict) -> None:
        """Take the non-accounting history (equity curve, peak, first marks) from a saved state."""
        history = state.get("equity_history") or []
        self.equity_history.clear()
        for ts, equity in history[-self.equity_history.maxlen:]:
            self.equity_history.append((float(ts), float(equity)))
        if history:
            self._last_sample_ts = float(history[-1][0])
        self.peak_equity = float(state.get("peak_equity") or 0.0)
        marks = state.get("initial_marks") or {}
        self.initial_marks = {str(k): float(v) for k, v in marks.items()}
        saved_marks = state.get("marks") or {}
        self._marks = {str(k): float(v) for k, v in saved_marks.items()}

    @classmethod
    def from_ledger(cls, starting_balances: dict[str, dict[str, float]], records: Iterable[Trade | LedgerEntry],
                    **kwargs) -> "PortfolioTracker":
        """Rebuild the books by replaying every ledger line over the starting balances."""
        tracker = cls(starting_balances, **kwargs)
        for record in records:
            tracker.apply_record(record)
        return tracker


class StrategyPortfolioView:
    """The read-only PortfolioView handed to one strategy."""

    __slots__ = ("_tracker", "_strategy")

    def __init__(self, tracker: PortfolioTracker, strategy: str):
        self._tracker = tracker
        self._strategy = strategy

    def position(self, asset: str) -> PositionView | None:
        """This strategy's open position in asset, or None when flat."""
        return self._tracker.position_view(self._strategy, asset)

    def positions(self) -> list[PositionView]:
        """This strategy's open positions."""
        # open_positions(strategy) and a position_view of each, in one pass over the books.
        strategy = self._strategy
        return [PositionView(p.asset, p.qty, p.avg_cost, dict(p.by_exchange), p.opened_ts)
                for p in self._tracker.positions.values() if p.strategy == strategy and p.is_open]

    def balance(self, exchange: str, asset: str) -> float:
        """What this strategy may spend of asset on exchange (other strategies' holdings reserved)."""
        return self._tracker.available(exchange, asset, self._strategy)

    def equity(self) -> float:
        """Total portfolio equity in USDT at the current marks."""
        return self._tracker.equity()
