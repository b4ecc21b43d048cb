"""The bulk parts of a fast-forwarded stretch (bot/fast_forward.py) against the per-tick code they
stand for: sample times (the tracker's rule, written out here), equity lines (equity_line of the
records, json.dumps), ISO times (datetime), the chart archive taken by stretches (note() on every
tick), the health window (tick_succeeded n times)."""
from __future__ import annotations

import json
import math
import random
from datetime import datetime, timezone

import numpy as np
import pytest

from bot.accounting.equity_log import equity_line
from bot.chart_data import CandleArchive
from bot.fast_samples import EVEN_TICKS, LOOP_TICKS, SampleBlock, _evenly, _on_grid, sample_ticks
from bot.faults import RECENT_TICKS, FaultTracker
from bot.models import Candle, CandleHistory
from bot.timestamps import iso_utc_many

KEY = ("binance", "BTC/USDT")


def rule(ts: list[float], last: float, every: float) -> list[int]:
    """PortfolioTracker.mark's rule, tick by tick."""
    out = []
    for j, t in enumerate(ts):
        if t - last >= every:
            out.append(j)
            last = t
    return out


def candle_ticks(rng: random.Random, n: int, start: float) -> np.ndarray:
    """Candle ticks: 0/15/30/45 s into each minute, now and then a run of missing minutes."""
    out, minute = [], start
    while len(out) < n + 4:
        out.extend(minute + offset for offset in (0.0, 15.0, 30.0, 45.0))
        minute += 60.0 * (rng.randint(2, 90) if rng.random() < 0.02 else 1)
    return np.asarray(out[rng.randrange(4):][:n])


