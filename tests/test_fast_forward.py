"""The fast-forward oracle: a candle backtest skipping quiet ticks in bulk (bot/fast_forward.py)
writes exactly what stepping every tick writes.

Each config runs twice on the same candle files, fast-forward on (FastForward.run_fast) and off
(candles.fast_forward: false, the engine's plain tick loop), and the files on disk are compared:
trades.jsonl and equity.jsonl byte for byte, misses.jsonl, the round trips rebuilt from each
ledger, portfolio_state.json less its wall-clock last_updated, and the chart's candle archive.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bot.accounting.ledger import TradeLedger
from bot.accounting.roundtrips import round_trips
from bot.cli_candles import prepare_backtest
from bot.config import parse_config
from bot.engine import BotEngine
from bot.fast_forward import FastForward
from tests.candle_files import candle_engine, write_walk
from tests.test_textbook_backtest import textbook_config

BARS = 2500


def _textbook(candles: Path) -> dict:
    return textbook_config(candles)


def _momentum_defaults(candles: Path) -> dict:
    """Momentum as shipped (RSI filter, volatility stop and take-profit, risk sizing) on the default
    book model (spread, fees, liquidity memory), a tight kill switch that fires mid-run."""
    return {
        "market": {"exchanges": ["binance"], "symbols": ["BTC/USDT"]},
        "portfolio": {"starting_balances": {"USDT": 10_000.0}},
        "risk": {"max_drawdown_pct": 0.25},
        "strategies": {"arbitrage": {"enabled": False}, "news": {"enabled": False}, "stat_arb": {"enabled": False},
                       "momentum": {"cooldown_seconds": 0.0, "risk_per_trade_pct": 2.0}},
        "candles": {"data_dir": str(candles)},
    }


def _textbook_kill(candles: Path) -> dict:
    """The textbook crossover on a small account that also holds coins from the start (holdings P&L
    moves at every sample), with a kill switch on all equity that fires as the coins held sink between trades."""
    config = textbook_config(candles)
    config["portfolio"] = {"starting_balances": {"USDT": 5_000.0, "BTC": 1.7}}
    config["risk"] = {"max_drawdown_pct": 1.0, "drawdown_basis": "equity"}
    return config


def _momentum_latency_kill(candles: Path) -> dict:
    """Momentum as shipped with 20 s of latency: an exit fills a tick or two after the bar, off the
    minute's sample, so the kill switch first sees the loss at a sample inside a flat stretch."""
    config = _momentum_defaults(candles)
    config["execution"] = {"latency_ms": {"binance": 20_000.0, "default": 20_000.0}}
    config["risk"]["max_drawdown_pct"] = 0.4
    return config


def _with_stat_arb(candles: Path) -> dict:
    """Momentum and stat_arb on two symbols: stat_arb has no quiet_ticks, so nothing is skipped."""
    config = _momentum_defaults(candles)
    config["market"]["symbols"] = ["BTC/USDT", "ETH/USDT"]
    config["risk"]["max_drawdown_pct"] = 50.0
    config["strategies"]["stat_arb"] = {"enabled": True}
    return config


