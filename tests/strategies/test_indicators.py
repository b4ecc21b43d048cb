"""Indicators against values computed here with plain-Python loops."""
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.strategies.indicators import ema, log_return_volatility, rsi

PRICES = [10.0, 11.0, 10.5, 12.0, 11.5, 13.0, 12.5, 12.0, 14.0, 13.5]


def plain_ema(values, period):
    alpha = 2 / (period + 1)
    out = [math.nan] * len(values)
    if len(values) < period:
        return out
    value = sum(values[:period]) / period
    out[period - 1] = value
    for i in range(period, len(values)):
        value = alpha * values[i] + (1 - alpha) * value
        out[i] = value
    return out


def plain_rsi(values, period):
    out = [math.nan] * len(values)
    changes = [b - a for a, b in zip(values, values[1:])]
    gain = sum(max(c, 0) for c in changes[:period]) / period
    loss = sum(max(-c, 0) for c in changes[:period]) / period
    out[period] = 100 - 100 / (1 + gain / loss) if loss else 100.0
    for i in range(period, len(changes)):
        gain = (gain * (period - 1) + max(changes[i], 0)) / period
        loss = (loss * (period - 1) + max(-changes[i], 0)) / period
        out[i + 1] = 100 - 100 / (1 + gain / loss) if loss else 100.0
    return out


def test_ema_matches_plain_loop_seeded_with_sma():
    np.testing.assert_allclose(ema(PRICES, 3), plain_ema(PRICES, 3), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ema(PRICES, 4), plain_ema(PRICES, 4), rtol=1e-12, equal_nan=True)


def test_ema_hand_values():
    # period 2: alpha 2/3, seed mean(1, 2) = 1.5; 3 -> 2.5; 4 -> 3.5
    np.testing.assert_allclose(ema([1.0, 2.0, 3.0, 4.0], 2), [np.nan, 1.5, 2.5, 3.5], equal_nan=True)


def test_ema_too_short_is_all_nan_and_same_length():
    result = ema([1.0, 2.0], 3)
    assert result.shape == (2,)
    assert np.isnan(result).all()
    assert ema([], 3).shape == (0,)


def test_ema_of_constant_is_constant_and_period_one_is_identity():
    assert np.allclose(ema([5.0] * 8, 3)[2:], 5.0)
    np.testing.assert_allclose(ema(PRICES, 1), PRICES)


def test_bad_periods_are_programming_errors():
    with pytest.raises(ValueError):
        ema(PRICES, 0)
    with pytest.raises(ValueError):
        rsi(PRICES, 0)
    with pytest.raises(ValueError):
        log_return_volatility(PRICES, 1)


def test_rsi_matches_wilder_plain_loop():
    np.testing.assert_allclose(rsi(PRICES, 3), plain_rsi(PRICES, 3), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(rsi(PRICES, 5), plain_rsi(PRICES, 5), rtol=1e-12, equal_nan=True)


def test_rsi_hand_values():
    # changes 1, 1, -1, -1 with period 2: averages (1, 0) -> 100; (0.5, 0.5) -> 50; (0.25, 0.75) -> 25
    np.testing.assert_allclose(rsi([1.0, 2.0, 3.0, 2.0, 1.0], 2), [np.nan, np.nan, 100.0, 50.0, 25.0], equal_nan=True)


def test_rsi_rising_falling_and_flat_series():
    assert np.allclose(rsi(np.arange(1.0, 20.0), 14)[14:], 100.0)
    assert np.allclose(rsi(np.arange(20.0, 1.0, -1.0), 14)[14:], 0.0)
    assert np.allclose(rsi([3.0] * 10, 4)[4:], 50.0)


def test_rsi_too_short_is_all_nan():
    result = rsi([1.0, 2.0, 3.0], 3)
    assert result.shape == (3,)
    assert np.isnan(result).all()


def test_volatility_is_sample_std_of_last_period_log_returns():
    returns = [math.log(b / a) for a, b in zip(PRICES, PRICES[1:])]
    assert log_return_volatility(PRICES, 4) == pytest.approx(statistics.stdev(returns[-4:]), rel=1e-12)
    assert log_return_volatility(PRICES, 9) == pytest.approx(statistics.stdev(returns), rel=1e-12)


def test_volatility_ignores_older_prices():
    changed = [999.0, 1.0] + PRICES[2:]
    assert log_return_volatility(changed, 5) == log_return_volatility(PRICES, 5)


def test_volatility_too_short_or_bad_prices_is_none():
    assert log_return_volatility(PRICES[:4], 4) is None
    assert log_return_volatility([], 4) is None
    assert log_return_volatility([1.0, 2.0, 0.0, 3.0, 4.0], 4) is None
    assert log_return_volatility([1.0, 2.0, math.nan, 3.0, 4.0], 4) is None


def test_volatility_of_constant_prices_is_zero():
    assert log_return_volatility([7.0] * 6, 5) == 0.0


prices = st.lists(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prices, st.integers(min_value=1, max_value=20))
def test_ema_stays_within_the_range_of_its_inputs(values, period):
    result = ema(values, period)
    defined = result[~np.isnan(result)]
    assert np.all(defined >= min(values) * (1 - 1e-9)) and np.all(defined <= max(values) * (1 + 1e-9))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prices, st.integers(min_value=1, max_value=20))
def test_rsi_stays_within_0_and_100(values, period):
    result = rsi(values, period)
    defined = result[~np.isnan(result)]
    assert np.all((defined >= 0.0) & (defined <= 100.0))
    assert np.isnan(result[: min(period, len(values))]).all()


def test_window_emas_at_gives_window_ema_at_for_each_period():
    from bot.strategies.indicators import window_ema_at, window_emas_at

    rng = np.random.default_rng(3)
    closes = 100 + np.cumsum(rng.normal(size=3000))
    for trial in range(60):  # ends all past the window (the shared path) and some before it (the general one)
        ends = np.sort(rng.integers(0 if trial % 3 == 0 else 60, 3000, size=int(rng.integers(0, 30))))
        periods = (5, 43) if trial % 5 == 0 else (5, 13)  # 43: no smoothing left, the general path
        for (value, previous), period in zip(window_emas_at(closes, ends, periods, 43), periods):
            expected_value, expected_previous = window_ema_at(closes, ends, period, 43)
            assert np.array_equal(value, expected_value, equal_nan=True)
            assert np.array_equal(previous, expected_previous, equal_nan=True)
