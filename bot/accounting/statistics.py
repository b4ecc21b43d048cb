"""Every figure the API, the charts and the exit summary show, from round trips and equity series.

Pure functions: inputs are round trips (bot/accounting/roundtrips.py) and (times, values) arrays; outputs
are plain dicts of floats, ints and None (JSON-ready, no NaN or infinity).

Trade figures are per closed round trip, net of every fee: a win is a round trip with net P&L
above zero, anything else is a loss, so a strategy whose round trips lost money in total has a
profit factor below 1. Profit factor is None when there is no loss to divide by.

Risk figures (Sharpe, Sortino, max drawdown and its duration, Calmar, annual volatility) come
from empyrical-reloaded on the returns of the series resampled to a stated period (the last
value in each UTC-aligned bucket, the first sample as the opening level, empty buckets carried
forward), annualised with that period (365 days a year: crypto trades every day). The ratios
need MIN_PERIODS periods; before that they are None and `needs_periods` says how many more.
Max drawdown and its duration are observed facts, shown from the first period. The period is
analytics.period (choose_period): hourly, daily, or auto = hourly until the series spans
MIN_PERIODS days (when daily returns first give the ratios enough periods), daily after.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import empyrical
import numpy as np

from bot.accounting.roundtrips import RoundTrip
from bot.timestamps import iso_utc

SECONDS_PER_YEAR = 365.0 * 86400.0
MIN_PERIODS = 30
DEFAULT_PERIOD_SECONDS = 3600.0
PERIOD_SECONDS = {"hourly": 3600.0, "daily": 86400.0}
AUTO_DAILY_FROM_SECONDS = MIN_PERIODS * 86400.0
AUTO_RULE = f"auto: hourly until the equity history spans {MIN_PERIODS} days, then daily"
RATIO_KEYS = ("sharpe", "sortino", "calmar", "volatility_pct")


def _finite(value) -> float | None:
    """A float, or None for NaN, infinity and None (JSON has no such numbers)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ----- trade figures, per round trip ---------------------------------------------------------
def trade_stats(trips: Iterable[RoundTrip]) -> dict:
    """Win rate, profit factor, average win and loss, expectancy, best, worst, durations."""
    trips = list(trips)
    closed = [trip for trip in trips if trip.closed]
    nets = [trip.net_pnl for trip in closed]
    wins = [net for net in nets if net > 0]
    losses = [net for net in nets if net <= 0]
    gross_profit, gross_loss = sum(wins), -sum(losses)
    best = max(closed, key=lambda trip: trip.net_pnl, default=None)
    worst = min(closed, key=lambda trip: trip.net_pnl, default=None)
    returns = [trip.return_pct for trip in closed if trip.return_pct is not None]
    return {
        "round_trips": len(closed),
        "open_round_trips": len(trips) - len(closed),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": len(wins) / len(closed) if closed else None,
        "profit_factor": gross_profit / gross_loss if gross_loss > 0 else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "avg_win": _mean(wins),
        "avg_loss": _mean(losses),
        "expectancy": _mean(nets),
        "avg_return_pct": _mean(returns),
        "best": best.net_pnl if best else None,
        "best_id": best.id if best else None,
        "worst": worst.net_pnl if worst else None,
        "worst_id": worst.id if worst else None,
        "avg_duration_seconds": _mean([trip.duration_seconds for trip in closed]),
        "closed_net_pnl": sum(nets),
        "fees_usdt": sum(trip.fees_usdt for trip in closed),
    }


def per_symbol(trips: Iterable[RoundTrip]) -> dict[str, dict]:
    """trade_stats per traded symbol ('A + B' for a round trip over several symbols)."""
    groups: dict[str, list[RoundTrip]] = {}
    for trip in trips:
        groups.setdefault(" + ".join(trip.symbols), []).append(trip)
    return {symbol: trade_stats(group) for symbol, group in sorted(groups.items())}


def histogram(nets: Sequence[float], bins: int = 20) -> dict:
    """Wins, losses and a bins-wide histogram of net P&L values (bin edges and counts)."""
    values = np.asarray(list(nets), dtype=float)
    wins = int((values > 0).sum())
    if len(values) == 0:
        return {"wins": 0, "losses": 0, "bins": [], "counts": []}
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return {"wins": wins, "losses": int(len(values) - wins), "bins": [float(e) for e in edges],
            "counts": [int(c) for c in counts]}


# ----- risk figures, from a resampled series -------------------------------------------------
def choose_period(setting: str | float, span_seconds: float) -> float:
    """The period in seconds for analytics.period ("hourly", "daily", "auto"; tests may give seconds)
    over a series spanning span_seconds."""
    if isinstance(setting, (int, float)):
        return float(setting)
    if setting == "auto":
        return PERIOD_SECONDS["daily" if span_seconds >= AUTO_DAILY_FROM_SECONDS else "hourly"]
    return PERIOD_SECONDS[setting]


