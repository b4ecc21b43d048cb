"""Technical indicators on close prices: small pure functions over 1-D arrays, oldest first.

Too-short input is not an error: ema and rsi return nan where the value is not yet defined,
log_return_volatility returns None. A period below the minimum is a programming error
(ValueError).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _as_series(values: ArrayLike) -> np.ndarray:
    series = np.asarray(values, dtype=float)
    if series.ndim != 1:
        raise ValueError(f"expected a 1-D series of prices (got shape {series.shape})")
    return series


def ema(values: ArrayLike, period: int) -> np.ndarray:
    """Exponential moving average with alpha = 2 / (period + 1), as long as values.

    Seeded with the simple average of the first `period` values (the TA-Lib convention), so
    entries before index period - 1 are nan, and all are nan when len(values) < period.
    """
    if period < 1:
        raise ValueError(f"ema period must be >= 1 (got {period})")
    series = _as_series(values)
    result = np.full(series.shape[0], np.nan)
    if series.shape[0] < period:
        return result
    alpha = 2.0 / (period + 1)
    keep = 1.0 - alpha
    previous = float(series[:period].mean())
    result[period - 1] = previous
    # A loop over a Python list beats numpy element access at these lengths (tens to hundreds).
    smoothed = []
    for value in series[period:].tolist():
        previous = alpha * value + keep * previous
        smoothed.append(previous)
    result[period:] = smoothed
    return result


def _rsi_from_averages(average_gain: float, average_loss: float) -> float:
    if average_loss == 0.0:
        # Only gains: 100. No movement at all: neutral 50 rather than a division by zero.
        return 100.0 if average_gain > 0.0 else 50.0
    return 100.0 - 100.0 / (1.0 + average_gain / average_loss)


def rsi(values: ArrayLike, period: int) -> np.ndarray:
    """Wilder's relative strength index (0..100), as long as values.

    The first value, at index `period`, uses the simple averages of the first `period` gains
    and losses; later ones use Wilder's smoothing avg = (avg * (period - 1) + x) / period.
    Entries before index period are nan (all nan when len(values) <= period). A series with
    no losses has RSI 100; one that does not move at all has RSI 50.
    """
    if period < 1:
        raise ValueError(f"rsi period must be >= 1 (got {period})")
    series = _as_series(values)
    result = np.full(series.shape[0], np.nan)
    if series.shape[0] <= period:
        return result
    changes = np.diff(series)
    gains = np.where(changes > 0.0, changes, 0.0)
    losses = np.where(changes < 0.0, -changes, 0.0)
    average_gain = float(gains[:period].mean())
    average_loss = float(losses[:period].mean())
    values_out = [_rsi_from_averages(average_gain, average_loss)]
    for gain, loss in zip(gains[period:].tolist(), losses[period:].tolist()):
        average_gain = (average_gain * (period - 1) + gain) / period
        average_loss = (average_loss * (period - 1) + loss) / period
        values_out.append(_rsi_from_averages(average_gain, average_loss))
    result[period:] = values_out
    return result


def log_return_volatility(closes: ArrayLike, period: int) -> float | None:
    """Sample standard deviation (ddof=1) of the last `period` one-candle log returns.

    A fraction per candle (0.001 = 0.1%), not annualised. None when there are fewer than
    period + 1 closes or when one of them is not a finite positive price.
    """
    if period < 2:
        raise ValueError(f"volatility period must be >= 2 (got {period})")
    series = _as_series(closes)
    if series.shape[0] < period + 1:
        return None
    window = series[-(period + 1):]
    if not np.all(np.isfinite(window)) or np.any(window <= 0.0):
        return None
    returns = np.diff(np.log(window))
    volatility = float(np.std(returns, ddof=1))
    return volatility if math.isfinite(volatility) else None


_WEIGHTS: dict[tuple[int, int], np.ndarray] = {}


def _window_weights(period: int, length: int) -> np.ndarray:
    """window_ema_at's filter for one (period, length), newest close first (as np.convolve takes it); made once."""
    weights = _WEIGHTS.get((period, length))
    if weights is None:
        # weights of closes oldest first: the seed's mean over the first period, then the smoothing.
        alpha, keep = 2.0 / (period + 1), 1.0 - 2.0 / (period + 1)
        steps = length - period
        oldest_first = np.concatenate([np.full(period, keep ** steps / period), alpha * keep ** np.arange(steps - 1, -1, -1)])
        weights = _WEIGHTS[(period, length)] = np.ascontiguousarray(oldest_first[::-1])
        weights.flags.writeable = False
    return weights


