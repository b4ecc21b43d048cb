"""MomentumStrategy.quiet_ticks' memo of its trend masks (one read-only closes array, chunks of ends)
against the plain path (the same looks over a writable copy, which the memo never keeps)."""
import numpy as np
import pytest

from bot.config import MomentumConfig
from bot.models import PositionView
from bot.lookahead import Lookahead, MarketAhead
from bot.strategies import momentum_screen
from bot.strategies.momentum import MomentumStrategy

KEY = ("binance", "BTC/USDT")


def _strategy() -> MomentumStrategy:
    return MomentumStrategy(MomentumConfig(fast=5, slow=13, rsi_period=14, volatility_period=30, rsi_filter=False,
                                           volatility_exits=False, order_qty=1.0), ("binance",), ("BTC/USDT",))


class _View:
    def __init__(self, held: bool):
        self._positions = [PositionView("BTC", 1.0, 100.0, {"binance": 1.0}, 0.0)] if held else []

    def positions(self):
        return self._positions

    def position(self, asset):
        return next((p for p in self._positions if p.asset == asset), None)


def _frozen(values: np.ndarray) -> np.ndarray:
    values = np.array(values, dtype=float)
    values.flags.writeable = False
    return values


def _walk(bars: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, bars)))


def _look(closes: np.ndarray, bar: int, bars: int, phase: int = 0) -> Lookahead:
    """A candle source's look: 4 ticks a bar from tick `phase` of `bar` on (the first of each bar closes a candle),
    the history at each tick ending at its bar (an index into closes)."""
    ticks = np.arange(phase, 4 * bars)
    closed = bar + ticks // 4
    new_candle = ticks % 4 == 0
    bid = np.full(ticks.size, 100.0)
    return Lookahead(0, ticks * 15.0, new_candle, {KEY: MarketAhead(bid, closed, closes, bid)})


def _plain(closes: np.ndarray, bar: int, bars: int, held: bool, phase: int = 0) -> int:
    """The same look through a fresh strategy on a writable copy of closes: the plain path."""
    return _strategy().quiet_ticks(_look(np.array(closes), bar, bars, phase), _View(held))


