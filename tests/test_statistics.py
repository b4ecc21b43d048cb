"""bot/accounting/statistics.py: trade figures by hand, risk figures against empyrical-reloaded computed here
on a pandas resample of the same samples, the extremes kept by the chart view."""
from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.accounting.roundtrips import RoundTrip
from bot.accounting.statistics import (MIN_PERIODS, bucket_returns, choose_period, downsample_extremes,
                                       drawdown_duration_periods, drawdown_pct_series, fees_by_kind, histogram,
                                       per_symbol, risk_metrics, trade_stats)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, on an hour boundary


def trip(net: float, strategy="momentum", symbol="ETH/USDT", opened=0.0, closed=60.0) -> RoundTrip:
    """A closed round trip whose net P&L is net (booked P&L net, no fees)."""
    from bot.accounting.roundtrips import TripLeg

    result = RoundTrip(id=f"R{net}", strategy=strategy, kind="test", opened_ts=T0 + opened, status="closed",
                       closed_ts=T0 + closed, realized_pnl=net)
    result.legs[symbol] = TripLeg(symbol, "buy", entry_qty=1.0, entry_quote=100.0, entry_usdt=100.0)
    return result


def test_trade_figures_by_hand():
    trips = [trip(10.0), trip(-5.0, closed=120.0), trip(20.0, symbol="BTC/USDT"), trip(-5.0), trip(0.0)]
    stats = trade_stats(trips)
    assert stats["round_trips"] == 5 and stats["wins"] == 2 and stats["losses"] == 3
    assert stats["win_rate"] == pytest.approx(0.4)
    assert stats["profit_factor"] == pytest.approx(30.0 / 10.0)
    assert stats["avg_win"] == pytest.approx(15.0) and stats["avg_loss"] == pytest.approx(-10.0 / 3)
    assert stats["expectancy"] == pytest.approx(20.0 / 5)
    assert (stats["best"], stats["worst"]) == (20.0, -5.0)
    assert stats["avg_duration_seconds"] == pytest.approx((60 * 4 + 120) / 5)
    assert stats["avg_return_pct"] == pytest.approx(4.0)  # each on a 100 USDT entry
    symbols = per_symbol(trips)
    assert symbols["BTC/USDT"]["round_trips"] == 1 and symbols["ETH/USDT"]["wins"] == 1


def test_no_round_trip_and_no_loss():
    empty = trade_stats([])
    assert empty["win_rate"] is None and empty["profit_factor"] is None and empty["expectancy"] is None
    assert trade_stats([trip(1.0), trip(2.0)])["profit_factor"] is None  # nothing to divide by
    assert histogram([]) == {"wins": 0, "losses": 0, "bins": [], "counts": []}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=40))
@example([1.0, -1.0, -2.731523603217643e-240])  # a loss below float resolution: the factor is exactly 1
def test_a_strategy_that_lost_money_never_shows_a_profit_factor_above_one(nets):
    stats = trade_stats([trip(net) for net in nets])
    if sum(nets) < 0:  # wins / losses can round to exactly 1 for a loss far below float resolution
        assert stats["profit_factor"] is None or stats["profit_factor"] <= 1
    if sum(nets) < -1e-9 * sum(abs(net) for net in nets):
        assert stats["profit_factor"] is None or stats["profit_factor"] < 1
    if stats["profit_factor"] is not None and stats["profit_factor"] > 1:
        assert sum(nets) > 0


def oracle_risk(times, values, period="1h", annualization=24 * 365):
    """empyrical on a pandas resample: the last value per period, the first sample before them."""
    series = pd.Series(values, index=pd.to_datetime(np.asarray(times), unit="s", utc=True))
    levels = series.resample(period).last().ffill()
    levels = pd.concat([series.iloc[:1], levels])
    returns = levels.pct_change().dropna().to_numpy()
    return returns, {
        "sharpe": empyrical.sharpe_ratio(returns, annualization=annualization),
        "sortino": empyrical.sortino_ratio(returns, annualization=annualization),
        "calmar": empyrical.calmar_ratio(returns, annualization=annualization),
        "volatility_pct": empyrical.annual_volatility(returns, annualization=annualization) * 100,
        "max_drawdown_pct": -empyrical.max_drawdown(returns) * 100,
    }


def random_walk(samples: int, seed: int, step_seconds=60.0, gaps=False):
    rng = np.random.default_rng(seed)
    times = T0 + 17.0 + np.arange(samples) * step_seconds
    if gaps:  # a stretch with no samples (a stopped bot): the level carries over
        times[samples // 2:] += 5 * 3600.0
    values = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, samples)))
    return times, values


