"""P&L series and risk metrics, from the ledger and the equity curve.

TradeAnalytics keeps, per strategy, the compact series the charts and metrics need (net P&L
of each closing trade, cumulative net P&L after each trade) and brings them up to date from
the ledger incrementally: new trades come from the ledger's memory, and the file is streamed
only on the first call (or when more trades arrived than the ledger keeps in memory).

Definitions (the same as PortfolioTracker's, so wins and losses agree with the books):
- a closing trade is one that booked realized P&L (realized_pnl != 0);
- its net P&L is realized_pnl minus that trade's own fee in USDT;
- cumulative net P&L is realized P&L minus every fee, trade after trade; the facade ends each
  series with a point at the current market time that adds the open positions' unrealized
  P&L, so the line ends at the strategy's net P&L as the tables show it.
Sharpe and Sortino need at least MIN_RATIO_SAMPLES returns; before that they are None.
Annualisation (crypto trades every day): the portfolio's Sharpe and Sortino come from the
returns between consecutive equity-curve samples, scaled by sqrt(samples per year) with the
median sample interval; a strategy's come from its closing trades' net P&L, scaled by
sqrt(closing trades per year) over the span between its first and last trade (market clock).
"""
from __future__ import annotations

import math
import threading
from array import array
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from bot.models import Trade, iso_utc, parse_iso, split_symbol

SECONDS_PER_YEAR = 365.0 * 86400.0
# Fewer returns than this make an annualised ratio noise (a Sharpe of 30 from ten minutes of
# data): below it Sharpe and Sortino are reported as undefined.
MIN_RATIO_SAMPLES = 30
COOPERATE_EVERY = 2000


def trade_fee_usdt(trade: Trade) -> float:
    """The trade's fee in USDT, valued as PortfolioTracker.apply values it."""
    _, quote = split_symbol(trade.symbol)
    return trade.fee * (trade.quote_usdt_rate if trade.fee_asset == quote else 1.0)


@dataclass(slots=True)
class StrategySeries:
    """One strategy's trade-by-trade P&L, kept as compact arrays of floats."""

    trades: int = 0
    realized_pnl: float = 0.0
    fees_usdt: float = 0.0
    first_ts: float | None = None
    last_ts: float | None = None
    closing_net: array = field(default_factory=lambda: array("d"))
    cumulative_ts: array = field(default_factory=lambda: array("d"))
    cumulative_net: array = field(default_factory=lambda: array("d"))

    def add(self, trade: Trade) -> None:
        """Take in one trade: counts, realized P&L, fees and the cumulative net series."""
        ts = parse_iso(trade.ts)
        fee = trade_fee_usdt(trade)
        self.trades += 1
        self.realized_pnl += trade.realized_pnl
        self.fees_usdt += fee
        if self.first_ts is None:
            self.first_ts = ts
        self.last_ts = ts
        if trade.realized_pnl:
            self.closing_net.append(trade.realized_pnl - fee)
        self.cumulative_ts.append(ts)
        self.cumulative_net.append(self.realized_pnl - self.fees_usdt)


class TradeAnalytics:
    """Per-strategy P&L series, synchronised with a TradeLedger on demand."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seen = 0
        self.series: dict[str, StrategySeries] = {}

    def add(self, trade: Trade) -> None:
        """Take in one trade (in ledger order) for its strategy's series."""
        self.series.setdefault(trade.strategy, StrategySeries()).add(trade)
        self.seen = trade.seq

    def sync(self, ledger, engine_lock, cooperate: Callable[[], None] | None = None) -> None:
        """Take in every trade the ledger has that this has not seen yet.

        The newest trades come from the ledger's memory under the engine lock; a larger gap
        is read from the file outside the lock, calling cooperate() now and then so a
        green-threaded server keeps serving.
        """
        with self._lock:
            with engine_lock:
                count = ledger.count
                missing = count - self.seen
                fresh = ledger.recent(missing) if missing > 0 else []
            if missing <= 0:
                return
            if len(fresh) == missing:
                for trade in reversed(fresh):
                    self.add(trade)
                return
            for number, trade in enumerate(ledger.iter_all(), start=1):
                if trade.seq > count:
                    break
                if trade.seq > self.seen:
                    self.add(trade)
                if cooperate is not None and number % COOPERATE_EVERY == 0:
                    cooperate()

    # ----- answers ------------------------------------------------------------------------
    def strategy_metrics(self, name: str, initial_equity: float, net_pnl: float | None = None) -> dict:
        """One strategy's trade metrics and drawdown; net_pnl overrides realized less fees."""
        series = self.series.get(name) or StrategySeries()
        metrics = trade_metrics(series.closing_net, _span(series.first_ts, series.last_ts))
        metrics["max_drawdown_pct"] = pnl_drawdown_pct(series.cumulative_net, initial_equity)
        metrics["trades"] = series.trades
        metrics["net_pnl"] = net_pnl if net_pnl is not None else series.realized_pnl - series.fees_usdt
        return metrics

    def overall_metrics(self, equity_curve: Sequence[tuple[float, float]], net_pnl: float) -> dict:
        """Trade metrics over every strategy plus the equity curve's risk metrics."""
        closing = np.concatenate([_as_array(s.closing_net) for s in self.series.values()] or [np.empty(0)])
        metrics = trade_metrics(closing, None)
        metrics.update(curve_metrics(equity_curve))
        metrics["trades"] = sum(s.trades for s in self.series.values())
        metrics["net_pnl"] = net_pnl
        return metrics

    def distribution(self, bins: int = 20) -> dict:
        """Per strategy: wins, losses and a histogram of closing trades' net P&L."""
        result = {}
        for name, series in sorted(self.series.items()):
            result[name] = histogram(series.closing_net, bins)
        return result

    def cumulative(self, max_points: int = 2000) -> dict[str, list]:
        """Per strategy: [[iso_ts, cumulative net P&L], ...], at most max_points each."""
        result = {}
        for name, series in sorted(self.series.items()):
            indices = sample_indices(len(series.cumulative_ts), max_points)
            result[name] = [[iso_utc(series.cumulative_ts[i]), series.cumulative_net[i]] for i in indices]
        return result