@pytest.mark.parametrize("chunk", [momentum_screen.SCREEN_CHUNK, 16], ids=["chunk", "small-chunk"])
@pytest.mark.parametrize("held", [False, True], ids=["flat", "held"])
def test_memo_answers_every_look_as_the_plain_path(held, chunk, monkeypatch):
    monkeypatch.setattr(momentum_screen, "SCREEN_CHUNK", chunk)  # small: looks end on and across a chunk's edge often
    closes = _frozen(_walk(6000, seed=3))
    strategy = _strategy()
    rng = np.random.default_rng(7)
    bar, answers = 0, set()
    while bar < 5980:  # from before the warm-up (undefined readings) across several chunks, to the end
        bars, phase = int(rng.integers(1, 40)), int(rng.integers(0, 4))
        bars = min(bars, closes.size + 1 - bar)
        got = strategy.quiet_ticks(_look(closes, bar, bars, phase), _View(held))
        assert got == _plain(closes, bar, bars, held, phase), (bar, bars, phase)
        answers.add(got == 4 * bars - phase)
        bar += max(1, (got - phase) // 4 + 1) if rng.random() < 0.8 else int(rng.integers(1, 5))
    assert answers == {True, False}, "some looks quiet all through, some cut"
    assert strategy._screen._screens[KEY][0] is closes, "the looks went through the memo"


def test_memo_follows_a_new_array_and_a_look_back():
    """A window swaps in a new array (another batch): the memo of the old one must not answer for it,
    at the same ends; a restart looks back before the memo's chunk."""
    first = _frozen(_walk(5000, seed=4))
    second = _frozen(_walk(5000, seed=5))
    strategy = _strategy()
    for closes, bar in ((first, 3000), (second, 3000), (second, 4100), (second, 100), (first, 3010)):
        for start in range(bar, bar + 300, 7):
            got = strategy.quiet_ticks(_look(closes, start, 20), _View(False))
            assert got == _plain(closes, start, 20, False), (start, closes is first)


def test_a_writable_array_changed_between_looks_is_read_again():
    closes = np.array(_walk(3000, seed=6))
    strategy = _strategy()
    before = [strategy.quiet_ticks(_look(closes, start, 20), _View(False)) for start in range(1000, 2000, 10)]
    closes[:] = closes[::-1]  # the same object, other values
    after = [strategy.quiet_ticks(_look(closes, start, 20), _View(False)) for start in range(1000, 2000, 10)]
    assert after == [_plain(closes, start, 20, False) for start in range(1000, 2000, 10)]
    assert after != before
    # A read-only view of writable memory can change too: never kept either.
    view = closes[:]
    view.flags.writeable = False
    assert not momentum_screen._immutable(view) and momentum_screen._immutable(_frozen(closes))
    strategy.quiet_ticks(_look(view, 1500, 20), _View(False))
    closes[:] = closes[::-1]
    assert [strategy.quiet_ticks(_look(view, s, 20), _View(False)) for s in range(1000, 2000, 10)] == before



def _stops_strategy() -> MomentumStrategy:
    return MomentumStrategy(MomentumConfig(fast=5, slow=13, rsi_period=14, volatility_period=30, rsi_filter=False,
                                           stop_volatility_mult=1.0, take_profit_volatility_mult=1.5, order_qty=1.0),
                            ("binance",), ("BTC/USDT",))


def _stops_look(closes: np.ndarray, bar: int, bars: int, phase: int, rng) -> Lookahead:
    """_look with bids around each tick's last close (some missing: no bar then), so stops and targets
    are near and some trigger; no candle closes in it (the trend screen says nothing)."""
    ticks = np.arange(phase, 4 * bars)
    closed = bar + ticks // 4
    bid = closes[np.maximum(closed - 1, 0)] * (1.0 + rng.normal(0.0, 0.002, ticks.size))
    bid[rng.random(ticks.size) < 0.05] = np.nan
    bid.flags.writeable = False
    return Lookahead(0, ticks * 15.0, np.zeros(ticks.size, dtype=bool), {KEY: MarketAhead(bid, closed, closes, bid)})


class _Held(_View):
    def __init__(self, avg_cost: float):
        self._positions = [PositionView("BTC", 1.0, avg_cost, {"binance": 1.0}, 0.0)]


@pytest.mark.parametrize("chunk", [momentum_screen.SCREEN_CHUNK, 16], ids=["chunk", "small-chunk"])
def test_level_memo_answers_every_look_as_the_plain_path(chunk, monkeypatch):
    monkeypatch.setattr(momentum_screen, "SCREEN_CHUNK", chunk)
    walks = (_frozen(_walk(6000, seed=9)), _frozen(_walk(6000, seed=10)))  # swapped every 700 bars
    strategy = _stops_strategy()
    rng = np.random.default_rng(11)
    bar, cuts, answers = 0, set(), 0
    while bar < 5980:
        closes = walks[(bar // 700) % 2]
        bars, phase = int(rng.integers(1, 30)), int(rng.integers(0, 4))
        bars = min(bars, closes.size + 1 - bar)
        look = _stops_look(closes, bar, bars, phase, rng)
        view = _Held(float(closes[max(bar - 1, 0)]) * float(rng.choice([1.0, 1.003, 0.997])))
        got = strategy.quiet_ticks(look, view)
        plain = _stops_strategy().quiet_ticks(
            Lookahead(0, look.ts, look.new_candle, {KEY: MarketAhead(look.markets[KEY].bid, look.markets[KEY].closed,
                                                                     np.array(closes), look.markets[KEY].ask)}), view)
        assert got == plain, (bar, bars, phase)
        cuts.add(got < len(look))
        answers += 1
        bar += int(rng.integers(1, 20)) if rng.random() < 0.97 else -int(rng.integers(0, min(bar, 200) + 1))
    assert cuts == {True, False} and answers > 300
    assert strategy._screen._level_memo[KEY][0] is closes, "the looks went through the memo"


def test_arrays_renewed_at_every_look_are_answered_without_a_chunk():
    """A replay hands each look a new closes array: each look is answered for its own ends (the plain
    path's answer), no chunk is made for an array no later look sees; one seen twice gets its chunk."""
    strategy = _stops_strategy()
    rng = np.random.default_rng(12)
    base = _walk(3000, seed=13)
    for k, bar in enumerate(range(1000, 2500, 50)):
        closes = _frozen(base[:bar + 60])  # a new array each look, as a replay's history view
        view = _Held(float(closes[bar - 1]))
        look = _look(closes, bar, 10) if k % 2 else _stops_look(closes, bar, 10, 0, rng)  # one look an array
        assert strategy.quiet_ticks(look, view) == _stops_strategy().quiet_ticks(look, view), bar
        if k:  # (the trend screen reads only the looks with candle ticks: every other one)
            assert strategy._screen._level_memo[KEY][1] is None
            assert k < 3 or strategy._screen._screens[KEY][1] is None
    for start in (2500, 2510):  # the same array twice: the second look makes and uses the chunk
        look = _stops_look(closes, start - 400, 10, 0, rng)
        assert strategy.quiet_ticks(look, view) == _stops_strategy().quiet_ticks(look, view)
    assert strategy._screen._level_memo[KEY][0] is closes and strategy._screen._level_memo[KEY][1] is not None
