"""float_texts gives repr's text for every float (the oracle: float.__repr__, value by value), both
where it takes orjson's text and where it falls back; the fallback is exercised on purpose."""
import json
import math

import numpy as np
import pytest

from bot.float_text import float_texts


def _expect(values: list[float]) -> None:
    assert float_texts(values) == [repr(v) for v in values]


def test_random_bit_patterns_across_the_whole_range():
    rng = np.random.default_rng(11)
    floats = rng.integers(0, 2 ** 64, 400_000, dtype=np.uint64).view(np.float64)
    values = [v for v in floats.tolist() if math.isfinite(v)]
    for start in range(0, len(values), 50):  # a block at a time, as the equity lines use it
        _expect(values[start:start + 50])


@pytest.mark.parametrize("scale", range(-5, 17))
def test_every_decade_of_prices_and_equity(scale):
    rng = np.random.default_rng(scale + 100)
    x = rng.standard_normal(20_000) * 10.0 ** scale
    for values in (x, np.round(x, 2), np.round(x) + 0.5, np.round(x)):
        listed = values.tolist()
        for start in range(0, len(listed), 64):
            _expect(listed[start:start + 64])


def test_walks_like_a_backtest():
    rng = np.random.default_rng(3)
    prices = 100 * np.exp(np.cumsum(rng.standard_normal(200_000) * 1e-3))
    equity = 1e6 + np.cumsum(rng.standard_normal(200_000))
    for column in (prices, equity, equity - 1e6):
        listed = column.tolist()
        for start in range(0, len(listed), 46):
            _expect(listed[start:start + 46])


def test_edges_of_the_exponent_free_range():
    near = []
    for edge in (1e-4, 1e16):
        up = down = edge
        for _ in range(500):
            near += [up, down, -up, -down]
            up, down = math.nextafter(up, math.inf), math.nextafter(down, 0.0)
    for start in range(0, len(near), 40):
        _expect(near[start:start + 40])


@pytest.mark.parametrize("values", [
    [], [0.0], [-0.0], [1.0, -1.0], [5e-324], [1.7976931348623157e308], [1e-05, 2.0], [2.5e-07],
    [1e16], [1.5e17, 3.0], [9999999999999998.0], [0.0001], [0.00011, 12.0], [10.00001, 7.25],
    [1000000.00001], [123.456] * 3,
])
def test_cases_by_hand(values):
    _expect(values)


def test_what_orjson_writes_differently_goes_to_repr():
    # orjson's own text for these is not repr's: each forces the fallback for its whole list.
    assert float_texts([1e-05, 100.5]) == ["1e-05", "100.5"]  # orjson: 0.00001
    assert float_texts([2.5e-07]) == ["2.5e-07"]  # orjson: 2.5e-7
    assert float_texts([math.nan, 1.0]) == ["nan", "1.0"]  # orjson: null
    assert float_texts([math.inf]) == ["inf"]


def test_the_text_is_what_json_writes_for_finite_floats():
    values = [0.1, 1e-4, 123456.789, -2.5, 1e15, 3.0]
    assert ",".join(float_texts(values)) == json.dumps(values, separators=(",", ":"))[1:-1]
