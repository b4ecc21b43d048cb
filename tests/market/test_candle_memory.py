"""The candle backtest's source streams its files: memory flat in the data's length, and what it
gives read from a sliding window equals the file read whole (pyarrow, separately) at every place."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pyarrow.parquet as pq
import pytest

import bot.market.candle_window as candle_window
from bot.cli_candles import prepare_backtest
from bot.config import StatArbConfig, parse_config
from bot.config_candles import CandlesConfig
from bot.chart_data import MAX_CANDLES_PER_MARKET
from bot.market.candle_source import CandleMarket
from bot.market.candle_store import BATCH_ROWS, CandleFileError, CandleSeries, candle_path, read_series, write_series
from bot.market.candle_window import CANDLES_24H, HISTORY_BARS
from tests.candle_files import walk, write_walk

SYMBOL = ("binance", "BTC/USDT")


def _run(config) -> None:
    """Check the files and run the source through them as a fast-forward does."""
    prepare_backtest(config)
    market = CandleMarket(config.candles)
    while not market.finished:
        ahead = market.lookahead(4096)
        market.seek(ahead.start_tick + len(ahead) - 1)
        snapshot = market.next_snapshot()
        snapshot.history.candles(*SYMBOL, 5)
        snapshot.history.closes(*SYMBOL, 600)


def _peak_bytes(folder) -> int:
    """Peak bytes traced (numpy's arrays included) while _run reads folder."""
    config = parse_config({"market": {"source": "candles"}, "candles": {"data_dir": str(folder)}})
    tracemalloc.start()
    try:
        _run(config)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_flat_in_the_length_of_the_data(tmp_path):
    bars = 2 * (HISTORY_BARS + BATCH_ROWS)  # both runs reach the window's full size (history and batches ahead)
    write_walk(tmp_path / "warm", bars=100)
    write_walk(tmp_path / "short", bars=bars)
    write_walk(tmp_path / "long", bars=4 * bars)
    _run(parse_config({"market": {"source": "candles"}, "candles": {"data_dir": str(tmp_path / "warm")}}))  # imports
    short, long = _peak_bytes(tmp_path / "short"), _peak_bytes(tmp_path / "long")
    # Holding the whole file costs ~230 bytes a bar here (+65 MB for the long one); the window does not grow.
    assert long - short < 1_000_000, (short, long)


def _two_markets(folder):
    """BTC every minute; ETH starting later, with missing minutes and a gap longer than HISTORY_BARS."""
    bars = 2 * HISTORY_BARS + 5000
    ts, values = walk(bars, seed=5)
    write_series(candle_path(folder, *SYMBOL, "1m"), CandleSeries(*SYMBOL, "1m", ts, values), fsync=False)
    ts, values = walk(bars, seed=6, price=50.0)
    keep = np.random.default_rng(2).random(bars) > 0.05
    keep[:700] = False
    keep[5000:5000 + HISTORY_BARS + 100] = False
    write_series(candle_path(folder, "binance", "ETH/USDT", "1m"),
                 CandleSeries("binance", "ETH/USDT", "1m", ts[keep], values[keep]), fsync=False)


def _whole(folder, symbol):
    table = pq.read_table(candle_path(folder, "binance", symbol, "1m"))
    return table.column("ts").to_numpy(), np.column_stack([table.column(c).to_numpy() for c in
                                                             ("open", "high", "low", "close", "volume")])


def test_the_window_gives_what_the_whole_file_says_across_batches_history_and_seeks(tmp_path, monkeypatch):
    monkeypatch.setattr(candle_window, "BATCH_ROWS", 1000)  # many batches, trims and checkpoints
    _two_markets(tmp_path)
    whole = {s: _whole(tmp_path, s) for s in ("BTC/USDT", "ETH/USDT")}
    grid = np.unique(np.concatenate([w[0] for w in whole.values()]))
    market = CandleMarket(CandlesConfig(data_dir=str(tmp_path), default={"spread_bps": 10.0}))
    assert market.total_ticks == grid.size * 4

    def check(tick, step):
        g = tick // 4
        snapshot = market.next_snapshot()
        assert snapshot.ts == grid[g] / 1000 + (0, 15, 30, 45)[tick % 4]
        for symbol, (ts, values) in whole.items():
            end = int(np.searchsorted(ts, grid[g]))  # bars closed before this minute
            closes = snapshot.history.closes("binance", symbol, 1441)
            assert closes.tolist() == values[max(0, end - 1441):end, 3].tolist()
            count = MAX_CANDLES_PER_MARKET if step % 8 == 0 else 5
            candles = snapshot.history.candles("binance", symbol, count)
            assert len(candles) == min(end, count)
            if candles:
                assert (candles[0].ts, candles[-1].close) == (ts[end - len(candles)] / 1000, values[end - 1, 3])
            quote = snapshot.quotes.get(("binance", symbol))
            assert (quote is not None) == (end < ts.size and ts[end] == grid[g])
            if quote is not None and tick % 4 == 0:
                assert quote.last == values[end, 0]
                expected = (values[end, 0] / values[end - CANDLES_24H, 3] - 1) * 100 if end >= CANDLES_24H else 0.0
                assert quote.change_24h_pct == expected

    rng = np.random.default_rng(7)
    tick = 0
    for step in range(40):
        ahead = market.lookahead(4096)
        for symbol, (ts, values) in whole.items():
            a = ahead.markets[("binance", symbol)]
            for i in range(0, len(ahead), 257):
                end = int(np.searchsorted(ts, grid[(tick + i) // 4]))
                start = max(0, end - 30)
                assert a.closes[a.closed[i] - (end - start):a.closed[i]].tolist() == values[start:end, 3].tolist()
        if step % 10 == 9:  # anywhere, often behind the window: read again from a checkpoint
            tick = int(rng.integers(0, market.total_ticks - 1))
        else:
            tick = min(tick + len(ahead) - 1, market.total_ticks - 1)
        market.seek(tick)
        check(tick, step)
        tick += 1


def test_history_kept_covers_every_reader():
    stat_arb_most = StatArbConfig.model_json_schema()["properties"]["lookback_candles"]["maximum"]
    assert HISTORY_BARS >= max(MAX_CANDLES_PER_MARKET, CANDLES_24H + 1, 1441, stat_arb_most + 1, 3 * 1000 + 1)


def test_a_row_out_of_order_at_a_batch_boundary_is_named_as_reading_the_whole_file_names_it(tmp_path):
    ts, values = walk(3 * BATCH_ROWS)
    ts[BATCH_ROWS] = ts[BATCH_ROWS - 1]  # the first row of the second batch repeats the time before
    path = candle_path(tmp_path, *SYMBOL, "1m")
    write_series(path, CandleSeries(*SYMBOL, "1m", ts, values), fsync=False)
    with pytest.raises(CandleFileError) as whole:
        read_series(path)
    with pytest.raises(CandleFileError) as streamed:
        prepare_backtest(parse_config({"market": {"source": "candles"}, "candles": {"data_dir": str(tmp_path)}}))
    assert str(streamed.value) == str(whole.value)
    assert f"row {BATCH_ROWS + 1}: time" in str(streamed.value)
