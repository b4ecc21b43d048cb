"""coint_aeg (one QR for every candidate lag) against statsmodels' coint, the oracle, on many series."""
import math
import warnings

import numpy as np
import pytest
from statsmodels.tsa.stattools import adfuller, coint

from bot.strategies.cointegration import MIN_OBSERVATIONS, coint_aeg, engle_granger


def _ar_noise(rng, n, coefficients, sd):
    noise = np.zeros(n)
    shocks = rng.normal(0.0, sd, n)
    for t in range(n):
        noise[t] = shocks[t] + sum(c * noise[t - 1 - i] for i, c in enumerate(coefficients) if t - 1 - i >= 0)
    return noise


def _cases(count=120, seed=20260101):
    """Log-price pairs: cointegrated with AR(1..4) spreads, independent walks, real-looking crypto lengths."""
    rng = np.random.default_rng(seed)
    for number in range(count):
        n = int(rng.choice([MIN_OBSERVATIONS, 31, 60, 120, 240, 600, 600, 900]))
        log_x = math.log(rng.uniform(0.1, 60000.0)) + np.cumsum(rng.normal(0.0, rng.uniform(1e-4, 2e-2), n))
        kind = number % 3
        if kind == 0:  # a stationary spread with several lags of memory (AIC picks lags > 0)
            coefficients = list(rng.uniform(-0.5, 0.6, int(rng.integers(1, 5))))
            coefficients[0] = rng.uniform(0.2, 0.9)
            spread = _ar_noise(rng, n, [c / max(1.0, sum(map(abs, coefficients)) * 1.05) for c in coefficients],
                               rng.uniform(1e-4, 1e-2))
        elif kind == 1:  # independent random walk: no cointegration
            spread = np.cumsum(rng.normal(0.0, rng.uniform(1e-4, 1e-2), n))
        else:  # near unit root
            spread = _ar_noise(rng, n, [rng.uniform(0.9, 0.999)], rng.uniform(1e-4, 5e-3))
        log_y = rng.uniform(-3.0, 3.0) + rng.uniform(0.2, 2.5) * log_x + spread
        yield log_y, log_x


def _oracle(log_y, log_x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_stat, p_value, _ = coint(log_y, log_x)
        beta, alpha = np.polyfit(log_x, log_y, 1)
        lag = adfuller(log_y - alpha - beta * log_x, regression="n", autolag="AIC", result_object=True).lags
    return t_stat, p_value, lag


def test_coint_aeg_is_statsmodels_coint_on_many_series():
    lags = set()
    for log_y, log_x in _cases():
        t_expected, p_expected, lag = _oracle(log_y, log_x)
        t_stat, p_value = coint_aeg(log_y, log_x)
        lags.add(lag)
        assert t_stat == pytest.approx(t_expected, rel=1e-12, abs=1e-12), (len(log_y), lag)
        assert p_value == pytest.approx(p_expected, rel=1e-12, abs=1e-13), (len(log_y), lag)
    # The cases exercise the lag choice: the chosen lags are many, not always 0.
    assert len(lags) >= 5 and max(lags) >= 3


def test_engle_granger_p_value_is_the_oracle_on_prices():
    rng = np.random.default_rng(7)
    x = 0.5 * np.exp(np.cumsum(rng.normal(0.0, 0.003, 600)))
    y = 0.7 * x ** 1.04 * np.exp(_ar_noise(rng, 600, [0.7, 0.2], 0.002))
    result = engle_granger(y, x)
    t_expected, p_expected, _ = _oracle(np.log(y), np.log(x))
    assert result.t_stat == pytest.approx(t_expected, rel=1e-10)
    assert result.p_value == pytest.approx(p_expected, rel=1e-10, abs=1e-12)
