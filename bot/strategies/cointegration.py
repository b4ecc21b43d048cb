"""Engle-Granger cointegration and spread z-scores: small pure functions over close prices.

Everything works on log prices. y is the dependent series and x the regressor:
    log y = alpha + beta * log x + residual
and the spread of a pair is that residual, log(y) - beta * log(x) - alpha. The p-value is
statsmodels' Engle-Granger test (coint: OLS with a constant, then an ADF test without one on the
residuals, lag chosen by AIC, MacKinnon p-values); beta and alpha are the same OLS fit in closed form.
coint_aeg computes exactly what statsmodels' coint(y, x) computes (same regressions, same lag
choice, its mackinnonp for the p-value) with one QR decomposition for all the candidate lags instead
of maxlag + 1 model fits: about 10x faster, equal to statsmodels to rounding (tests compare them).

Bad input (different lengths, too short, non-finite or non-positive prices, a flat or perfectly
collinear series) raises ValueError from engle_granger; spread_zscore returns nan where the
z-score is not defined, like the indicators do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from statsmodels.tools.tools import pinv_extended
from statsmodels.tsa.adfvalues import mackinnonp

ArrayLike = Sequence[float] | np.ndarray

# Fewer points than this and the ADF regression behind the p-value says little.
MIN_OBSERVATIONS = 20
# statsmodels refuses to test (-inf statistic, p = 0) when R^2 is this close to 1: no spread.
_COLLINEAR_R2 = 1.0 - 100.0 * math.sqrt(np.finfo(float).eps)


@dataclass(frozen=True, slots=True)
class EngleGrangerResult:
    """Outcome of one test: p-value, the hedge ratio beta and intercept alpha of log y on log x."""

    p_value: float
    t_stat: float
    beta: float
    alpha: float
    residual_std: float
    observations: int


def _log_prices(values: ArrayLike, name: str) -> np.ndarray:
    series = np.asarray(values, dtype=float)
    if series.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D series of prices (got shape {series.shape})")
    if not np.all(np.isfinite(series)) or np.any(series <= 0.0):
        raise ValueError(f"{name}: prices must be finite and positive")
    return np.log(series)


def hedge_ratio(log_y: np.ndarray, log_x: np.ndarray) -> tuple[float, float]:
    """OLS of log_y on a constant and log_x: (beta, alpha). log_x must not be flat."""
    x_mean = float(log_x.mean())
    y_mean = float(log_y.mean())
    dx = log_x - x_mean
    variance = float(dx @ dx)
    if variance <= 0.0:
        raise ValueError("x: the series is flat, so it explains nothing")
    beta = float(dx @ (log_y - y_mean)) / variance
    return beta, y_mean - beta * x_mean


def engle_granger(y: ArrayLike, x: ArrayLike) -> EngleGrangerResult:
    """Engle-Granger test of close prices y (dependent) on x, oldest first, in logs.

    Small p means the spread log y - beta log x - alpha is stationary (the pair is cointegrated).
    """
    log_y = _log_prices(y, "y")
    log_x = _log_prices(x, "x")
    if log_y.shape != log_x.shape:
        raise ValueError(f"y and x must have the same length (got {log_y.shape[0]} and {log_x.shape[0]})")
    if log_y.shape[0] < MIN_OBSERVATIONS:
        raise ValueError(f"need at least {MIN_OBSERVATIONS} prices (got {log_y.shape[0]})")
    if float(np.ptp(log_y)) == 0.0:
        raise ValueError("y: the series is flat")
    beta, alpha = hedge_ratio(log_y, log_x)
    residuals = log_y - alpha - beta * log_x
    y_centered = log_y - log_y.mean()
    r_squared = 1.0 - float(residuals @ residuals) / float(y_centered @ y_centered)
    if r_squared >= _COLLINEAR_R2:
        raise ValueError("y and x are (almost) perfectly collinear: there is no spread to test")
    t_stat, p_value = coint_aeg(log_y, log_x)
    return EngleGrangerResult(
        p_value=float(p_value), t_stat=float(t_stat), beta=beta, alpha=alpha,
        residual_std=float(residuals.std(ddof=1)), observations=int(log_y.shape[0]),
    )


def _adf_max_lag(nobs: int) -> int:
    """adfuller's default maxlag (Schwert's rule, capped) for a series of nobs points, no trend."""
    return min(nobs // 2 - 1, int(np.ceil(12.0 * np.power(nobs / 100.0, 1 / 4.0))))


def _adf_design(x: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """adfuller's regression with `lags` lagged differences: (diff now, [level before, diffs before])."""
    diff = np.diff(x)
    rows = diff.shape[0] - lags
    design = np.empty((rows, lags + 1))
    design[:, 0] = x[-rows - 1:-1]
    for lag in range(1, lags + 1):
        design[:, lag] = diff[lags - lag:lags - lag + rows]
    return diff[-rows:], design


