"""The list-based last values (ema_last, rsi_last, log_return_volatility_last, float_sum) equal the
array versions bit for bit: momentum's decisions read them, and a backtest's ledger must not move.

The oracle is numpy itself (np.add.reduce, and ema / rsi / log_return_volatility, which work on
arrays), on windows of every length that matters: below, at and past each period, across numpy's
8-accumulator and 128-block boundaries, flat, rising-only, with nan, inf and non-positive prices.
"""
import math

import numpy as np
import pytest

from bot.strategies.indicators import (crossover_last, ema, ema_last, float_sum, log_return_volatility,
                                       log_return_volatility_last, rsi, rsi_last, volatility_defined)


def _same(a: float | None, b: float | None) -> bool:
    """Identical floats (nan equal to nan, -0.0 apart from 0.0), or both None."""
    if a is None or b is None:
        return a is b
    return repr(float(a)) == repr(float(b))


def _windows(rng, count: int):
    for _ in range(count):
        n = int(rng.integers(0, 70))
        scale = float(np.exp(rng.normal(0.0, 4.0)))
        yield (scale * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))).astype(float)
    yield np.full(50, 7.25)  # flat: no gains, no losses
    yield np.linspace(1.0, 2.0, 50)  # only gains
    yield np.linspace(2.0, 1.0, 50)  # only losses
    prices = np.linspace(1.0, 2.0, 50)
    for bad in (math.nan, math.inf, -math.inf, 0.0, -1.0):
        spoiled = prices.copy()
        spoiled[-5] = bad
        yield spoiled


def test_float_sum_is_numpys_sum_across_its_block_boundaries():
    rng = np.random.default_rng(5)
    for n in list(range(0, 140)) + [255, 256, 257, 300, 1000]:
        values = rng.normal(100.0, 30.0, n) * 10.0 ** rng.integers(-8, 8)
        assert _same(float_sum(values.tolist()), np.add.reduce(values)), n
        if n > 3:
            assert _same(float_sum(values.tolist(), 2, n - 3), np.add.reduce(values[2:n - 1])), n
    for zeros in ([-0.0], [-0.0] * 9, []):  # numpy's sum starts from its identity +0.0: -0.0 sums to 0.0
        assert _same(float_sum(zeros), np.add.reduce(np.array(zeros, dtype=float))), zeros


@pytest.mark.parametrize("period", [1, 2, 5, 8, 9, 13, 26])
def test_ema_last_is_emas_last_two_values(period):
    rng = np.random.default_rng(period)
    for closes in _windows(rng, 300):
        line = ema(closes, period)
        now, previous = ema_last(closes.tolist(), period)
        expected = (line[-1] if line.size else math.nan, line[-2] if line.size > 1 else math.nan)
        assert _same(now, expected[0]) and _same(previous, expected[1]), (period, closes.size)


@pytest.mark.parametrize("fast, slow", [(1, 2), (2, 3), (3, 6), (5, 13), (12, 26), (8, 9), (6, 3), (4, 4)])
def test_crossover_last_is_both_emas_last_two_values(fast, slow):
    rng = np.random.default_rng(50 + 7 * fast + slow)
    for closes in _windows(rng, 300):
        got = crossover_last(closes.tolist(), fast, slow)
        fast_line, slow_line = ema(closes, fast), ema(closes, slow)
        expected = [line[k] if line.size >= -k else math.nan for line in (fast_line, slow_line) for k in (-1, -2)]
        assert len(got) == 4 and all(_same(a, b) for a, b in zip(got, expected)), (fast, slow, closes.size)


@pytest.mark.parametrize("period", [1, 2, 7, 8, 9, 14])
def test_rsi_last_is_rsis_last_value(period):
    rng = np.random.default_rng(100 + period)
    for closes in _windows(rng, 300):
        line = rsi(closes, period)
        assert _same(rsi_last(closes.tolist(), period), line[-1] if line.size else math.nan), (period, closes.size)


@pytest.mark.parametrize("period", [2, 3, 8, 9, 20, 30])
def test_log_return_volatility_last_is_the_array_version(period):
    rng = np.random.default_rng(200 + period)
    for closes in _windows(rng, 300):
        expected = log_return_volatility(closes, period)
        assert _same(log_return_volatility_last(closes, period), expected), (period, closes.size)
        assert _same(log_return_volatility_last(closes, period, closes.tolist()), expected), (period, closes.size)


@pytest.mark.parametrize("period", [2, 9, 30])
def test_volatility_defined_is_whether_the_volatility_is_not_none(period):
    rng = np.random.default_rng(300 + period)
    extremes = [np.array([5e-324, 1.7e308] * 20), np.array([1e-300, 1e300] * 20)]  # tiny and huge: still finite
    oldest_bad = []  # the window's oldest close is the bad one (and the one before it, outside the window)
    for bad in (math.nan, math.inf, 0.0, -1.0):
        for at in (period + 1, period + 2):
            spoiled = np.linspace(1.0, 2.0, 50)
            spoiled[-at] = bad
            oldest_bad.append(spoiled)
    for closes in list(_windows(rng, 300)) + extremes + oldest_bad:
        defined = log_return_volatility(closes, period) is not None
        assert volatility_defined(closes, period) == defined, (period, closes.size)
        assert volatility_defined(closes.tolist(), period) == defined, (period, closes.size)


def test_periods_below_the_minimum_are_refused_as_the_array_versions_do():
    with pytest.raises(ValueError, match="ema period"):
        ema_last([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="ema period"):
        crossover_last([1.0, 2.0], 0, 3)
    with pytest.raises(ValueError, match="rsi period"):
        rsi_last([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="volatility period"):
        log_return_volatility_last(np.array([1.0, 2.0, 3.0]), 1)
    with pytest.raises(ValueError, match="volatility period"):
        volatility_defined(np.array([1.0, 2.0, 3.0]), 1)
