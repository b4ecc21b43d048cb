"""Risk metrics and P&L series: hand-checked numbers and agreement with the portfolio's books."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bot.analytics import (TradeAnalytics, curve_metrics, downsample, histogram, pnl_drawdown_pct,
                           trade_metrics)
from bot.ledger import TradeLedger
from bot.models import Trade, iso_utc
from bot.portfolio import PortfolioTracker

T0 = 1_767_225_600.0


def trade(seq, side, price, qty=1.0, strategy="momentum", fee=0.1, realized=0.0, ts=None):
    return Trade(id=f"T{seq:08d}", seq=seq, ts=iso_utc(ts if ts is not None else T0 + seq * 60), tick=seq,
                 strategy=strategy, signal_id=f"s{seq}", kind="test", exchange="ex", symbol="ETH/USDT", side=side,
                 qty=qty, price=price, fee=fee, fee_asset="USDT", quote_usdt_rate=1.0, realized_pnl=realized,
                 status="filled", reason="")


def round_trips(prices, strategy="momentum", start=1):
    """Buy at a, sell at b for each (a, b), with realized P&L as the portfolio books it."""
    tracker = PortfolioTracker({"ex": {"USDT": 100_000.0}})
    trades = []
    seq = start
    for buy, sell in prices:
        for side, price in (("buy", buy), ("sell", sell)):
            draft = trade(seq, side, price, strategy=strategy)
            realized = tracker.realized_for([draft])[0]
            final = Trade(**{**draft.to_dict(), "realized_pnl": realized})
            tracker.apply(final)
            trades.append(final)
            seq += 1
    return trades, tracker


def test_trade_metrics_by_hand():
    nets = [10.0, -5.0, 20.0, -5.0] * 8  # 32 closing trades in a year
    metrics = trade_metrics(nets, span_seconds=365 * 86400.0)
    assert metrics["win_rate"] == 0.5
    assert metrics["avg_win"] == 15.0 and metrics["avg_loss"] == -5.0
    assert metrics["profit_factor"] == 3.0
    values = np.array(nets)
    per_year = math.sqrt(32)
    assert metrics["sharpe"] == pytest.approx(values.mean() / values.std(ddof=1) * per_year)
    downside = math.sqrt((25 + 25) / 4)
    assert metrics["sortino"] == pytest.approx(values.mean() / downside * per_year)


def test_ratios_wait_for_enough_samples():
    assert trade_metrics([10.0, -5.0] * 14, 86400.0)["sharpe"] is None       # 28 trades
    assert trade_metrics([10.0, -5.0] * 15, 86400.0)["sharpe"] is not None   # 30 trades
    short_curve = [(T0 + i * 60, 100.0 + (i % 3)) for i in range(30)]       # 29 returns
    assert curve_metrics(short_curve)["sharpe"] is None


def test_undefined_metrics_are_none():
    metrics = trade_metrics([], None)
    assert metrics["win_rate"] is None and metrics["profit_factor"] is None and metrics["sharpe"] is None
    assert trade_metrics([5.0, 5.0], 100.0)["sharpe"] is None  # no variance
    assert trade_metrics([5.0, 1.0], 100.0)["profit_factor"] is None  # no losses
    assert curve_metrics([])["max_drawdown_pct"] is None


def test_curve_metrics():
    levels = [100.0, 110.0, 99.0, 120.0, 90.0, 95.0] * 6
    curve = [(T0 + i * 60, eq) for i, eq in enumerate(levels)]
    metrics = curve_metrics(curve)
    assert metrics["max_drawdown_pct"] == pytest.approx(25.0)
    returns = np.diff(levels) / np.array(levels[:-1])
    per_year = 365 * 86400 / 60
    assert metrics["sharpe"] == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(per_year))


def test_drawdown_of_a_pnl_series():
    assert pnl_drawdown_pct([10.0, -10.0, 5.0], 100.0) == pytest.approx(20 / 110 * 100)
    assert pnl_drawdown_pct([], 100.0) == 0.0


def test_histogram_and_downsample():
    result = histogram([1.0, -1.0, 3.0], bins=4)
    assert result["wins"] == 2 and result["losses"] == 1
    assert len(result["bins"]) == 5 and sum(result["counts"]) == 3
    assert histogram([2.0], bins=3)["counts"] == [0, 1, 0]
    points = list(range(10_001))
    sampled = downsample(points, 2000)
    assert len(sampled) == 2000 and sampled[0] == 0 and sampled[-1] == 10_000


def test_series_agree_with_the_portfolio(tmp_path):
    trades, tracker = round_trips([(100, 110), (100, 95), (100, 120)])
    analytics = TradeAnalytics()
    for t in trades:
        analytics.add(t)
    stats = tracker.stats["momentum"]
    metrics = analytics.strategy_metrics("momentum", initial_equity=100_000.0)
    assert metrics["trades"] == stats.trades == 6
    assert metrics["win_rate"] == pytest.approx(stats.wins / (stats.wins + stats.losses))
    assert metrics["profit_factor"] == pytest.approx(stats.gross_profit / stats.gross_loss)
    assert metrics["net_pnl"] == pytest.approx(stats.realized_pnl - stats.fees_usdt)
    cumulative = analytics.cumulative()["momentum"]
    assert len(cumulative) == 6 and cumulative[-1][1] == pytest.approx(stats.realized_pnl - stats.fees_usdt)
    distribution = analytics.distribution()["momentum"]
    assert (distribution["wins"], distribution["losses"]) == (stats.wins, stats.losses)


def test_sync_reads_the_file_then_memory(tmp_path):
    import threading

    trades, _ = round_trips([(100, 101)] * 30)
    ledger = TradeLedger(tmp_path, fsync=False, recent_size=5)
    ledger.append(trades[:50])
    analytics = TradeAnalytics()
    calls = []
    analytics.sync(ledger, threading.RLock(), cooperate=lambda: calls.append(1))
    assert analytics.seen == 50 and analytics.series["momentum"].trades == 50  # streamed: 50 > 5 in memory
    ledger.append(trades[50:53])
    analytics.sync(ledger, threading.RLock())
    assert analytics.seen == 53 and analytics.series["momentum"].trades == 53
    ledger.append(trades[53:])
    analytics.sync(ledger, threading.RLock())
    assert analytics.series["momentum"].trades == 60
    assert len(analytics.series["momentum"].closing_net) == 30
    ledger.close()
