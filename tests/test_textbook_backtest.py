"""The textbook check: momentum on stored candles trades exactly as backtesting.py does on the same rules.

A candle file is generated here; the bot runs `--market candles` on it as a user would (a real
process), with latency 0, no spread, a deep book and a fixed 0.1 % fee, momentum reduced to the
plain EMA crossover by its documented switches (rsi_filter, volatility_exits, order_qty). The
same candles go to backtesting.py with a strategy written here from the rules alone: enter long
when the fast EMA crosses above the slow one on a closed bar, leave when it is below; orders
fill at the next bar's open. Trades are compared one by one: entry and exit bar, side, price,
size and fee.

The EMAs are computed here independently, the way momentum reads them: over the last W closes
(W = its warm-up length), seeded with the simple mean of the first `period` of them; "previous"
is the value one step before the end of the same window.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.candle_files import START_MS, walk
from bot.market.candle_store import CandleSeries, candle_path, write_series

ROOT = Path(__file__).resolve().parents[1]
FAST, SLOW, RSI_PERIOD, VOL_PERIOD = 5, 13, 14, 30
WINDOW = max(3 * SLOW, 3 * RSI_PERIOD, VOL_PERIOD) + 1  # momentum's warmup_candles
QTY, FEE, BARS = 10.0, 0.001, 3000


def textbook_config(candle_dir: Path) -> dict:
    """The config that turns the bot's momentum into the textbook EMA crossover on an ideal market."""
    return {
        "market": {"exchanges": ["binance"], "symbols": ["BTC/USDT"]},
        "portfolio": {"starting_balances": {"USDT": 1_000_000.0}},
        "execution": {"latency_ms": {"binance": 0.0, "default": 0.0}, "liquidity": {"enabled": False}},
        "risk": {"max_drawdown_pct": 100.0},
        "strategies": {
            "arbitrage": {"enabled": False}, "news": {"enabled": False}, "stat_arb": {"enabled": False},
            "momentum": {"fast": FAST, "slow": SLOW, "rsi_period": RSI_PERIOD, "volatility_period": VOL_PERIOD,
                         "rsi_filter": False, "volatility_exits": False, "order_qty": QTY, "cooldown_seconds": 0.0,
                         "max_position_pct": 100.0}},
        "candles": {"data_dir": str(candle_dir),
                    "default": {"spread_bps": 0.0, "depth_usdt": 1e9, "volume_share": 0.0, "taker_fee": FEE,
                                "maker_fee": FEE, "amount_step": 1e-8, "min_notional": 0.0}},
    }


def _window_ema(closes: list[float], end: int, period: int) -> tuple[float, float]:
    """(value at the window's end, value one step before) of the EMA over closes[end-WINDOW+1 .. end]."""
    window = closes[end - WINDOW + 1:end + 1]
    alpha = 2.0 / (period + 1)
    value = sum(window[:period]) / period
    previous = value
    for price in window[period:]:
        previous, value = value, alpha * price + (1.0 - alpha) * value
    return value, previous


def _indicators(closes: np.ndarray) -> dict[str, np.ndarray]:
    series = closes.tolist()
    out = {name: np.full(len(series), np.nan) for name in ("fast", "fast_prev", "slow", "slow_prev")}
    for end in range(WINDOW - 1, len(series)):
        out["fast"][end], out["fast_prev"][end] = _window_ema(series, end, FAST)
        out["slow"][end], out["slow_prev"][end] = _window_ema(series, end, SLOW)
    return out


