"""fast_forward_for: which engines get the fast-forward runner, what choosing it loads, and the
runner's stop on request.

A candle backtest must not load the replay's modules (and through the simulator, scipy) just to
find out that its source is not a replay: a sixth of a second of every run.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.cli_candles import prepare_backtest
from bot.config import parse_config
from bot.engine import BotEngine
from bot.fast_forward import FastForward, fast_forward_for
from bot.market.candle_source import CandleMarket
from bot.market.replay import ReplayMarket
from bot.market.simulator import SimulatedMarket
from tests.candle_files import write_walk
from tests.test_textbook_backtest import textbook_config

ROOT = Path(__file__).resolve().parents[1]


def _engine(source, candles: bool = True, replay: bool = True) -> SimpleNamespace:
    return SimpleNamespace(source=source, config=SimpleNamespace(candles=SimpleNamespace(fast_forward=candles),
                                                                 replay=SimpleNamespace(fast_forward=replay)))


class _CandleKind(CandleMarket):
    """A subclass is a CandleMarket too (isinstance's rule)."""


@pytest.mark.parametrize("cls, candles, replay, runs", [
    (CandleMarket, True, True, True), (CandleMarket, False, True, False), (CandleMarket, True, False, True),
    (_CandleKind, True, True, True),
    (ReplayMarket, True, True, True), (ReplayMarket, True, False, False), (ReplayMarket, False, True, True),
    (SimulatedMarket, True, True, False),
])
def test_fast_forward_for_picks_by_source_and_setting(cls, candles, replay, runs):
    engine = _engine(cls.__new__(cls), candles, replay)
    runner = fast_forward_for(engine)
    assert isinstance(runner, FastForward) if runs else runner is None
    if runs:
        assert runner.engine is engine


def test_a_candle_backtest_does_not_load_the_replay_modules():
    script = (
        "import sys\n"
        "from types import SimpleNamespace as N\n"
        "from bot.market.candle_source import CandleMarket\n"
        "from bot.fast_forward import FastForward, fast_forward_for\n"
        "engine = N(source=CandleMarket.__new__(CandleMarket),\n"
        "           config=N(candles=N(fast_forward=True), replay=N(fast_forward=True)))\n"
        "assert isinstance(fast_forward_for(engine), FastForward)\n"
        "print(sorted(m for m in ('bot.market.replay', 'bot.market.simulator', 'scipy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_run_fast_stops_at_the_first_check_after_a_stop_request(tmp_path):
    write_walk(tmp_path / "candles", "binance", "BTC/USDT", bars=1200, seed=21)
    config = textbook_config(tmp_path / "candles")
    config["market"]["source"] = "candles"
    config["storage"] = {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False}
    engine = BotEngine(prepare_backtest(parse_config(config))[0])
    engine.open()
    asked = []

    def progress(done: int) -> None:  # called as the count passes each 500 ticks, then at the end
        if not asked and done >= 1000:
            asked.append(done)
            engine.loop.request_stop()

    try:
        runner = FastForward(engine)
        done = runner.run_fast(None, progress)
    finally:
        engine.close()
    assert runner.skipped > 0 and asked and done == asked[0] < 4 * 1200 - 10
