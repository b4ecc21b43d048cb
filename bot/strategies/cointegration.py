"""Engle-Granger cointegration and spread z-scores: small pure functions over close prices.

Everything works on log prices. y is the dependent series and x the regressor:
    log y = alpha + beta * log x + residual
and the spread of a pair is that residual, log(y) - beta * log(x) - alpha. The p-value is
statsmodels' Engle-Granger test (coint: OLS with a constant, then an ADF test without one on the
residuals, MacKinnon p-values); beta and alpha are the same OLS fit in closed form.

Bad input (different lengths, too short, non-finite or non-positive prices, a flat or perfectly
collinear series) raises ValueError from engle_granger; spread_zscore returns nan where the
z-score is not defined, like the indicators do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from statsmodels.tsa.stattools import coint

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
    t_stat, p_value, _ = coint(log_y, log_x)
    return EngleGrangerResult(
        p_value=float(p_value), t_stat=float(t_stat), beta=beta, alpha=alpha,
        residual_std=float(residuals.std(ddof=1)), observations=int(log_y.shape[0]),
    )


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
