"""Arbitrage against a market that remembers: a standing gap is not re-hit at full size every
tick, and a gap gone by the time the order arrives is a "price_moved" miss, not a losing fill."""
from __future__ import annotations

import json

from bot.engine import BotEngine
from bot.strategies.arbitrage import ArbitrageStrategy
from tests.execution.scripted import SYMBOL, ScriptedSource, ladder, scripted_config

GAP = {("binance", SYMBOL): (ladder(99.0, "bids", qty=0.2, step=0.1), ladder(100.0, "asks", qty=0.2, step=0.1)),
       ("kraken", SYMBOL): (ladder(101.0, "bids", qty=0.2, step=0.1), ladder(102.0, "asks", qty=0.2, step=0.1))}
CLOSED = {("binance", SYMBOL): (ladder(100.4, "bids", qty=0.2, step=0.1), ladder(100.6, "asks", qty=0.2, step=0.1)),
          ("kraken", SYMBOL): (ladder(100.3, "bids", qty=0.2, step=0.1), ladder(100.7, "asks", qty=0.2, step=0.1))}


def arbitrage_engine(tmp_path, frames, execution):
    config = scripted_config(tmp_path, execution, strategies={"arbitrage": {"triangular": False}})
    strategy = ArbitrageStrategy(config.strategies.arbitrage, ("binance", "kraken"), (SYMBOL,), config.market,
                                 config.execution.max_slippage_pct, config.execution.liquidity.enabled)
    engine = BotEngine(config, source=ScriptedSource(frames), strategies=[strategy],
                       strategy_configs={"arbitrage": config.strategies.arbitrage})
    engine.open()
    return engine


def bought_per_signal(engine):
    bought = {}
    for trade in engine.ledger.iter_all():
        if trade.side == "buy":
            bought[trade.signal_id] = bought.get(trade.signal_id, 0.0) + trade.qty
    return list(bought.values())


def test_a_standing_gap_is_not_re_hit_at_full_size_tick_after_tick(tmp_path):
    ticks = 12  # kraken holds 10 BTC: 12 full-size sells of 0.8
    remembering = arbitrage_engine(tmp_path / "on", [GAP], {"latency_ms": {"default": 0},
                                                            "liquidity": {"refill_half_life_seconds": 15}})
    remembering.run_fast(ticks)
    forgetting = arbitrage_engine(tmp_path / "off", [GAP], {"latency_ms": {"default": 0},
                                                            "liquidity": {"enabled": False}})
    forgetting.run_fast(ticks)
    full = bought_per_signal(forgetting)
    assert len(full) == ticks and len(set(full)) == 1  # the plain walk: the same full size every tick
    first, *later = bought_per_signal(remembering)
    assert first == full[0]
    # A tick can take back only what refilled in one second of what is still out (at most `first`):
    # first * (1 - 2**(-1/15)), about 4.5% of it (the refill law). Fills round down to the step, so
    # the bound holds for every running total.
    per_tick = first * (1 - 2 ** (-1 / 15))
    assert later and all(qty > 0 for qty in later)
    for k in range(1, len(later) + 1):
        assert sum(later[:k]) <= k * per_tick + 1e-9, k
    assert sum(later) < first / 2
    remembering.close(), forgetting.close()


def test_a_gap_closed_on_arrival_is_a_price_moved_miss(tmp_path):
    engine = arbitrage_engine(tmp_path, [GAP, CLOSED], {})  # default latency: the order meets tick 1
    engine.run_fast(3)
    counters = engine.manager.counters["arbitrage"]
    assert engine.ledger.count == 0
    assert counters.rejected == {"price_moved": 1} and counters.executed == 0
    engine.close()
    (miss,) = [json.loads(line) for line in (tmp_path / "data" / "misses.jsonl").read_text().splitlines()]
    assert miss["kind"] == "cross_exchange" and miss["reason_key"] == "price_moved"
    assert miss["tick"] == 1 and miss["signal_id"] == "arbitrage-0-1"
    assert [leg["exchange"] for leg in miss["legs"]] == ["binance", "kraken"]


def test_a_gap_still_open_on_arrival_fills_within_the_limit_prices(tmp_path):
    engine = arbitrage_engine(tmp_path, [GAP], {})
    engine.run_fast(2)
    trades = list(engine.ledger.iter_all())
    assert {t.tick for t in trades} == {1} and {t.latency_ms for t in trades} == {1000.0}
    buy, sell = sorted(trades, key=lambda t: t.side)
    assert buy.price <= 100.0 + 4 * 0.1 and sell.price >= 101.0 - 4 * 0.1
    assert sum(t.realized_pnl - t.fee * t.quote_usdt_rate for t in trades) > 0
    engine.close()