@pytest.mark.parametrize("gaps", [False, True])
def test_risk_figures_equal_empyrical_on_the_resampled_series(gaps):
    times, values = random_walk(3000, seed=3, gaps=gaps)
    figures = risk_metrics(times, values, 3600.0)
    returns, expected = oracle_risk(times, values)
    assert figures["periods"] == len(returns) >= MIN_PERIODS and figures["period"] == "1h"
    for key, value in expected.items():
        assert figures[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert figures["needs_periods"] == 0


def test_a_short_series_shows_no_ratio_but_how_many_periods_it_needs():
    times, values = random_walk(600, seed=4)  # 10 hours of minute samples: 10 or 11 hourly periods
    figures = risk_metrics(times, values, 3600.0)
    returns, _ = oracle_risk(times, values)
    assert figures["periods"] == len(returns) < MIN_PERIODS
    assert figures["sharpe"] is None and figures["sortino"] is None and figures["calmar"] is None
    assert figures["needs_periods"] == MIN_PERIODS - len(returns)
    assert figures["max_drawdown_pct"] is not None  # an observed fact, shown from the first period
    fifteen = risk_metrics(times, values, 900.0)
    assert fifteen["period"] == "15m" and fifteen["sharpe"] is not None
    _, expected = oracle_risk(times, values, "15min", annualization=4 * 24 * 365)
    assert fifteen["sharpe"] == pytest.approx(expected["sharpe"], rel=1e-9)


def test_drawdown_duration_by_hand():
    assert drawdown_duration_periods(np.array([100, 110, 105, 100, 108, 111, 90, 95])) == 3
    figures = risk_metrics(T0 + np.arange(5) * 3600.0, [100.0, 110.0, 99.0, 104.5, 120.0], 3600.0)
    assert figures["max_drawdown_pct"] == pytest.approx(10.0)
    assert figures["max_drawdown_duration_seconds"] == 2 * 3600.0


def test_the_chart_view_keeps_every_extreme():
    times, values = random_walk(10_000, seed=5)
    values[1234], values[8765] = 1.0, 1e9  # a crash and a spike between evenly spaced picks
    kept = downsample_extremes(times, values, 500)
    assert len(kept) <= 500 and kept == sorted(kept)
    assert {0, 1234, 8765, 9999} <= set(kept)
    assert downsample_extremes(times[:10], values[:10], 500) == list(range(10))


def test_the_period_setting_and_how_auto_chooses():
    day = 86400.0
    assert choose_period("hourly", 90 * day) == 3600.0 and choose_period("daily", 3600.0) == day
    assert choose_period("auto", 36 * 3600.0) == 3600.0  # a simulated day and a half: hourly
    assert choose_period("auto", 30 * day - 1) == 3600.0
    assert choose_period("auto", 30 * day) == day  # from the span where daily returns give the 30 periods
    assert choose_period(600.0, day) == 600.0


def test_risk_figures_state_their_sample_and_span():
    times, values = random_walk(600, seed=8)
    figures = risk_metrics(times, values, 3600.0)
    assert figures["samples"] == 600 and figures["span_seconds"] == pytest.approx(599 * 60.0)
    assert figures["start"] == "2026-01-01T00:00:17.000Z" and figures["end"] == "2026-01-01T09:59:17.000Z"
    assert risk_metrics([], [], 3600.0)["samples"] == 0 and risk_metrics([], [], 3600.0)["start"] is None


@pytest.mark.parametrize("gaps", [False, True])
def test_daily_buckets_are_pandas_daily_returns_with_their_dates(gaps):
    times, values = random_walk(3 * 1440 + 100, seed=9, gaps=gaps)  # three days and a bit, from 00:00:17
    buckets = bucket_returns(times, values, 86400.0)
    returns, _ = oracle_risk(times, values, "1D", annualization=365)
    series = pd.Series(values, index=pd.to_datetime(times, unit="s", utc=True)).resample("1D").last()
    assert [start for start, _ in buckets] == [ts.timestamp() for ts in series.index]
    assert [r for _, r in buckets] == pytest.approx(list(returns), rel=1e-12)
    assert risk_metrics(times, values, 86400.0)["periods"] == len(buckets) == 4


def test_drawdown_series_by_hand():
    falls = drawdown_pct_series([100.0, 110.0, 99.0, 104.5, 120.0, 90.0])
    assert list(falls) == pytest.approx([0.0, 0.0, 10.0, 5.0, 0.0, 25.0])
    assert len(drawdown_pct_series([])) == 0


def test_fees_by_kind_add_up_per_strategy_and_in_total():
    one, two, three = trip(1.0), trip(2.0, strategy="news"), trip(3.0)
    one.entry_fees_usdt, one.exit_fees_usdt = 0.5, 0.25
    two.entry_fees_usdt = 1.0
    three.exit_fees_usdt = 2.0
    fees = fees_by_kind([one, two, three])
    assert fees["momentum"] == {"entry_fees_usdt": 0.5, "exit_fees_usdt": 2.25, "fees_usdt": 2.75}
    assert fees["news"] == {"entry_fees_usdt": 1.0, "exit_fees_usdt": 0.0, "fees_usdt": 1.0}
    assert fees["total"] == {"entry_fees_usdt": 1.5, "exit_fees_usdt": 2.25, "fees_usdt": 3.75}
    assert list(fees) == ["momentum", "news", "total"]
