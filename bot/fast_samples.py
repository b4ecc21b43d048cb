"""The equity samples of a fast-forwarded stretch, as arrays (bot/fast_forward.py).

Over a stretch nothing trades, so the books are constant and each sample is a function of the
marks alone. The tracker's own sums (PortfolioTracker.marks, equity, holdings_pnl,
unrealized_pnl, StrategyStats.net_pnl) are repeated here element-wise, term by term in the
same order, so each value is the same float the tracker would compute (IEEE arithmetic is the
same on a numpy element as on a Python float). Used only when every market has a bar at every
sample and no coins are in transit; otherwise the stretch samples through the tracker itself.
The kill switch is not decided here: the stretch ends before the first sample whose drawdown
comes within a margin of the limit, and that tick is stepped.
"""
from __future__ import annotations

import numpy as np

from bot.accounting.equity_log import EQUITY_SCHEMA_VERSION
from bot.models import PORTFOLIO_QUOTE, iso_utc, split_symbol

KILL_MARGIN = 1e-9  # relative: a drawdown this close to the limit is stepped, not skipped


class SampleBlock:
    """Equity, holdings P&L and each strategy's net P&L at a stretch's sample ticks."""

    def __init__(self, portfolio, lookahead, samples: list[int]):
        self.samples = samples
        index = np.asarray(samples, dtype=np.int64)
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for (_, symbol), ahead in lookahead.markets.items():  # the order of the snapshot's quotes
            base, quote = split_symbol(symbol)
            if quote == PORTFOLIO_QUOTE:
                mid = (ahead.bid[index] + ahead.ask[index]) * 0.5
                sums[base] = sums[base] + mid if base in sums else 0.0 + mid
                counts[base] = counts.get(base, 0) + 1
        marks: dict = dict(portfolio._marks)
        marks[PORTFOLIO_QUOTE] = 1.0
        for asset, total in sums.items():
            marks[asset] = total / counts[asset]
        self.marks = marks
        equity = np.zeros(index.shape[0])
        for assets in portfolio.balances.values():
            for asset, amount in assets.items():
                if amount:
                    equity = equity + amount * marks.get(asset, 0.0)
        holdings = np.zeros(index.shape[0])
        for assets in portfolio.starting_balances.values():
            for asset, amount in assets.items():
                mark = marks.get(asset, 0.0)
                holdings = holdings + amount * (mark - portfolio.initial_marks.get(asset, mark))
        for asset, coins in portfolio.fee_coins.items():
            holdings = holdings + (portfolio.fee_coins_usdt.get(asset, 0.0) - coins * marks.get(asset, 0.0))
        self.equity, self.holdings = equity, holdings
        self.strategies = {}
        for name, stats in sorted(portfolio.stats.items()):
            unrealized = 0
            for p in portfolio.positions.values():
                if p.qty and p.strategy == name:
                    unrealized = unrealized + (p.qty * marks.get(p.asset, 0.0) - p.cost)
            self.strategies[name] = stats.net_pnl(unrealized) + np.zeros(index.shape[0])

    @staticmethod
    def usable(portfolio, lookahead, samples: list[int]) -> bool:
        """True when the arrays give the tracker's values: every market quoted at every sample, nothing in transit."""
        if portfolio.in_transit or not samples:
            return False
        index = np.asarray(samples, dtype=np.int64)
        return all(bool(np.isfinite(ahead.bid[index]).all()) for ahead in lookahead.markets.values())

    def first_near_kill(self, portfolio, drawdown, limit_pct: float) -> int:
        """Index of the first sample whose drawdown (on the meter's basis, peaks raised as the engine
        raises them) comes within KILL_MARGIN of the limit; len(samples) when none."""
        trading = self.equity - self.holdings
        if drawdown.basis == "equity":
            values, start = self.equity, portfolio.peak_equity
        else:
            values, start = trading, drawdown.trading_peak
        peaks = np.maximum.accumulate(np.maximum(values, start))
        with np.errstate(invalid="ignore", divide="ignore"):
            fall = np.where(peaks > 0, (peaks - values) / peaks * 100.0, 0.0)
        near = np.flatnonzero(~(fall <= limit_pct * (1.0 - KILL_MARGIN)))
        return int(near[0]) if near.size else len(self.samples)

    def records(self, ts: list[float], count: int) -> list[dict]:
        """The equity.jsonl records of the first `count` samples (equity_log.equity_record's layout)."""
        equity, holdings = self.equity[:count].tolist(), self.holdings[:count].tolist()
        trading = (self.equity[:count] - self.holdings[:count]).tolist()
        names = list(self.strategies)
        columns = [self.strategies[name][:count].tolist() for name in names]
        out = []
        for k in range(count):
            out.append({"schema_version": EQUITY_SCHEMA_VERSION, "ts": iso_utc(ts[self.samples[k]]),
                        "equity": equity[k], "trading_equity": trading[k], "holdings_pnl": holdings[k],
                        "strategies": {name: column[k] for name, column in zip(names, columns)}})
        return out

    def apply(self, portfolio, drawdown, ts: list[float], start_tick: int, count: int) -> None:
        """The tracker's and the meter's state after the first `count` samples: curve, peaks, marks."""
        if count == 0:
            return
        equity = self.equity[:count]
        portfolio.equity_history.extend(zip((ts[j] for j in self.samples[:count]), equity.tolist()))
        last = self.samples[count - 1]
        portfolio._last_sample_ts = ts[last]
        portfolio.peak_equity = max(portfolio.peak_equity, float(equity.max()))
        drawdown.trading_peak = max(drawdown.trading_peak, float((equity - self.holdings[:count]).max()))
        portfolio._marks = {asset: (float(value[count - 1]) if isinstance(value, np.ndarray) else value)
                            for asset, value in self.marks.items()}
        portfolio._marks_tick = start_tick + last
