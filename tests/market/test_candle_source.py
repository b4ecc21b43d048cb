"""CandleMarket: the intrabar path, the book model, history, since/until, news; bad candle files refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bot.cli_candles import prepare_backtest
from bot.config import parse_config
from bot.config_candles import CandlesConfig
from bot.market.candle_source import CandleMarket
from bot.market.candle_store import CandleFileError, CandleSeries, candle_path, write_series
from tests.candle_files import START_MS, write_walk

ROOT = Path(__file__).resolve().parents[2]
UP = [100.0, 103.0, 99.0, 102.0, 40.0]  # open, high, low, close, volume: closes above its open
DOWN = [102.0, 104.0, 97.0, 98.0, 80.0]


def _write(folder, rows, exchange="binance", symbol="BTC/USDT", start_ms=START_MS, minutes=None):
    ts = np.array(minutes if minutes is not None else range(len(rows)), dtype=np.int64) * 60_000 + start_ms
    write_series(candle_path(folder, exchange, symbol, "1m"),
                 CandleSeries(exchange, symbol, "1m", ts, np.array(rows, dtype=float)), fsync=False)


def _settings(folder, **book) -> CandlesConfig:
    return CandlesConfig(data_dir=str(folder), default={"spread_bps": 20.0, "depth_usdt": 1000.0, "levels": 3,
                                                        "level_spacing_bps": 10.0, "volume_share": 0.0, **book})


def test_the_intrabar_path_is_o_l_h_c_up_and_o_h_l_c_down_at_fixed_seconds(tmp_path):
    _write(tmp_path, [UP, DOWN, UP])
    market = CandleMarket(_settings(tmp_path))
    ticks = [market.next_snapshot() for _ in range(12)]
    lasts = [s.quotes[("binance", "BTC/USDT")].last for s in ticks]
    assert lasts == [100, 99, 103, 102, 102, 104, 97, 98, 100, 99, 103, 102]
    assert [s.ts - START_MS / 1000 for s in ticks[:5]] == [0, 15, 30, 45, 60]
    assert [s.new_candle for s in ticks] == [False] * 4 + [True, False, False, False] * 2
    assert market.finished
    quote = ticks[1].quotes[("binance", "BTC/USDT")]
    assert (quote.bid, quote.ask) == pytest.approx((99 * (1 - 0.001), 99 * (1 + 0.001)))


def test_a_closed_bar_is_history_from_the_next_minute_on_never_before(tmp_path):
    _write(tmp_path, [UP, DOWN, UP])
    market = CandleMarket(_settings(tmp_path))
    seen = []
    for _ in range(9):
        snapshot = market.next_snapshot()
        seen.append(snapshot.history.closes("binance", "BTC/USDT", 10).tolist())
    assert seen[:4] == [[]] * 4
    assert seen[4:8] == [[102.0]] * 4  # the first bar, from its next minute's open on
    assert seen[8] == [102.0, 98.0]
    assert [c.close for c in snapshot.history.candles("binance", "BTC/USDT", 1)] == [98.0]


def test_the_book_has_the_configured_levels_capped_by_the_bars_volume(tmp_path):
    _write(tmp_path, [UP])
    market = CandleMarket(_settings(tmp_path, volume_share=0.3))
    snapshot = market.next_snapshot()
    book = snapshot.order_book("binance", "BTC/USDT")
    # 1000 USDT per level is 10 BTC at 100, but the side may hold only 0.3 x 40 / 4 ticks = 3: 1 per level.
    assert np.array(book.asks) == pytest.approx(np.array([(100.1, 1.0), (100.1 * 1.001, 1.0), (100.1 * 1.002, 1.0)]))
    assert np.array(book.bids) == pytest.approx(np.array([(99.9, 1.0), (99.9 * 0.999, 1.0), (99.9 * 0.998, 1.0)]))
    market.seek(0)
    uncapped = CandleMarket(_settings(tmp_path)).next_snapshot().order_book("binance", "BTC/USDT")
    assert uncapped.asks[0][1] == pytest.approx(1000.0 / 100.0)


def test_per_market_overrides_and_fees(tmp_path):
    _write(tmp_path, [UP])
    settings = CandlesConfig(data_dir=str(tmp_path), default={"spread_bps": 20.0, "taker_fee": 0.002},
                             markets={"binance": {"BTC/USDT": {"spread_bps": 2.0}}})
    market = CandleMarket(settings)
    assert market.markets[("binance", "BTC/USDT")].taker_fee == 0.002
    quote = market.next_snapshot().quotes[("binance", "BTC/USDT")]
    assert quote.ask - quote.bid == pytest.approx(100 * 2e-4)


def test_since_starts_trading_later_with_the_bars_before_as_history_and_until_cuts(tmp_path):
    _write(tmp_path, [UP, DOWN, UP, DOWN, UP])
    market = CandleMarket(CandlesConfig(data_dir=str(tmp_path), since="2026-01-01T00:02:00Z",
                                        until="2026-01-01T00:04:00Z"))
    first = market.next_snapshot()
    assert first.ts == START_MS / 1000 + 120 and first.new_candle
    assert first.history.closes("binance", "BTC/USDT", 10).tolist() == [102.0, 98.0]
    assert market.total_ticks == 8
    for _ in range(7):
        market.next_snapshot()
    assert market.finished


def test_markets_run_on_the_union_of_their_minutes_and_a_missing_bar_has_no_quote(tmp_path):
    _write(tmp_path, [UP, UP, UP], symbol="BTC/USDT")
    _write(tmp_path, [DOWN, DOWN], symbol="ETH/USDT", minutes=[0, 2])
    market = CandleMarket(CandlesConfig(data_dir=str(tmp_path)))
    present = []
    for _ in range(12):
        snapshot = market.next_snapshot()
        present.append(sorted(s for _, s in snapshot.quotes))
    assert present[0] == ["BTC/USDT", "ETH/USDT"] and present[4] == ["BTC/USDT"] and present[8] == present[0]


def test_headlines_from_the_news_file_arrive_on_the_first_tick_at_or_after_their_time(tmp_path):
    _write(tmp_path, [UP, UP])
    news = tmp_path / "news.jsonl"
    news.write_text(json.dumps({"ts": "2026-01-01T00:00:20Z", "title": "Bitcoin ETF approved", "source": "wire",
                                "symbols": ["BTC/USDT"]}) + "\n")
    market = CandleMarket(CandlesConfig(data_dir=str(tmp_path), news_file=str(news)))
    arrivals = [len(market.next_snapshot().news) for _ in range(8)]
    assert arrivals == [0, 0, 1, 0, 0, 0, 0, 0]  # the tick at 30 s


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of unusable candle file, written for real; name -> (file, what the message says)."""
    cases = {}
    empty = candle_path(folder / "empty", "binance", "BTC/USDT", "1m")
    write_series(empty, CandleSeries("binance", "BTC/USDT", "1m", np.empty(0, np.int64), np.empty((0, 5))), fsync=False)
    cases["empty"] = (empty, "empty (no candles)")
    other = candle_path(folder / "schema", "binance", "BTC/USDT", "1m")
    other.parent.mkdir(parents=True)
    table = pa.table({"ts": [1], "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]})
    pq.write_table(table.replace_schema_metadata({"schema_version": "2", "exchange": "binance",
                                                  "symbol": "BTC/USDT", "timeframe": "1m"}), other)
    cases["schema"] = (other, "candle schema version 2, this bot reads version 1")
    damaged = write_walk(folder / "damaged", bars=20_000)
    data = bytearray(damaged.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = b"\xff" * 64
    damaged.write_bytes(bytes(data))
    cases["damaged"] = (damaged, "damaged")
    bad_row = candle_path(folder / "row", "binance", "BTC/USDT", "1m")
    write_series(bad_row, CandleSeries("binance", "BTC/USDT", "1m", np.array([START_MS, START_MS + 60_000]),
                                       np.array([UP, [100.0, 99.0, 98.0, 100.5, 1.0]])), fsync=False)
    cases["row"] = (bad_row, "row 2: high 99 / low 98 do not enclose open 100 and close 100.5")
    cases["missing"] = (folder / "nowhere", "no such directory")
    return cases


@pytest.mark.parametrize("case", ["empty", "schema", "damaged", "row", "missing"])
def test_an_unusable_candle_file_is_named_with_its_problem(tmp_path, case):
    path, message = _bad_files(tmp_path)[case]
    folder = path if case == "missing" else path.parent.parent
    with pytest.raises(CandleFileError) as caught:
        prepare_backtest(parse_config({"market": {"source": "candles"}, "candles": {"data_dir": str(folder)}}))
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_run_bot_refuses_a_damaged_file_with_one_line_and_writes_nothing(tmp_path):
    path, _ = _bad_files(tmp_path)["damaged"]
    done = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "--no-dashboard", "--fast", "--market", "candles",
                           "--data", str(path.parent.parent), "--data-dir", str(tmp_path / "run"), "--log-dir",
                           str(tmp_path / "logs")], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {path}: damaged") and done.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists() and not (tmp_path / "logs").exists()


def test_strategies_candles_cannot_feed_are_switched_off_saying_why(tmp_path):
    write_walk(tmp_path, bars=10)
    config, warnings = prepare_backtest(parse_config({"market": {"source": "candles"},
                                                      "candles": {"data_dir": str(tmp_path)}}))
    assert not config.strategies.arbitrage.enabled and not config.strategies.news.enabled
    assert config.strategies.momentum.enabled
    assert config.market.exchanges == ["binance"] and config.market.symbols == ["BTC/USDT"]
    assert any(w.startswith("arbitrage is refused in a candle backtest (switched off): cross-exchange and triangular arbitrage need "
                            "real order books") for w in warnings)
    assert any("no headlines were given (candles.news_file" in w for w in warnings)
    assert any(w.startswith("stat_arb is off") for w in warnings)
    write_walk(tmp_path, symbol="ETH/USDT", bars=10)
    config, warnings = prepare_backtest(parse_config({"market": {"source": "candles"},
                                                      "candles": {"data_dir": str(tmp_path)}}))
    assert config.strategies.stat_arb.enabled and not any(w.startswith("stat_arb") for w in warnings)


def test_a_backtest_ends_when_the_candles_run_out_and_paces_by_market_speed(tmp_path):
    from bot.engine import BotEngine

    write_walk(tmp_path / "candles", bars=120)
    config, _ = prepare_backtest(parse_config({"market": {"source": "candles", "speed": 30.0},
                                               "candles": {"data_dir": str(tmp_path / "candles")},
                                               "storage": {"data_dir": str(tmp_path / "d"),
                                                           "log_dir": str(tmp_path / "l"), "fsync": False}}))
    engine = BotEngine(config)
    assert engine.loop.interval_seconds == pytest.approx(15.0 / 30.0)  # a 15 s tick at 30 market s per wall s
    engine.open()
    try:
        engine.run_fast(None)  # returns by itself
        assert engine.next_tick == 480 and engine.last_snapshot.ts == START_MS / 1000 + 119 * 60 + 45
    finally:
        engine.close()