def adf_no_trend(x: np.ndarray) -> float:
    """The ADF statistic adfuller(x, regression="n", autolag="AIC") gives, default maxlag.

    Every lag 0..maxlag is fitted on the same rows (those of maxlag), as adfuller does; with the
    regressors nested, one QR decomposition gives each fit's residual sum of squares. The lag with
    the smallest AIC (-2 llf + 2 k; the smaller lag on a tie) is then refitted on all its rows.
    """
    max_lag = _adf_max_lag(x.shape[0])
    target, design = _adf_design(x, max_lag)
    rows = target.shape[0]
    q, r = np.linalg.qr(design)
    projected = q.T @ target
    full_ssr = float(np.sum((target - q @ projected) ** 2))
    # ssr of the first k regressors = the full fit's + what the left-out directions explain.
    tail = np.cumsum((projected ** 2)[::-1])[::-1]
    ssr = full_ssr + np.append(tail[1:], 0.0)
    half = rows / 2.0
    aic = -2.0 * (-half * np.log(2 * np.pi) - half * np.log(ssr / rows) - half) + 2.0 * np.arange(1, max_lag + 2)
    best = min((float(value), k) for k, value in enumerate(aic))[1]
    target, design = _adf_design(x, best)
    q, r = np.linalg.qr(design)
    params = np.linalg.solve(r, q.T @ target)
    residual = target - design @ params
    with np.errstate(divide="ignore", invalid="ignore"):  # no degrees of freedom left: as statsmodels, not finite
        scale = np.float64(residual @ residual) / (target.shape[0] - design.shape[1])
        r_inverse = np.linalg.inv(r)
        return float(params[0] / np.sqrt(scale * (r_inverse[0] @ r_inverse[0])))


def coint_aeg(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(t statistic, p-value) of statsmodels' coint(y, x) (trend "c", autolag "aic") for 1-D y and x.

    The caller has refused collinear series (coint's -inf case).
    """
    design = np.column_stack((x, np.ones_like(x)))
    params = np.dot(pinv_extended(design)[0], y)  # coint's OLS, as statsmodels fits it (the residuals of an
    t_stat = adf_no_trend(y - np.dot(design, params))  # ill-conditioned fit are sensitive to the method)
    return t_stat, float(mackinnonp(t_stat, regression="c", N=2))


def spread_series(y: ArrayLike, x: ArrayLike, beta: float, alpha: float) -> np.ndarray:
    """log(y) - beta * log(x) - alpha for each pair of prices (not finite where a price is <= 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(y, dtype=float)) - beta * np.log(np.asarray(x, dtype=float)) - alpha


def spread_stats(y: ArrayLike, x: ArrayLike, beta: float, alpha: float) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of the spread over a window; nan if undefined."""
    y_values = np.asarray(y, dtype=float)
    x_values = np.asarray(x, dtype=float)
    if y_values.ndim != 1 or y_values.shape != x_values.shape or y_values.shape[0] < 2:
        return math.nan, math.nan
    spread = spread_series(y_values, x_values, beta, alpha)
    if not np.all(np.isfinite(spread)):
        return math.nan, math.nan
    return float(spread.mean()), float(spread.std(ddof=1))


def spread_zscore(price_y: float, price_x: float, beta: float, alpha: float, mean: float, std: float) -> float:
    """(spread now - mean) / std for the current prices; nan for a non-positive price or std."""
    if not (price_y > 0.0 and price_x > 0.0 and std > 0.0):
        return math.nan
    spread = math.log(price_y) - beta * math.log(price_x) - alpha
    return (spread - mean) / std