def _span(first: float | None, last: float | None) -> float | None:
    if first is None or last is None or last <= first:
        return None
    return last - first


def trade_metrics(nets: Iterable[float], span_seconds: float | None) -> dict:
    """Win rate, averages, profit factor and (with a span) annualised per-trade Sharpe/Sortino."""
    values = _as_array(nets)
    wins = values[values > 0]
    losses = values[values <= 0]
    gross_profit = float(wins.sum())
    gross_loss = float(-losses.sum())
    metrics = {
        "sharpe": None, "sortino": None,
        "win_rate": len(wins) / len(values) if len(values) else None,
        "avg_win": float(wins.mean()) if len(wins) else None,
        "avg_loss": float(losses.mean()) if len(losses) else None,
        "profit_factor": gross_profit / gross_loss if gross_loss > 0 else None,
        "closing_trades": int(len(values)),
    }
    if span_seconds and len(values) >= MIN_RATIO_SAMPLES:
        per_year = len(values) / (span_seconds / SECONDS_PER_YEAR)
        metrics["sharpe"], metrics["sortino"] = _ratios(values, per_year)
    return metrics


def curve_metrics(equity_curve: Sequence[tuple[float, float]]) -> dict:
    """Sharpe, Sortino (annualised by the sampling rate) and max drawdown of an equity curve."""
    points = [(float(ts), float(eq)) for ts, eq in equity_curve]
    result = {"sharpe": None, "sortino": None, "max_drawdown_pct": _max_drawdown_pct([eq for _, eq in points])}
    if len(points) < 3:
        return result
    equity = np.array([eq for _, eq in points])
    times = np.array([ts for ts, _ in points])
    valid = equity[:-1] > 0
    returns = (equity[1:][valid] / equity[:-1][valid]) - 1.0
    interval = float(np.median(np.diff(times)))
    if interval > 0 and len(returns) >= MIN_RATIO_SAMPLES:
        result["sharpe"], result["sortino"] = _ratios(returns, SECONDS_PER_YEAR / interval)
    return result


def _ratios(values: np.ndarray, periods_per_year: float) -> tuple[float | None, float | None]:
    scale = math.sqrt(periods_per_year)
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    sharpe = mean / std * scale if std > 0 else None
    downside = math.sqrt(float(np.mean(np.minimum(values, 0.0) ** 2)))
    sortino = mean / downside * scale if downside > 0 else None
    return sharpe, sortino


def _max_drawdown_pct(equity: Sequence[float]) -> float | None:
    if not equity:
        return None
    peak = -math.inf
    worst = 0.0
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak * 100.0)
    return worst


def pnl_drawdown_pct(cumulative: Sequence[float], capital: float) -> float | None:
    """Largest peak-to-trough fall of capital + cumulative P&L, in % of the peak."""
    if capital <= 0:
        return None
    values = _as_array(cumulative)
    if len(values) == 0:
        return 0.0
    curve = np.concatenate(([capital], capital + values))
    peaks = np.maximum.accumulate(curve)
    return float(np.max((peaks - curve) / peaks) * 100.0)


def histogram(nets: Sequence[float], bins: int = 20) -> dict:
    """Wins, losses and a bins-wide histogram of net P&L values (bin edges and counts)."""
    values = _as_array(nets)
    wins = int((values > 0).sum())
    if len(values) == 0:
        return {"wins": 0, "losses": 0, "bins": [], "counts": []}
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return {"wins": wins, "losses": int(len(values) - wins), "bins": [float(e) for e in edges],
            "counts": [int(c) for c in counts]}


def sample_indices(n: int, max_points: int) -> list[int]:
    """At most max_points indices into n items, evenly spread, keeping the first and the last."""
    if n <= max_points:
        return list(range(n))
    if max_points < 2:
        return [n - 1]
    step = (n - 1) / (max_points - 1)
    return [round(i * step) for i in range(max_points)]


def downsample(points: Sequence, max_points: int) -> list:
    """At most max_points of points, evenly spread, always keeping the first and the last."""
    return [points[i] for i in sample_indices(len(points), max_points)]


def _as_array(values) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(float, copy=False)
    if isinstance(values, array):
        return np.frombuffer(values, dtype=float) if len(values) else np.empty(0)
    return np.asarray(list(values), dtype=float)
