"""Candle files generated for tests: a trending random walk of 1-minute bars, written through the store."""
from __future__ import annotations

import numpy as np

from bot.market.candle_store import CandleSeries, candle_path, write_series

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def walk(bars: int, seed: int = 3, price: float = 100.0, vol: float = 0.002, start_ms: int = START_MS) -> tuple:
    """(ts ms, values (bars, 5)) of a random walk with drifting regimes, so EMAs cross now and then."""
    rng = np.random.default_rng(seed)
    regime = np.repeat(rng.choice([-1.0, 0.0, 1.0], size=bars // 60 + 1), 60)[:bars]
    close = price * np.exp(np.cumsum(rng.normal(regime * 0.3 * vol, vol, bars)))
    open_ = np.concatenate([[price], close[:-1]])
    wiggle = np.abs(rng.normal(0, vol / 2, (2, bars)))
    high = np.maximum(open_, close) * (1 + wiggle[0])
    low = np.minimum(open_, close) * (1 - wiggle[1])
    volume = rng.uniform(50, 150, bars)
    ts = start_ms + 60_000 * np.arange(bars, dtype=np.int64)
    return ts, np.column_stack([open_, high, low, close, volume])


def write_walk(folder, exchange: str = "binance", symbol: str = "BTC/USDT", bars: int = 2000, **kw):
    """Write a generated file into a candle dir; returns its path."""
    ts, values = walk(bars, **kw)
    path = candle_path(folder, exchange, symbol, "1m")
    write_series(path, CandleSeries(exchange, symbol, "1m", ts, values), fsync=False)
    return path


def candle_engine(config: dict, root, fast_forward: bool = True):
    """An opened BotEngine on --market candles with config (a copy is changed), its data and logs under root,
    fast-forward on or off, one equity sample a minute, fsync off."""
    import copy

    from bot.cli_candles import prepare_backtest
    from bot.config import parse_config
    from bot.engine import BotEngine

    config = copy.deepcopy(config)
    config["market"]["source"] = "candles"
    config["candles"]["fast_forward"] = fast_forward
    config["storage"] = {"data_dir": str(root / "data"), "log_dir": str(root / "logs"), "fsync": False}
    config["engine"] = {"equity_sample_seconds": 60.0}
    engine = BotEngine(prepare_backtest(parse_config(config))[0])
    engine.open()
    return engine
