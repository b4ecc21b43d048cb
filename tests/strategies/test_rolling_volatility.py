"""rolling_log_volatility (the screens' vectorised 1-minute volatility) against numpy's std of each
end's own window of log returns, computed one end at a time."""
import numpy as np
import pytest

from bot.strategies.indicators import rolling_log_volatility


def _oracle(closes: np.ndarray, ends, period: int) -> np.ndarray:
    out = []
    for end in ends:
        if end < period + 1:
            out.append(np.nan)
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            returns = np.diff(np.log(closes[end - period - 1:end]))
        out.append(np.std(returns, ddof=1))
    return np.array(out)


@pytest.mark.parametrize("period", [2, 5, 30])
def test_each_end_is_the_std_of_its_own_window(period):
    rng = np.random.default_rng(period)
    closes = 100 * np.exp(np.cumsum(rng.standard_normal(400) * 1e-3))
    for ends in (np.arange(0, 401), np.array([period + 1]), np.array([390, 12, 200, 200]), rng.integers(0, 401, 50)):
        got, want = rolling_log_volatility(closes, ends, period), _oracle(closes, ends, period)
        np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
        assert np.array_equal(np.isnan(got), np.isnan(want))


def test_bad_closes_give_nan_where_their_window_reaches():
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(1).standard_normal(100) * 1e-3))
    closes[40], closes[70] = np.nan, -1.0
    ends = np.arange(0, 101)
    got, want = rolling_log_volatility(closes, ends, 10), _oracle(closes, ends, 10)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[45]) and np.isnan(got[75])
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert np.isnan(rolling_log_volatility(closes, np.array([3, 5]), 10)).all()