def _archive(engine) -> dict:
    """The chart archive's candles per market, as a reader gets them."""
    with engine.lock:
        return {key: [(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in engine.candle_archive.candles(key)]
                for key in engine.source.markets}


def _run(config: dict, folder: Path, fast_forward: bool) -> tuple[Path, int, dict]:
    config = copy.deepcopy(config)
    config["market"]["source"] = "candles"
    config["candles"]["fast_forward"] = fast_forward
    config["storage"] = {"data_dir": str(folder / "data"), "log_dir": str(folder / "logs"), "fsync": False}
    config.setdefault("engine", {})["equity_sample_seconds"] = 60.0
    parsed, _ = prepare_backtest(parse_config(config))
    engine = BotEngine(parsed)
    engine.open()
    engine.candle_archive.max_per_market = 700  # (fewer than the bars: the oldest are dropped)
    try:
        if fast_forward:
            runner = FastForward(engine)
            runner.run_fast(None)
            skipped = runner.skipped
        else:
            engine.run_fast(None)
            skipped = 0
    finally:
        engine.close()
    return folder / "data", skipped, _archive(engine)


def _state(data: Path) -> dict:
    state = json.loads((data / "portfolio_state.json").read_text())
    state.pop("last_updated")
    return state


def _trips(data: Path) -> list:
    ledger = TradeLedger(data)
    try:
        return [json.dumps(trip.to_dict() if hasattr(trip, "to_dict") else repr(trip), sort_keys=True, default=str)
                for trip in round_trips(ledger.iter_all())]
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def candles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ff-candles")
    write_walk(folder, "binance", "BTC/USDT", bars=BARS, seed=21)
    write_walk(folder, "binance", "ETH/USDT", bars=BARS, seed=22, price=50.0)
    return folder


@pytest.mark.parametrize("make, skips", [(_textbook, 8000), (_momentum_defaults, 1500), (_textbook_kill, 500),
                                         (_momentum_latency_kill, 500), (_with_stat_arb, 0)],
                         ids=["textbook", "momentum-defaults", "textbook-kill", "latency-kill", "with-stat-arb"])
def test_fast_forward_writes_exactly_what_stepping_writes(candles, tmp_path, make, skips):
    config = make(candles)
    stepped, _, stepped_archive = _run(config, tmp_path / "stepped", fast_forward=False)
    skipped_dir, skipped, skipped_archive = _run(config, tmp_path / "skipped", fast_forward=True)
    trades = (stepped / "trades.jsonl").read_bytes()
    assert trades.count(b"\n") >= 6, "the run should trade a few times"
    assert (skipped_dir / "trades.jsonl").read_bytes() == trades
    equity = (stepped / "equity.jsonl").read_bytes()
    assert equity.count(b"\n") >= BARS - 10
    assert (skipped_dir / "equity.jsonl").read_bytes() == equity
    for name in ("misses.jsonl",):
        a, b = stepped / name, skipped_dir / name
        assert (a.read_bytes() if a.exists() else b"") == (b.read_bytes() if b.exists() else b"")
    assert _trips(skipped_dir) == _trips(stepped)
    assert _state(skipped_dir) == _state(stepped)
    assert skipped_archive == stepped_archive and all(len(c) == 700 for c in stepped_archive.values())
    # Most of the textbook's 4 ticks a bar go by in bulk; the kill switch pauses momentum-defaults
    # about bar 600 (a paused engine steps); nothing is skipped while stat_arb is on.
    assert skipped >= skips if skips else skipped == 0


def test_a_kill_switch_limit_lowered_while_flat_fires_where_stepping_fires_it(candles, tmp_path):
    """Nothing held, equity below its peak, the limit lowered (as a risk command would): the flat
    stretch after it must stop at its first sample, where the stepped run's kill switch fires."""
    def engine_for(folder: Path, fast_forward: bool) -> BotEngine:
        return candle_engine(_textbook(candles), folder, fast_forward)

    skipped = engine_for(tmp_path / "skipped", True)
    runner, lowered = FastForward(skipped), []
    advance = runner.advance

    def lower_then_advance(room):  # lowered just before a stretch: the stretch's samples meet the new limit
        portfolio = skipped.portfolio
        if (not lowered and skipped.ticks_run > 4000 and not any(p.qty for p in portfolio.positions.values())
                and portfolio.equity() < portfolio.peak_equity):
            lowered.append(skipped.ticks_run)
            skipped.config.risk.max_drawdown_pct = 1e-6
        return advance(room)

    runner.advance = lower_then_advance
    runner.run_fast(None)
    skipped.close()
    stepped = engine_for(tmp_path / "stepped", False)
    stepped.run_fast(lowered[0])
    stepped.config.risk.max_drawdown_pct = 1e-6
    stepped.run_fast(None)
    stepped.close()
    assert stepped.kill_switch and skipped.kill_switch == stepped.kill_switch
    for name in ("trades.jsonl", "equity.jsonl"):
        assert (tmp_path / "skipped" / "data" / name).read_bytes() == (tmp_path / "stepped" / "data" / name).read_bytes()


def test_the_chart_archive_read_mid_run_holds_every_candle_closed_so_far(candles, tmp_path):
    """Read between stretches (some reads, not all: the rest stay owed), the archive holds what the
    source itself says closed by then (its candles, read separately), the newest max_per_market."""
    config = copy.deepcopy(_textbook(candles))
    config["market"]["source"] = "candles"
    config["storage"] = {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False}
    engine = BotEngine(prepare_backtest(parse_config(config))[0])
    engine.open()
    engine.candle_archive.max_per_market = 300
    runner, calls, reads = FastForward(engine), [0], [0]
    advance = runner.advance

    def advance_and_read(room):
        done = advance(room)
        calls[0] += 1
        if calls[0] % 3 == 0:  # every third stretch: the two between stay owed
            reads[0] += 1
            key = ("binance", "BTC/USDT")
            assert engine.candle_archive.candles(key) == engine.source.candles(*key, 300), f"at tick {engine.ticks_run}"
        return done

    runner.advance = advance_and_read
    try:
        runner.run_fast(None)
    finally:
        engine.close()
    assert reads[0] > 50 and runner.skipped > 8000


def test_a_stretch_that_starts_on_a_closing_tick_archives_that_bar(candles, tmp_path):
    """A stretch whose first tick closes a bar (and which closes none after it) still archives that bar."""
    config = copy.deepcopy(_textbook(candles))
    config["market"]["source"] = "candles"
    config["storage"] = {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False}
    engine = BotEngine(prepare_backtest(parse_config(config))[0])
    engine.open()
    runner, key, checked = FastForward(engine), ("binance", "BTC/USDT"), 0
    try:
        while engine.ticks_run < 2000:
            while engine.next_tick % 4 != 0:  # step to the tick that closes a bar (4 ticks a bar)
                engine.tick()
            if runner.advance(3) == 3:  # the closing tick and the two after it, in bulk
                checked += 1
                assert engine.candle_archive.candles(key) == engine.source.candles(*key, 20_160)
            else:
                engine.tick()
    finally:
        engine.close()
    assert checked > 100


def test_momentum_screen_flags_a_cross_that_is_a_tie_to_the_last_bit():
    """Flat closes then a rise: on the first rising bar the previous EMAs are equal to rounding and
    the exact reading crosses up; the vectorised screen must still flag that bar (its margin)."""
    import numpy as np

    from bot.config import MomentumConfig
    from bot.lookahead import Lookahead, MarketAhead
    from bot.strategies.indicators import ema
    from bot.strategies.momentum import MomentumStrategy

    strategy = MomentumStrategy(MomentumConfig(fast=5, slow=13, rsi_period=14, volatility_period=30,
                                               rsi_filter=False, volatility_exits=False, order_qty=1.0),
                                ("binance",), ("BTC/USDT",))
    window = strategy.warmup_candles
    closes = np.concatenate([np.full(window + 20, 100.0), 100.0 + 0.01 * np.arange(1, 11)])
    rising = window + 20  # index of the first rising close; the candle tick after it reads it
    fast, slow = ema(closes[rising + 1 - window:rising + 1], 5), ema(closes[rising + 1 - window:rising + 1], 13)
    assert fast[-2] <= slow[-2] and fast[-1] > slow[-1], "the exact reading crosses up on the first rise"
    ticks = np.arange(window + 1, closes.size + 1)  # one candle tick per bar, history ending at each
    ahead = MarketAhead(np.full(ticks.size, 100.0), ticks, closes, np.full(ticks.size, 100.0))
    lookahead = Lookahead(0, ticks * 60.0, np.ones(ticks.size, dtype=bool), {("binance", "BTC/USDT"): ahead})

    class Flat:
        def positions(self):
            return []

    crossing = int(np.flatnonzero(ticks == rising + 1)[0])
    assert strategy.quiet_ticks(lookahead, Flat()) <= crossing


def test_the_archive_owes_a_stretch_its_bars_only_up_to_a_bound(candles, tmp_path):
    """Stretches leave their closed bars owed to the chart's archive (taken at its next read), never
    more than DEFER_BARS per market: the archive's memory stays bounded however long nobody reads."""
    from bot.chart_data import DEFER_BARS

    config = copy.deepcopy(_textbook(candles))
    config["market"]["source"] = "candles"
    config["storage"] = {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False}
    engine = BotEngine(prepare_backtest(parse_config(config))[0])
    engine.open()
    engine.manager.enabled["momentum"] = False  # nothing trades: long quiet stretches, few reads
    runner, most = FastForward(engine), []
    advance = runner.advance

    def advance_and_look(room):
        done = advance(room)
        most.append(max(engine.candle_archive._deferred.values(), default=0))
        return done

    runner.advance = advance_and_look
    try:
        runner.run_fast(None)
        key = ("binance", "BTC/USDT")
        assert engine.candle_archive.candles(key)[-300:] == engine.source.candles(*key, 300)
    finally:
        engine.close()
    assert max(most) < DEFER_BARS + 8 and BARS > DEFER_BARS