def test_sample_ticks_follow_the_trackers_rule():
    rng = random.Random(3)
    on_grid = 0
    for case in range(400):
        n = rng.choice([0, 1, 5, 50, LOOP_TICKS - 1, LOOP_TICKS, 700, 4096])
        ts = candle_ticks(rng, n, 1.7e9)
        if case % 5 == 1:
            ts = np.sort(ts + np.round(np.asarray([rng.random() for _ in range(n)]) * 3, 3))  # off the grid
        if case % 11 == 2 and n > 3:
            ts[n // 2:] = ts[n // 2:] - 200.0  # not in order
        every = rng.choice([60.0, 60.0, 15.0, 37.0, 120.0, 0.0])
        last = float(ts[0]) - rng.choice([0.0, 15.0, 45.0, 60.0, 61.5, 1e9]) if n else 0.0
        assert sample_ticks(ts, last, every) == rule(ts.tolist(), last, every), (case, n, every, last)
        if n >= LOOP_TICKS and _on_grid(ts, last, every) is not None:
            on_grid += 1
    assert on_grid >= 40, "long regular stretches are solved as arrays"
    for step, every, offset in ((0.1, 0.1, 0.0), (0.1, 0.3, 0.7), (0.01, 0.07, 1e3), (1 / 3, 1.0, 1.7e9)):
        ts = offset + np.arange(3000) * step  # not exact multiples: differences round both ways
        for last in (offset - every, offset - 0.5 * every, offset - 1e-9):
            assert sample_ticks(ts, last, every) == rule(ts.tolist(), last, every), (step, every, last)
    nan = np.asarray([1.0, 2.0, float("nan")] * 100)
    assert sample_ticks(nan, 0.0, 1.0) == rule(nan.tolist(), 0.0, 1.0)


def test_runs_on_the_grid_are_the_rule_however_many(monkeypatch):
    """_on_grid with no cap on its runs (each rounding or gap starts one), on ticks whose differences round."""
    import bot.fast_samples as fast_samples

    monkeypatch.setattr(fast_samples, "MAX_RUNS", 10 ** 6)
    rng = random.Random(6)
    cases = [(offset + np.arange(2000) * step, every) for step, every, offset in
             ((0.1, 0.1, 0.0), (0.1, 0.3, 0.7), (0.01, 0.07, 1e3), (1 / 3, 1.0, 1.7e9), (0.1, 0.2, 1.7e9))]
    cases += [(candle_ticks(rng, 1000, 1.7e9), rng.choice([60.0, 15.0, 37.0, 120.0])) for _ in range(30)]
    for ts, every in cases:
        for last in (float(ts[0]) - every, float(ts[0]) - 0.5 * every, float(ts[0]) - 1e-9, float(ts[5])):
            assert _on_grid(ts, last, every) == rule(ts.tolist(), last, every), (every, last)


def test_evenly_spaced_whole_ticks_are_the_rule_by_arithmetic():
    """_evenly (whole-second ticks a whole step apart) against the rule, for steps every is and is not a
    multiple of, and last samples behind, between, far ahead of or rounding against the ticks."""
    rng = random.Random(9)
    taken = 0
    for case in range(600):
        n = rng.choice([2, 3, EVEN_TICKS, 257, 1000, 4096])
        step = rng.choice([15.0, 15.0, 1.0, 60.0, 7.0, 3600.0])
        first = rng.choice([1.7e9, 0.0, 1_773_187_215.0, 2.0 ** 53 - step * n - 1.0])
        ts = first + np.arange(n) * step
        every = rng.choice([60.0, 60.0, 15.0, 14.0, 16.0, 37.0, 0.5, 1e-300, 1e9, step * n * 2])
        last = rng.choice([-math.inf, first - every, first - 45.0, first - every - 1e-7, first - 0.1,
                           first, first + every * 3.5, first + step * n * 3, first - 1e-300, math.inf])
        found = _evenly(ts, last, every)
        assert found is not None, (case, n, step, first, every, last)
        assert found == rule(ts.tolist(), last, every), (case, n, step, first, every, last)
        assert sample_ticks(ts, last, every) == rule(ts.tolist(), last, every)
        taken += 1
    assert taken == 600
    even = 1.7e9 + np.arange(300) * 15.0
    refused = [even + 0.5, even - 1.7e9 - 15.0,  # not whole seconds; a tick before 0
               np.concatenate([even[:150], even[150:] + 60.0]),  # a gap
               np.concatenate([even[:-1], even[-1:] + 1.0]),  # the last difference off (the ends disagree)
               np.where(np.arange(300) == 7, even + 5.0, even),  # one tick off (the ends agree)
               even[::-1], 1.7e9 + np.arange(300) * 0.5]
    for ts in refused:
        assert _evenly(ts, 1.7e9 - 60.0, 60.0) is None
        assert sample_ticks(ts, 1.7e9 - 60.0, 60.0) == rule(ts.tolist(), 1.7e9 - 60.0, 60.0)
    for every, last in ((0.0, 0.0), (math.nan, 0.0), (math.inf, 0.0), (60.0, math.nan), (-1.0, 0.0)):
        assert _evenly(even, last, every) is None
        assert sample_ticks(even, last, every) == rule(even.tolist(), last, every)


def _strftime(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_iso_utc_many_matches_datetime():
    rng = random.Random(4)
    day = 1_773_187_200.0  # a midnight
    runs = [[], [day], [day + 86_340.0 + k * 60.0 for k in range(3)],  # across midnight
            [day + 15.0 + k * 60.0 for k in range(30)], [day + 0.5 + k * 60.0 for k in range(4)],
            [day + k * 60.0 for k in range(1440)], [day + k * 120.0 for k in range(5)], [day + 60.0, day],
            [day + 86_340.0, day + 86_400.0], [day, day + 90.0, day + 120.0], [day + 86_399.0, day + 86_459.0]]
    runs += [[rng.randrange(0, 4_000_000_000) + k * 60.0 for k in range(rng.randint(1, 40))] for _ in range(300)]
    for run in runs:
        assert iso_utc_many(np.asarray(run, dtype=float)) == [_strftime(t) for t in run]


def _block(rng: random.Random, n: int, names: list[str]) -> SampleBlock:
    block = SampleBlock.__new__(SampleBlock)

    def column():
        kind = rng.random()
        if kind < 0.3:
            return rng.choice([0.0, -0.0, 1e6, -3.25, 5e-324, 1e22, 0.1 + 0.2, 1 / 3, -1e-7, 123456789.12345679])
        return np.asarray([rng.uniform(-1e9, 1e9) * 10 ** rng.randint(-20, 5) for _ in range(n)])

    block.samples, block.size, block.finite = list(range(n)), n, False
    block.times = np.asarray([1.7e9 + 60.0 * k for k in range(n)]) + rng.choice([0.0, 15.0, 0.25])
    block.equity, block.holdings = column(), column()
    block.trading = block.equity if rng.random() < 0.3 else block.equity - block.holdings
    block.strategies = {name: column() for name in names}
    return block


def test_block_lines_are_equity_line_of_its_records():
    rng = random.Random(5)
    for _ in range(300):
        n = rng.randint(1, 30)
        names = sorted(rng.sample(["momentum", "stat_arb", 'q"\\é\n', "50%", "%s"], rng.randint(0, 3)))
        block = _block(rng, n, names)
        count = rng.randint(1, n)
        records = block.records(count)
        expected = [json.dumps(r, ensure_ascii=False, separators=(",", ":"), allow_nan=False) for r in records]
        assert [equity_line(r) for r in records] == expected
        assert block.lines(count) == expected
    block = _block(rng, 4, ["momentum"])
    block.strategies["momentum"] = np.asarray([1.0, float("nan"), 2.0, 3.0])
    assert block.lines(4) is None  # such records go through equity_line, which refuses them
    assert block.lines(1) is not None


def test_block_lines_at_any_times():
    """Minute runs (formatted from a table), and times that are not: across midnight, with a gap, off the second."""
    rng = random.Random(7)
    day = 1_773_187_200.0  # a midnight
    runs = [[day], [day + 86_340.0 + k * 60.0 for k in range(3)], [day + 86_280.0 + k * 60.0 for k in range(2)],
            [day + 15.0 + k * 60.0 for k in range(30)], [day + 0.5 + k * 60.0 for k in range(4)],
            [day + k * 60.0 for k in range(1440)], [day + k * 120.0 for k in range(5)], [day, day + 90.0, day + 120.0],
            [day + 86_399.0, day + 86_459.0], [day + 59.0 + k * 60.0 for k in range(3)], [0.0, 60.0], [-60.0, 0.0]]
    runs += [[rng.randrange(0, 4_000_000_000) + k * 60.0 for k in range(rng.randint(1, 40))] for _ in range(100)]
    for run in runs:
        block = _block(rng, len(run), ["momentum"])
        block.times = np.asarray(run, dtype=float)
        expected = [json.dumps(r, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
                    for r in block.records(len(run))]
        assert block.lines(len(run)) == expected, run[:3]
    assert block.lines(0) == []  # (a stretch cut at its first sample, near the kill switch)


def test_block_lines_of_finite_values_whose_sum_overflows():
    block = _block(random.Random(6), 3, ["momentum"])
    block.equity = block.trading = np.asarray([1e308, 1.5e308, -1e308])  # sum() is inf: each value is finite
    block.strategies["momentum"] = np.asarray([1.7e308, 1.7e308, 2.5])
    expected = [json.dumps(r, ensure_ascii=False, separators=(",", ":"), allow_nan=False) for r in block.records(3)]
    assert block.lines(3) == expected and block.finite
    block.strategies["momentum"] = np.asarray([1.7e308, float("inf"), 2.5])
    assert block.lines(3) is None and not block.finite


def _near_kill(values: np.ndarray, start: float, limit_pct: float) -> int:
    """The first sample within the margin of the limit, as the engine's meter would see it, sample by sample."""
    peak = start
    for k, value in enumerate(values.tolist()):
        peak = max(peak, value)
        fall = (peak - value) / peak * 100.0 if peak > 0 else 0.0
        if not fall <= limit_pct * (1.0 - 1e-9):
            return k
    return len(values)


@pytest.mark.parametrize("python_samples", [64, 0])  # a float at a time, and as arrays
def test_the_kill_switch_margin_is_found_at_the_sample_the_meter_would_find(monkeypatch, python_samples):
    import bot.fast_samples as fast_samples

    monkeypatch.setattr(fast_samples, "PYTHON_SAMPLES", python_samples)
    rng = random.Random(7)
    for _ in range(400):
        n = rng.randint(1, 40)
        values = np.asarray([1000.0 + rng.gauss(0, 5) for _ in range(n)])
        if rng.random() < 0.2:
            values[rng.randrange(n)] = rng.choice([0.0, -5.0])
        block = SampleBlock.__new__(SampleBlock)
        block.size, block.samples, block.holdings = n, list(range(n)), 0.0
        block.equity = block.trading = values if rng.random() < 0.8 else float(values[0])
        start, limit = rng.choice([995.0, 1000.0, 1010.0, 0.0, -1.0]), rng.choice([0.1, 0.5, 1.0, 20.0])
        basis = rng.choice(["equity", "trading"])
        portfolio, meter = type("P", (), {"peak_equity": start})(), type("D", (), {"basis": basis, "trading_peak": start})()
        column = values if type(block.equity) is not float else np.full(n, block.equity)
        assert block.first_near_kill(portfolio, meter, limit) == _near_kill(column, start, limit)


class FullHistory(CandleHistory):
    """A source that has every candle of minutes [0, end), with the array read a candle source has."""

    def __init__(self, minutes: list[int]):
        self.minutes, self.end = minutes, 0
        rows = np.asarray([[m, m + 1.5, m - 1.25, m + 0.5, 7.0 + m % 3] for m in minutes], dtype=float)
        self.ts_ms, self.rows = np.asarray(minutes, dtype=np.int64) * 60_000, rows

    def candles(self, exchange, symbol, count):
        lo = max(0, self.end - count)
        return [Candle(t / 1000.0, *row) for t, row in zip(self.ts_ms[lo:self.end].tolist(),
                                                            self.rows[lo:self.end].tolist())]

    def candle_arrays(self, exchange, symbol, count):
        lo = max(0, self.end - count)
        return self.ts_ms[lo:self.end] / 1000.0, self.rows[lo:self.end].copy()


class Snap:
    def __init__(self, history, new_candle=True):
        self.markets, self.history, self.new_candle = {KEY: None}, history, new_candle


def _content(archive: CandleArchive) -> tuple:
    candles = archive.candles(KEY)
    return [(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in candles], archive.gaps


@pytest.mark.parametrize("cap", [30, 1000])
def test_an_archive_taken_in_stretches_reads_as_one_noted_every_tick(cap):
    rng = random.Random(cap)
    minutes = sorted(rng.sample(range(5000), 2500))  # with holes
    stepped_history, skipped_history = FullHistory(minutes), FullHistory(minutes)
    stepped, skipped = CandleArchive(max_per_market=cap), CandleArchive(max_per_market=cap)
    stepped_history.end = skipped_history.end = 40
    stepped.note(Snap(stepped_history))
    skipped.note(Snap(skipped_history))
    reads = 0
    while stepped_history.end < len(minutes):
        if rng.random() < 0.4:  # a stepped tick
            stepped_history.end = skipped_history.end = stepped_history.end + 1
            for archive, history in ((stepped, stepped_history), (skipped, skipped_history)):
                archive.note(Snap(history))
        else:  # a stretch of bars, each noted on one side, taken at once on the other
            bars = rng.choice([1, 3, 12, 40, cap + 7, 2 * cap + 7] if cap < 100 else [1, 3, 12, 40, 300])
            for _ in range(min(bars, len(minutes) - stepped_history.end)):
                stepped_history.end += 1
                stepped.note(Snap(stepped_history))
                stepped.note(Snap(stepped_history, new_candle=False))
            closed = stepped_history.end - skipped_history.end
            skipped_history.end = stepped_history.end
            skipped.take_closed(Snap(skipped_history), KEY, closed + rng.choice([0, 0, 1, 5]))  # at least those
        if rng.random() < 0.15:  # the chart reads now and then (window() and candles() both catch up)
            reads += 1
            assert skipped.window(KEY, None, None, 10) == stepped.window(KEY, None, None, 10)
            assert _content(skipped) == _content(stepped)
        owed = skipped._owed.get(KEY)
        assert owed is None or owed.count <= 2 * cap + 2 * cap + 10  # what the cap drops is not kept
    assert reads > 5
    assert _content(skipped) == _content(stepped)
    assert stepped.gaps == 0 and len(stepped.candles(KEY)) == min(cap, len(minutes))


def test_owed_candles_near_the_cap_keep_the_newest_held_ones():
    cap = 30
    for owed in range(cap - 5, cap + 3):
        history, expected = FullHistory(list(range(200))), CandleArchive(max_per_market=cap)
        history.end = 50
        archive = CandleArchive(max_per_market=cap)
        archive.note(Snap(history))
        expected.note(Snap(history))
        for part in (owed // 3, owed // 3, owed - 2 * (owed // 3)):  # three stretches, read after the last
            for _ in range(part):
                history.end += 1
                expected.note(Snap(history))
            archive.take_closed(Snap(history), KEY, part)
        assert _content(archive) == _content(expected), owed


def test_a_stretch_taken_before_the_first_note_reads_the_history():
    history = FullHistory(list(range(100)))
    history.end = 60
    archive = CandleArchive(max_per_market=50)
    archive.take_closed(Snap(history), KEY, 3)  # nothing held yet: all the history the source has, as note() would
    expected = CandleArchive(max_per_market=50)
    expected.note(Snap(history))
    assert _content(archive) == _content(expected)


def test_ticks_succeeded_is_tick_succeeded_n_times():
    for failed_first, count in ((3, 0), (3, 5), (40, 70), (10, RECENT_TICKS + 30)):
        one, bulk = FaultTracker(record=lambda *a, **k: None), FaultTracker(record=lambda *a, **k: None)
        for tracker in (one, bulk):
            for _ in range(failed_first):
                tracker.tick_failed(RuntimeError("x"))
        for _ in range(count):
            one.tick_succeeded()
        bulk.ticks_succeeded(count)
        assert list(bulk._recent_ticks) == list(one._recent_ticks)


def test_all_finite_is_numpys_isfinite_all():
    from bot.fast_samples import _all_finite

    rng = random.Random(8)
    specials = [float("nan"), float("inf"), -float("inf"), 1.7e308, -1.7e308, 5e-324, 0.0, -0.0]
    for _ in range(500):
        values = np.asarray([rng.choice(specials) if rng.random() < 0.2 else rng.uniform(-1e3, 1e3)
                             for _ in range(rng.randint(1, 12))])
        assert _all_finite(values) == bool(np.isfinite(values).all()), values


def test_a_block_is_made_only_when_every_market_has_a_bar_at_every_sample():
    from bot.accounting.portfolio import PortfolioTracker
    from bot.lookahead import Lookahead, MarketAhead

    portfolio = PortfolioTracker({"binance": {"USDT": 1000.0, "BTC": 0.5}})
    ts = 1.7e9 + 15.0 * np.arange(8)
    bid = 100.0 + np.arange(8.0)
    other = np.full(8, 7.0)

    def block(btc_bid, eth_bid):
        markets = {("binance", "BTC/USDT"): MarketAhead(btc_bid, np.zeros(8, np.int64), np.zeros(0), btc_bid + 1.0),
                   ("binance", "ETH/BTC"): MarketAhead(eth_bid, np.zeros(8, np.int64), np.zeros(0), eth_bid + 1.0)}
        return SampleBlock.make(portfolio, Lookahead(0, ts, np.zeros(8, bool), markets), [0, 4])

    made = block(bid, other)
    assert made is not None and made.equity.tolist() == [1000.0 + 0.5 * 100.5, 1000.0 + 0.5 * 104.5]
    for k, value in ((4, float("nan")), (0, float("inf"))):  # at a sample: the tracker samples instead
        with np.errstate(invalid="ignore"):  # (the block's sums meet inf - inf before it is dropped)
            assert block(np.where(np.arange(8) == k, value, bid), other) is None
            assert block(bid, np.where(np.arange(8) == k, value, other)) is None
    assert block(np.where(np.arange(8) == 3, float("nan"), bid), other) is not None  # between samples: no matter
    # What the tracker holds after the samples, as marking the last sampled tick leaves it.
    from types import SimpleNamespace

    meter = SimpleNamespace(trading_peak=-np.inf)
    made.apply(portfolio, meter, 100, 2)
    assert portfolio._marks == {"USDT": 1.0, "BTC": 104.5} and portfolio._marks_tick == 104
    assert portfolio._last_sample_ts == ts[4] and list(portfolio.equity_history)[-1] == (ts[4], 1000.0 + 0.5 * 104.5)
    assert portfolio.peak_equity == meter.trading_peak == 1000.0 + 0.5 * 104.5
