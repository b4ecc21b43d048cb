"""Engle-Granger and spread z-scores on synthetic series with fixed seeds."""
import math
import statistics

import numpy as np
import pytest
from statsmodels.tsa.stattools import coint

from bot.strategies.cointegration import (
    EngleGrangerResult, engle_granger, hedge_ratio, spread_series, spread_stats, spread_zscore,
)

N = 240


def cointegrated_pair(seed=11, n=N, a=0.4, b=1.3, phi=0.6, noise_sd=0.002):
    """x a random walk, y = a + b*x + AR(1) noise, all in logs; returned as prices."""
    rng = np.random.default_rng(seed)
    log_x = math.log(20.0) + np.cumsum(rng.normal(0.0, 0.002, n))
    noise = np.zeros(n)
    shocks = rng.normal(0.0, noise_sd, n)
    for i in range(1, n):
        noise[i] = phi * noise[i - 1] + shocks[i]
    log_y = a + b * log_x + noise
    return np.exp(log_y), np.exp(log_x)


def independent_walks(seed=1, n=N):
    # Seed 1 is one where the test (rightly) finds no cointegration: p is about 0.97.
    rng = np.random.default_rng(seed)
    y = np.exp(math.log(50.0) + np.cumsum(rng.normal(0.0, 0.002, n)))
    x = np.exp(math.log(20.0) + np.cumsum(rng.normal(0.0, 0.002, n)))
    return y, x


def test_cointegrated_pair_is_detected_with_its_hedge_ratio():
    y, x = cointegrated_pair()
    result = engle_granger(y, x)
    assert isinstance(result, EngleGrangerResult)
    assert result.p_value < 0.05
    assert result.beta == pytest.approx(1.3, abs=0.05)
    assert result.alpha == pytest.approx(0.4, abs=0.05 * math.log(20.0) + 0.01)
    assert result.observations == N
    assert result.t_stat < 0


def test_independent_random_walks_are_not_cointegrated():
    y, x = independent_walks()
    assert engle_granger(y, x).p_value > 0.05


def test_p_value_is_statsmodels_coint_on_log_prices_and_beta_is_ols():
    y, x = cointegrated_pair(seed=5)
    result = engle_granger(y, x)
    t_stat, p_value, _ = coint(np.log(y), np.log(x))
    assert result.p_value == pytest.approx(p_value, rel=1e-12)
    assert result.t_stat == pytest.approx(t_stat, rel=1e-12)
    beta, alpha = np.polyfit(np.log(x), np.log(y), 1)
    assert (result.beta, result.alpha) == (pytest.approx(beta, rel=1e-9), pytest.approx(alpha, rel=1e-9))
    residuals = np.log(y) - alpha - beta * np.log(x)
    assert result.residual_std == pytest.approx(statistics.stdev(residuals.tolist()), rel=1e-9)


def test_y_is_the_dependent_series():
    y, x = cointegrated_pair(b=2.0)
    assert engle_granger(y, x).beta == pytest.approx(2.0, abs=0.1)
    assert engle_granger(x, y).beta == pytest.approx(0.5, abs=0.05)


def test_zscore_matches_a_hand_computation():
    y, x = cointegrated_pair()
    beta, alpha = 1.25, 0.45
    spread = [math.log(a) - beta * math.log(b) - alpha for a, b in zip(y.tolist(), x.tolist())]
    mean, std = statistics.mean(spread), statistics.stdev(spread)
    assert spread_stats(y, x, beta, alpha) == (pytest.approx(mean, abs=1e-12), pytest.approx(std, rel=1e-9))
    assert spread_series(y, x, beta, alpha).tolist() == pytest.approx(spread, abs=1e-12)
    price_y, price_x = 61.7, 19.9
    by_hand = (math.log(price_y) - beta * math.log(price_x) - alpha - mean) / std
    assert spread_zscore(price_y, price_x, beta, alpha, mean, std) == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize("price_y, price_x, std", [(0.0, 20.0, 0.01), (60.0, -1.0, 0.01), (60.0, 20.0, 0.0),
                                                   (60.0, 20.0, math.nan)])
def test_zscore_is_nan_where_undefined(price_y, price_x, std):
    assert math.isnan(spread_zscore(price_y, price_x, 1.0, 0.0, 0.0, std))


def test_spread_stats_undefined_for_bad_windows():
    assert all(math.isnan(v) for v in spread_stats([1.0], [2.0], 1.0, 0.0))
    assert all(math.isnan(v) for v in spread_stats([1.0, 2.0], [2.0, 3.0, 4.0], 1.0, 0.0))
    assert all(math.isnan(v) for v in spread_stats([1.0, 0.0], [2.0, 3.0], 1.0, 0.0))


def test_hedge_ratio_of_flat_x_is_an_error():
    with pytest.raises(ValueError, match="flat"):
        hedge_ratio(np.array([1.0, 2.0]), np.array([3.0, 3.0]))


@pytest.mark.parametrize("case", ["lengths", "short", "non-positive", "nan", "flat x", "flat y", "collinear", "2-D"])
def test_bad_input_raises_value_error(case):
    y, x = cointegrated_pair()
    if case == "lengths":
        x = x[:-1]
    elif case == "short":
        y, x = y[:10], x[:10]
    elif case == "non-positive":
        y = y.copy()
        y[3] = 0.0
    elif case == "nan":
        x = x.copy()
        x[7] = math.nan
    elif case == "flat x":
        x = np.full(N, 20.0)
    elif case == "flat y":
        y = np.full(N, 20.0)
    elif case == "collinear":
        y = np.exp(0.3 + 1.5 * np.log(x))
    else:
        y, x = np.vstack([y, y]), np.vstack([x, x])
    with pytest.raises(ValueError):
        engle_granger(y, x)