def window_ema_at(closes: np.ndarray, ends: np.ndarray, period: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximately, for each end: (last, one before last) of ema(closes[end-window:end], period).

    Vectorised (a fixed linear filter of the window), so equal to ema's values only to rounding:
    for screening (a fast-forward's "could this cross?"), never for a decision. nan where end < window.
    """
    ends = np.asarray(ends, dtype=np.int64)
    value, previous = np.full(ends.shape[0], np.nan), np.full(ends.shape[0], np.nan)
    ok = ends >= window
    if not ok.any() or window <= period:
        return value, previous
    lo, hi = int(ends[ok].min()) - window, int(ends[ok].max())
    segment = np.asarray(closes[lo:hi], dtype=float)
    full = np.convolve(segment, _window_weights(period, window), mode="valid")  # [j] covers segment[j:j+window]
    short = np.convolve(segment, _window_weights(period, window - 1), mode="valid")
    starts = ends[ok] - window - lo
    value[ok] = full[starts]
    previous[ok] = short[starts]
    return value, previous


def window_emas_at(closes: np.ndarray, ends: np.ndarray, periods: Sequence[int], window: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """[window_ema_at(closes, ends, period, window) for period in periods], the same values, with the
    work the periods share (the window's segment, the ends' checks) done once. For screening only."""
    ends = np.asarray(ends, dtype=np.int64)
    ok = ends >= window
    every = bool(ok.all()) if ends.shape[0] else False
    if not every or any(window <= period for period in periods):  # the general path
        return [window_ema_at(closes, ends, period, window) for period in periods]
    lo, hi = int(ends.min()) - window, int(ends.max())
    segment = np.asarray(closes[lo:hi], dtype=float)
    starts = ends - window - lo
    return [(np.convolve(segment, _window_weights(period, window), mode="valid")[starts],
             np.convolve(segment, _window_weights(period, window - 1), mode="valid")[starts]) for period in periods]


def rolling_log_volatility(closes: np.ndarray, ends: np.ndarray, period: int) -> np.ndarray:
    """Approximately log_return_volatility(closes[:end], period) for each end (nan when undefined);
    vectorised, for screening only."""
    ends = np.asarray(ends, dtype=np.int64)
    out = np.full(ends.shape[0], np.nan)
    ok = ends >= period + 1
    if not ok.any():
        return out
    good = ends[ok]
    lo, hi = int(good.min()) - period - 1, int(good.max())
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = np.diff(np.log(np.asarray(closes[lo:hi], dtype=float)))
    # Each end's window of returns, picked (a screen asks for a few ends at a time: numpy's
    # sliding_window_view and std cost more in their Python wrappers than in the arithmetic); the
    # deviation from the mean, squared, summed and divided as std(ddof=1) does.
    windows = returns[(good - period - 1 - lo)[:, None] + np.arange(period)]
    deviation = windows - (windows.sum(axis=1) / period)[:, None]
    out[ok] = np.sqrt((deviation * deviation).sum(axis=1) / (period - 1))
    return out


# -- one decision's reading, without arrays ----------------------------------------------------
# The functions below give the last values of ema, rsi and log_return_volatility with the same
# floating-point operations in the same order (numpy's own summation included), on plain lists:
# a candle decision reads a few scalars over tens of closes, where numpy's per-call cost is most
# of the work. tests/strategies/test_indicators_last.py holds them to the array versions bit for bit.

PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE: below it a sum is 8 running totals, above it halves


def _pairwise(values: list[float], start: int, count: int) -> float:
    # numpy's pairwise_sum (numpy/_core/src/umath/loops_utils.h.src), step for step.
    if count < 8:
        total = 0.0
        for value in values[start:start + count]:
            total += value
        return total
    if count <= PAIRWISE_BLOCK:
        r0, r1, r2, r3, r4, r5, r6, r7 = values[start:start + 8]
        end = start + count - count % 8
        for index in range(start + 8, end, 8):
            r0 += values[index]
            r1 += values[index + 1]
            r2 += values[index + 2]
            r3 += values[index + 3]
            r4 += values[index + 4]
            r5 += values[index + 5]
            r6 += values[index + 6]
            r7 += values[index + 7]
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for value in values[end:start + count]:
            total += value
        return total
    half = count // 2
    half -= half % 8
    return _pairwise(values, start, half) + _pairwise(values, start + half, count - half)


def float_sum(values: list[float], start: int = 0, count: int | None = None) -> float:
    """np.add.reduce(np.array(values[start:start + count])) as a float: 0.0 plus numpy's pairwise sum."""
    count = len(values) - start if count is None else count
    return 0.0 + _pairwise(values, start, count)


def ema_last(values: list[float], period: int) -> tuple[float, float]:
    """(ema(values, period)[-1], ema(values, period)[-2]), nan where ema has nan, without arrays."""
    if period < 1:
        raise ValueError(f"ema period must be >= 1 (got {period})")
    n = len(values)
    if n < period:
        return math.nan, math.nan
    alpha = 2.0 / (period + 1)
    keep = 1.0 - alpha
    value = float_sum(values, 0, period) / period
    if n == period:
        return value, math.nan
    for price in values[period:-1]:
        value = alpha * price + keep * value
    return alpha * values[-1] + keep * value, value


def crossover_last(values: list[float], fast: int, slow: int) -> tuple[float, float, float, float]:
    """ema_last(values, fast) + ema_last(values, slow), the same floats, in one pass over values."""
    n = len(values)
    if not 1 <= fast < slow or n <= slow:
        return ema_last(values, fast) + ema_last(values, slow)
    fast_alpha = 2.0 / (fast + 1)
    fast_keep = 1.0 - fast_alpha
    slow_alpha = 2.0 / (slow + 1)
    slow_keep = 1.0 - slow_alpha
    fast_value = float_sum(values, 0, fast) / fast
    for price in values[fast:slow]:
        fast_value = fast_alpha * price + fast_keep * fast_value
    slow_value = float_sum(values, 0, slow) / slow
    for price in values[slow:-1]:
        fast_value = fast_alpha * price + fast_keep * fast_value
        slow_value = slow_alpha * price + slow_keep * slow_value
    last = values[-1]
    return (fast_alpha * last + fast_keep * fast_value, fast_value,
            slow_alpha * last + slow_keep * slow_value, slow_value)


def rsi_last(values: list[float], period: int) -> float:
    """rsi(values, period)[-1] (nan when len(values) <= period), without arrays."""
    if period < 1:
        raise ValueError(f"rsi period must be >= 1 (got {period})")
    n = len(values)
    if n <= period:
        return math.nan
    changes = [after - before for before, after in zip(values[:period], values[1:period + 1])]
    average_gain = float_sum([change if change > 0.0 else 0.0 for change in changes]) / period
    average_loss = float_sum([-change if change < 0.0 else 0.0 for change in changes]) / period
    # rsi's smoothing (avg * (period - 1) + x) / period with float constants (the same values as the
    # ints give); a gain adds itself to the gains and 0.0 to the losses, a loss the other way round
    # (rsi's np.where). Adding 0.0 changes nothing here: the averages are never -0.0 (sums from +0.0 of
    # values >= 0, then such sums scaled), so it is left out.
    back, size = float(period - 1), float(period)
    before = values[period]
    for after in values[period + 1:]:
        change = after - before
        before = after
        if change > 0.0:
            average_gain = (average_gain * back + change) / size
            average_loss = average_loss * back / size
        elif change < 0.0:
            average_gain = average_gain * back / size
            average_loss = (average_loss * back - change) / size
        else:
            average_gain = average_gain * back / size
            average_loss = average_loss * back / size
    return _rsi_from_averages(average_gain, average_loss)


def log_return_volatility_last(closes: np.ndarray, period: int, prices: list[float] | None = None) -> float | None:
    """log_return_volatility(closes, period) for a 1-D float array, its std without numpy's per-call cost
    (np.log stays: its result is the platform's, and this must equal the array version's everywhere).
    prices: closes.tolist(), when the caller has it."""
    if period < 2:
        raise ValueError(f"volatility period must be >= 2 (got {period})")
    if closes.shape[0] < period + 1:
        return None
    window = closes[-(period + 1):]
    for price in window.tolist() if prices is None else prices[-(period + 1):]:
        if not 0.0 < price < math.inf:  # nan, inf and prices <= 0 all fail this
            return None
    logs = np.log(window)
    returns = (logs[1:] - logs[:-1]).tolist()  # np.diff's subtraction, one array operation
    mean = float_sum(returns) / period
    squares = [(value - mean) * (value - mean) for value in returns]  # numpy's square of the deviation
    variance = float_sum(squares) / (period - 1)
    volatility = math.sqrt(variance)
    return volatility if math.isfinite(volatility) else None


def volatility_defined(closes: np.ndarray | list[float], period: int) -> bool:
    """log_return_volatility(closes, period) is not None, without computing it: enough closes, all
    finite and positive. (Their logs are then finite, below 745 in size, so the deviations' squares
    and their sum are too, and the std is always finite.) closes: a 1-D float array or its tolist()."""
    if period < 2:
        raise ValueError(f"volatility period must be >= 2 (got {period})")
    if len(closes) < period + 1:
        return False
    window = closes[-(period + 1):]
    for price in window.tolist() if isinstance(window, np.ndarray) else window:
        if not 0.0 < price < math.inf:
            return False
    return True