def backtesting_py_trades(ts: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """The closed trades backtesting.py makes on the candles with the textbook rules."""
    from backtesting import Backtest, Strategy

    frame = pd.DataFrame(values, columns=["Open", "High", "Low", "Close", "Volume"],
                         index=pd.to_datetime(ts, unit="ms", utc=True))
    lines = _indicators(values[:, 3])

    class EmaCross(Strategy):
        def init(self):
            # Attributes, not a dict: backtesting.py shows each indicator up to the current bar only.
            self.fast = self.I(lambda: lines["fast"], name="fast")
            self.slow = self.I(lambda: lines["slow"], name="slow")
            self.fast_prev = self.I(lambda: lines["fast_prev"], name="fast_prev")
            self.slow_prev = self.I(lambda: lines["slow_prev"], name="slow_prev")

        def next(self):
            fast, slow = self.fast[-1], self.slow[-1]
            if not self.position:
                if self.fast_prev[-1] <= self.slow_prev[-1] and fast > slow:
                    self.buy(size=QTY)
            elif fast < slow:
                self.position.close()

    stats = Backtest(frame, EmaCross, cash=1_000_000, commission=FEE, trade_on_close=False,
                     finalize_trades=False).run()
    return stats._trades


def _our_round_trips(trades_file: Path) -> list[dict]:
    fills = [json.loads(line) for line in trades_file.read_text().splitlines()]
    fills = [f for f in fills if f.get("strategy") == "momentum"]
    trips = []
    for buy, sell in zip(fills[::2], fills[1::2]):
        trips.append({"side": buy["side"] + "/" + sell["side"], "qty": buy["qty"], "exit_qty": sell["qty"],
                      "entry_bar": _bar(buy["ts"]), "exit_bar": _bar(sell["ts"]), "entry_price": buy["price"],
                      "exit_price": sell["price"], "fees": buy["fee"] + sell["fee"],
                      "realized": buy["realized_pnl"] + sell["realized_pnl"]})
    return trips, fills


def _bar(iso: str) -> int:
    from bot.timestamps import parse_iso

    return int((round(parse_iso(iso) * 1000) - START_MS) // 60_000)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Our backtest (a real run_bot.py process) and backtesting.py's, on one generated file."""
    tmp = tmp_path_factory.mktemp("textbook")
    ts, values = walk(BARS, seed=21, price=100.0)
    write_series(candle_path(tmp / "candles", "binance", "BTC/USDT", "1m"),
                 CandleSeries("binance", "BTC/USDT", "1m", ts, values), fsync=False)
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(textbook_config(tmp / "candles")))
    done = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "--config", str(config), "--no-dashboard",
                           "--fast", "--market", "candles", "--data-dir", str(tmp / "data"), "--log-dir",
                           str(tmp / "logs")], cwd=tmp, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    ours, fills = _our_round_trips(tmp / "data" / "trades.jsonl")
    return ours, fills, backtesting_py_trades(ts, values), values


def test_momentum_on_candles_makes_exactly_the_trades_backtesting_py_makes(run):
    ours, fills, theirs, values = run
    assert len(theirs) >= 10, "the generated file should give a good number of crossovers"
    assert len(ours) == len(theirs)
    for number, (mine, row) in enumerate(zip(ours, theirs.itertuples()), 1):
        assert mine["side"] == "buy/sell" and row.Size == QTY, number
        assert (mine["entry_bar"], mine["exit_bar"]) == (row.EntryBar, row.ExitBar), number
        assert mine["qty"] == mine["exit_qty"] == row.Size, number
        assert mine["entry_price"] == pytest.approx(row.EntryPrice, rel=1e-12), number
        assert mine["exit_price"] == pytest.approx(row.ExitPrice, rel=1e-12), number
        # backtesting.py charges the commission on both legs; so do we (in the quote asset).
        assert mine["fees"] == pytest.approx(FEE * QTY * (row.EntryPrice + row.ExitPrice), rel=1e-9), number
        # The ledger's realized P&L is the price move (fees are booked apart); backtesting.py's PnL is net of both.
        assert mine["realized"] - mine["fees"] == pytest.approx(row.PnL, rel=1e-9, abs=1e-9), number
        # Each fill is at the open of the bar after the decision, the next price anyone could see.
        assert mine["entry_price"] == pytest.approx(values[mine["entry_bar"], 0], rel=1e-12)
    # A position still open at the end is open in both (backtesting.py leaves it out of its trades).
    assert len(fills) in (2 * len(theirs), 2 * len(theirs) + 1)
