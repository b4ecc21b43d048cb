"""Record-then-replay parity: a live run (real ccxt binance and kraken classes against the local
fake exchange) recorded with --record, then replayed with the same config and seed, gives the
same trades.jsonl and misses.jsonl, field by field (ids, ticks and times included)."""
from __future__ import annotations

import json
import time

import pytest

from bot.config import BotConfig
from bot.engine import BotEngine
from bot.strategies.arbitrage import ArbitrageStrategy
from tests.market.fake_exchange import FakeExchangeServer
from tests.market.test_live import market_config

SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture
def fake():
    with FakeExchangeServer(candle_seconds=0.25, step_seconds=0.05, gap_every_seconds=0) as server:
        yield server


def make_engine(config: BotConfig, folder) -> BotEngine:
    arbitrage = ArbitrageStrategy(config.strategies.arbitrage, ("binance", "kraken"), SYMBOLS, config.market,
                                  config.execution.max_slippage_pct)
    return BotEngine(config, data_dir=folder / "data", log_dir=folder / "logs", strategies=[arbitrage],
                     strategy_configs={"arbitrage": config.strategies.arbitrage})


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_recorded_live_run_replays_to_the_same_trades(fake, tmp_path):
    settings = {
        "market": market_config(fake, symbols=SYMBOLS).model_dump(),
        "portfolio": {"starting_balances": {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}},
        "strategies": {"arbitrage": {"triangular": False, "max_notional_usdt": 500.0}},
        "execution": {"latency_ms": {"binance": 150, "kraken": 250}},
    }
    live = make_engine(BotConfig.model_validate({**settings, "recording": {"record": True}}), tmp_path / "live")
    try:
        live.open()
        assert live.source.kind == "live"
        gaps, ticks = iter([1.0, -1.0, 1.0]), 0
        deadline = time.monotonic() + 60
        # Gaps opened one after another; the run ends a few ticks after the third one traded.
        fake.set_offset("kraken", "BTC/USDT", next(gaps))
        target = 2
        while time.monotonic() < deadline:
            live.tick()
            ticks += 1
            if live.ledger.count >= target:
                offset = next(gaps, None)
                if offset is None:
                    break
                fake.set_offset("kraken", "BTC/USDT", offset)
                target = live.ledger.count + 2
            time.sleep(0.02)  # paces the live run (the fake's prices move in wall time)
        for _ in range(5):
            live.tick()
    finally:
        live.close()
    live_trades = lines(tmp_path / "live" / "data" / "trades.jsonl")
    assert len(live_trades) >= 6, f"the live run made {len(live_trades)} trades; the test needs a few"
    folder = live.source.folder
    replay_config = BotConfig.model_validate({**settings, "market": {**settings["market"], "source": "replay"},
                                              "recording": {"path": str(folder)}})
    replayed = make_engine(replay_config, tmp_path / "replay")
    replayed.open()
    try:
        replayed.run_fast(None)  # to the end of the recording
    finally:
        replayed.close()
    assert replayed.ticks_run == live.ticks_run
    replay_trades = lines(tmp_path / "replay" / "data" / "trades.jsonl")
    assert len(replay_trades) == len(live_trades)
    for ours, theirs in zip(replay_trades, live_trades):
        assert ours == theirs  # every field: id, seq, ts, tick, prices, fees, decision mid, latency
    assert lines(tmp_path / "replay" / "data" / "misses.jsonl") == lines(tmp_path / "live" / "data" / "misses.jsonl")
    assert (tmp_path / "replay" / "data" / "trades.jsonl").read_bytes() == \
        (tmp_path / "live" / "data" / "trades.jsonl").read_bytes()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["source_kind"] == "live" and meta["versions"]["ccxt"]
    assert "live market: binance, kraken" in replayed.source.description