def period_label(period_seconds: float) -> str:
    """'1h', '15m', '1d', '30s': how the period is named next to each figure."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if period_seconds >= size and period_seconds % size == 0:
            return f"{int(period_seconds // size)}{unit}"
    return f"{period_seconds:g}s"


def resample(times: Sequence[float], values: Sequence[float], period_seconds: float) -> np.ndarray:
    """Levels at the end of each period: the first sample, then the last value of every UTC-aligned
    bucket from the first sample's to the last's (an empty bucket repeats the previous level)."""
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    if len(times) == 0:
        return np.empty(0)
    buckets = np.floor(times / period_seconds).astype(np.int64)
    first = int(buckets[0])
    span = int(buckets[-1]) - first + 1
    # The last sample in each bucket: where the bucket number changes, looking from the end.
    last_in_bucket = np.r_[buckets[1:] != buckets[:-1], True]
    levels = np.full(span, np.nan)
    levels[buckets[last_in_bucket] - first] = values[last_in_bucket]
    for index in range(1, span):  # carry forward across empty buckets
        if math.isnan(levels[index]):
            levels[index] = levels[index - 1]
    return np.r_[values[0], levels]


def period_returns(levels: np.ndarray) -> np.ndarray:
    """Simple returns between consecutive levels (a level at or below zero ends the series)."""
    levels = np.asarray(levels, dtype=float)
    if len(levels) < 2:
        return np.empty(0)
    non_positive = np.flatnonzero(levels <= 0)
    if len(non_positive):
        levels = levels[: non_positive[0]]
    return levels[1:] / levels[:-1] - 1.0 if len(levels) > 1 else np.empty(0)


def drawdown_duration_periods(levels: np.ndarray) -> int:
    """The most consecutive periods spent below a previous peak."""
    longest = current = 0
    peak = -math.inf
    for value in np.asarray(levels, dtype=float):
        if value >= peak:
            peak, current = value, 0
        else:
            current += 1
            longest = max(longest, current)
    return longest


def risk_metrics(times: Sequence[float], values: Sequence[float],
                 period_seconds: float = DEFAULT_PERIOD_SECONDS, min_periods: int = MIN_PERIODS) -> dict:
    """Sharpe, Sortino, Calmar, annual volatility, max drawdown (and how long) of a value series."""
    levels = resample(times, values, period_seconds)
    returns = period_returns(levels)
    periods = len(returns)
    annualization = SECONDS_PER_YEAR / period_seconds
    count = len(times)
    result = {
        "period": period_label(period_seconds), "period_seconds": period_seconds, "periods": periods,
        "needs_periods": max(0, min_periods - periods), "samples": count,
        "start": iso_utc(float(times[0])) if count else None, "end": iso_utc(float(times[-1])) if count else None,
        "span_seconds": float(times[-1] - times[0]) if count else 0.0,
        "sharpe": None, "sortino": None, "calmar": None, "volatility_pct": None,
        "max_drawdown_pct": None, "max_drawdown_duration_seconds": None,
    }
    if periods == 0:
        return result
    result["max_drawdown_pct"] = _finite(abs(empyrical.max_drawdown(returns)) * 100.0)  # a fall, >= 0
    result["max_drawdown_duration_seconds"] = drawdown_duration_periods(levels) * period_seconds
    if periods >= min_periods:
        result["sharpe"] = _finite(empyrical.sharpe_ratio(returns, annualization=annualization))
        result["sortino"] = _finite(empyrical.sortino_ratio(returns, annualization=annualization))
        result["calmar"] = _finite(empyrical.calmar_ratio(returns, annualization=annualization))
        result["volatility_pct"] = _finite(empyrical.annual_volatility(returns, annualization=annualization) * 100.0)
    return result


def bucket_returns(times: Sequence[float], values: Sequence[float], period_seconds: float) -> list[tuple[float, float]]:
    """(bucket start in epoch seconds, return) for every period of the resampled series: the
    returns risk_metrics uses, each labelled with the UTC-aligned bucket it ends (a calendar)."""
    returns = period_returns(resample(times, values, period_seconds))
    if len(returns) == 0:
        return []
    first = math.floor(float(times[0]) / period_seconds)
    return [((first + index) * period_seconds, float(value)) for index, value in enumerate(returns)]


def drawdown_pct_series(values: Sequence[float]) -> np.ndarray:
    """Per sample, the fall below the highest value so far, in % (0 at a new high)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.empty(0)
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, (peaks - values) / peaks * 100.0, 0.0)
    return falls


def fees_by_kind(trips: Iterable[RoundTrip]) -> dict[str, dict[str, float]]:
    """Per strategy (and "total"), every fee its round trips paid, open ones included, in USDT:
    entry fees, exit fees and their sum."""
    result: dict[str, dict[str, float]] = {}
    total = {"entry_fees_usdt": 0.0, "exit_fees_usdt": 0.0, "fees_usdt": 0.0}
    for trip in trips:
        row = result.setdefault(trip.strategy, {"entry_fees_usdt": 0.0, "exit_fees_usdt": 0.0, "fees_usdt": 0.0})
        for target in (row, total):
            target["entry_fees_usdt"] += trip.entry_fees_usdt
            target["exit_fees_usdt"] += trip.exit_fees_usdt
            target["fees_usdt"] += trip.fees_usdt
    return {**dict(sorted(result.items())), "total": total}


# ----- chart views ---------------------------------------------------------------------------
def downsample_extremes(times: Sequence[float], values: Sequence[float], max_points: int) -> list[int]:
    """Indices of at most max_points samples keeping each bucket's minimum and maximum (and the
    first and last sample), in time order, so a chart still shows every peak and trough."""
    count = len(values)
    if count <= max_points:
        return list(range(count))
    values = np.asarray(values, dtype=float)
    buckets = max(1, (max_points - 2) // 2)
    edges = np.linspace(1, count - 1, buckets + 1).astype(int)
    keep = {0, count - 1}
    for start, end in zip(edges[:-1], edges[1:]):
        if end > start:
            chunk = values[start:end]
            keep.add(start + int(np.argmin(chunk)))
            keep.add(start + int(np.argmax(chunk)))
    return sorted(keep)
