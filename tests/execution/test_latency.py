"""Latency: orders reach each exchange after its latency and fill against the book found there.

A scripted market whose ask climbs one unit a tick (tick k: best ask 100 + k), so the price a
leg paid tells which tick's book it met.
"""
from __future__ import annotations

import json

import pytest

from bot.engine import BotEngine
from bot.models import Leg, Signal
from tests.builders import T0
from tests.execution.scripted import SYMBOL, Scripted, ScriptedSource, ladder, scripted_config

TICKS = 12


def climbing(book_ts_lag: dict | None = None, exchanges=("binance", "kraken")):
    frames = []
    for tick in range(TICKS):
        frame = {}
        for ex in exchanges:
            bids, asks = ladder(99.0 + tick, "bids"), ladder(100.0 + tick, "asks")
            lag = (book_ts_lag or {}).get((ex, tick))
            frame[(ex, SYMBOL)] = (bids, asks) if lag is None else (bids, asks, T0 + lag)
        frames.append(frame)
    return frames


def buy(exchange="binance", qty=0.5, limit=None):
    return Leg(exchange, SYMBOL, "buy", qty, 100.0, limit_price=limit)


def sell(exchange="kraken", qty=0.5, limit=None):
    return Leg(exchange, SYMBOL, "sell", qty, 99.0, limit_price=limit)


def engine_for(tmp_path, plan, latency, frames=None, timeout=None, strategy_name="scripted"):
    execution = {"latency_ms": latency}
    if timeout is not None:
        execution["order_timeout_seconds"] = timeout
    config = scripted_config(tmp_path, execution)
    strategy = Scripted(plan, strategy_name)
    engine = BotEngine(config, source=ScriptedSource(frames or climbing()), strategies=[strategy],
                       strategy_configs={strategy_name: strategy.params})
    engine.open()
    return engine, strategy


def misses(tmp_path):
    path = tmp_path / "data" / "misses.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def signal(*legs, kind="test"):
    return Signal("scripted", kind, tuple(legs), "because")


def test_latency_zero_fills_on_the_decision_tick(tmp_path):
    engine, _ = engine_for(tmp_path, {2: [signal(buy())]}, {"default": 0})
    engine.run_fast(4)
    (trade,) = engine.ledger.iter_all()
    assert (trade.tick, trade.price, trade.latency_ms) == (2, 102.0, 0.0)
    assert trade.decision_ts == trade.ts == T0 + 2
    assert trade.decision_mid == pytest.approx((101.0 + 102.0) / 2)
    engine.close()


def test_an_order_fills_on_the_first_tick_at_or_after_decision_plus_latency(tmp_path):
    engine, strategy = engine_for(tmp_path, {2: [signal(buy())]}, {"default": 50})
    engine.tick(), engine.tick(), engine.tick()  # ticks 0, 1, 2: decided on tick 2
    assert engine.ledger.count == 0
    assert engine.manager.counters["scripted"].in_flight == 1
    engine.tick()  # tick 3 (1 s later >= 50 ms): the order meets tick 3's book
    (trade,) = engine.ledger.iter_all()
    assert (trade.tick, trade.price, trade.latency_ms) == (3, 103.0, 1000.0)
    assert trade.decision_ts == T0 + 2 and trade.ts == T0 + 3
    assert trade.decision_mid == pytest.approx(101.5)  # the mid of the decision book, tick 2
    counters = engine.manager.counters["scripted"]
    assert (counters.executed, counters.in_flight) == (1, 0)
    # The order was filled before the strategy ran on tick 3.
    assert engine.ledger.count == 1 and strategy.seen[-1].tick == 3
    engine.close()


def test_each_leg_meets_its_own_exchanges_book_after_its_own_latency(tmp_path):
    legs = signal(buy("binance", limit=110.0), sell("kraken", limit=90.0), kind="cross_exchange")
    engine, _ = engine_for(tmp_path, {1: [legs]}, {"binance": 50, "kraken": 2500, "default": 0})
    for _ in range(4):
        engine.tick()  # ticks 0-3: binance's leg arrived on tick 2 (>= 1.05 s), kraken's waits for 3.5 s
    assert engine.ledger.count == 0
    engine.tick()  # tick 4: kraken's leg arrives, the signal fills
    trades = {t.exchange: t for t in engine.ledger.iter_all()}
    assert trades["binance"].price == 102.0 and trades["binance"].latency_ms == 1000.0  # tick 2's asks
    assert trades["kraken"].price == 103.0 and trades["kraken"].latency_ms == 3000.0  # tick 4's bids: 99 + 4
    assert {t.tick for t in trades.values()} == {4}
    engine.close()


def test_a_live_book_not_refreshed_since_the_decision_is_waited_for(tmp_path):
    # Ticks 3-5 hand over the book fetched at tick 2 (its ts stays T0 + 2); tick 6 brings a fresh one.
    lag = {("binance", tick): 2.0 for tick in (3, 4, 5)}
    engine, _ = engine_for(tmp_path, {2: [signal(buy())]}, {"default": 100}, frames=climbing(lag))
    engine.run_fast(6)  # ticks 0-5
    assert engine.ledger.count == 0 and len(engine.data_flow.orders) == 1
    engine.tick()  # tick 6: a book newer than decision + 100 ms
    (trade,) = engine.ledger.iter_all()
    assert (trade.tick, trade.price, trade.latency_ms) == (6, 106.0, 4000.0)
    engine.close()


def test_an_order_whose_book_never_refreshes_times_out_as_a_miss(tmp_path):
    lag = {("binance", tick): 0.0 for tick in range(1, TICKS)}  # every book after tick 0 is tick 0's
    engine, _ = engine_for(tmp_path, {1: [signal(buy())]}, {"default": 100}, frames=climbing(lag), timeout=4)
    engine.run_fast(6)  # ticks 0-5: decided at 1; at tick 5, 4 s on, still waiting
    assert len(engine.data_flow.orders) == 1
    engine.tick()  # tick 6: 5 s > 4 s
    assert len(engine.data_flow.orders) == 0 and engine.ledger.count == 0
    assert engine.manager.counters["scripted"].rejected == {"timeout": 1}
    (miss,) = misses(tmp_path)
    assert miss["reason_key"] == "timeout" and miss["latency_ms"] is None
    assert "order_timeout_seconds" in miss["reason"]
    engine.close()


def test_a_second_order_for_the_same_symbol_waits_while_one_is_in_flight(tmp_path):
    plan = {tick: [signal(buy())] for tick in range(1, 8)}
    engine, _ = engine_for(tmp_path, plan, {"default": 2500})
    engine.run_fast(8)  # orders at 1 (fills at 4) and 4 (fills at 7); 2, 3, 5, 6 are turned away; 7 waits
    counters = engine.manager.counters["scripted"]
    assert counters.rejected == {"in_flight": 4}
    assert "still on its way" in counters.last_rejection
    assert [t.tick for t in engine.ledger.iter_all()] == [4, 7]
    assert counters.executed == 2 and counters.in_flight == 1
    engine.close()
    assert counters.in_flight == 0 and counters.rejected == {"in_flight": 4, "other": 1}


def test_an_atomic_signal_with_one_leg_gone_on_arrival_fills_no_leg(tmp_path):
    # binance's leg could fill on arrival; kraken's limit (sell at >= 99.5) meets bids of 99 + 1 = 100
    # on tick 1... so make it need 102: gone by the time it arrives.
    legs = signal(buy("binance", limit=200.0), sell("kraken", limit=101.5), kind="cross_exchange")
    engine, _ = engine_for(tmp_path, {0: [legs]}, {"default": 50})
    engine.run_fast(3)
    assert engine.ledger.count == 0
    assert engine.manager.counters["scripted"].rejected == {"price_moved": 1}
    (miss,) = misses(tmp_path)
    assert miss["reason_key"] == "price_moved" and "leg 2" in miss["reason"] and miss["latency_ms"] == 1000.0
    # Nothing of leg 1's would-be take is left in the memory: binance's next book is whole.
    book = engine.last_snapshot.order_book("binance", SYMBOL)
    assert book.asks == tuple(ladder(102.0, "asks"))
    engine.close()


def test_orders_in_flight_at_shutdown_are_cancelled_misses(tmp_path):
    engine, _ = engine_for(tmp_path, {2: [signal(buy()), signal(buy("kraken"))]}, {"default": 5000})
    engine.run_fast(3)
    assert len(engine.data_flow.orders) == 1  # the second (same strategy and symbol) is turned away
    engine.close()
    (line,) = misses(tmp_path)
    assert (line["reason_key"], line["reason"], line["latency_ms"]) == ("other", "cancelled at shutdown", None)
    assert line["legs"][0]["exchange"] == "binance"
    assert engine.manager.counters["scripted"].rejected == {"in_flight": 1, "other": 1}
    assert engine.ledger.count == 0


def test_miss_lines_have_the_agreed_shape(tmp_path):
    legs = signal(buy("binance", qty=0.25, limit=100.5), kind="entry")  # tick 1's best ask is 101: gone
    engine, _ = engine_for(tmp_path, {0: [legs]}, {"default": 50})
    engine.run_fast(2)
    engine.close()
    raw = (tmp_path / "data" / "misses.jsonl").read_text(encoding="utf-8")
    (line,) = [json.loads(text) for text in raw.splitlines()]
    assert line == {"ts": "2026-01-01T00:00:01.000Z", "tick": 1, "decision_ts": "2026-01-01T00:00:00.000Z",
                    "strategy": "scripted", "signal_id": "scripted-0-1", "kind": "entry",
                    "legs": [{"exchange": "binance", "symbol": SYMBOL, "side": "buy", "qty": 0.25}],
                    "reason_key": "price_moved",
                    "reason": "the best ask 101 for BTC/USDT on binance is beyond the limit price 100.5",
                    "latency_ms": 1000.0}
    events = [json.loads(text) for text in (tmp_path / "logs" / "activity.jsonl").read_text().splitlines()]
    (missed,) = [e for e in events if e["event"] == "order_missed"]
    assert missed["signal_id"] == "scripted-0-1" and missed["reason_key"] == "price_moved"


def test_a_miss_that_cannot_be_written_is_reported_and_costs_no_trade(tmp_path, monkeypatch):
    from bot.storage import StorageError

    plan = {0: [signal(buy("binance", limit=100.5))], 3: [signal(buy("kraken"))]}
    engine, _ = engine_for(tmp_path, plan, {"default": 50})

    def refuse(record):
        raise StorageError(tmp_path / "data" / "misses.jsonl", "append", "disk on fire")

    monkeypatch.setattr(engine.data_flow.misses, "append", refuse)
    engine.run_fast(2)
    assert engine.faults.side_errors["misses"] == 1
    assert engine.manager.counters["scripted"].rejected == {"price_moved": 1}  # still counted
    engine.start()  # the storage pause the failed write caused is the user's to lift here
    engine.run_fast(4)
    (trade,) = engine.ledger.iter_all()
    assert trade.exchange == "kraken" and trade.tick == 4
    engine.close()


def test_on_the_simulator_an_order_meets_the_next_ticks_book(tmp_path):
    from bot.config import parse_config
    from bot.market.simulator import SimulatedMarket
    from tests.execution.test_plain_walk_regression import plain_walk

    config = parse_config({"market": {"seed": 3}, "dashboard": {"enabled": False},
                           "execution": {"impact": {"enabled": False}},
                           "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"),
                                       "fsync": False}})
    order = Signal("scripted", "entry", (Leg("binance", "BTC/USDT", "buy", 0.05, 0.0),), "once")
    strategy = Scripted({100: [order]})
    engine = BotEngine(config, strategies=[strategy], strategy_configs={"scripted": strategy.params})
    engine.open()
    engine.run_fast(102)
    engine.close()
    (trade,) = engine.ledger.iter_all()
    independent = SimulatedMarket(config.market)
    independent.seek(100)
    decided, arrived = independent.next_snapshot(), independent.next_snapshot()
    book = arrived.order_book("binance", "BTC/USDT")
    qty, price, fee = plain_walk(arrived.markets[("binance", "BTC/USDT")], book.asks, "buy", 0.05,
                                 config.execution.max_slippage_pct, None)
    assert (trade.tick, trade.qty, trade.latency_ms) == (101, qty, 1000.0)
    assert trade.price == pytest.approx(price, rel=1e-12) and trade.fee == pytest.approx(fee, rel=1e-12)
    assert trade.decision_mid == decided.quotes[("binance", "BTC/USDT")].mid
    visible = sum(q for p, q in book.asks if p <= book.asks[0][0] * 1.005)
    assert trade.liquidity_taken_pct == pytest.approx(qty / visible * 100, rel=1e-6)


def test_an_order_sent_before_a_pause_still_lands(tmp_path):
    engine, _ = engine_for(tmp_path, {2: [signal(buy())]}, {"default": 50})
    engine.run_fast(3)  # decided on tick 2
    engine.pause("paused by user")
    engine.tick()  # tick 3: paused, but the order was already on its way
    (trade,) = engine.ledger.iter_all()
    assert (trade.tick, trade.price) == (3, 103.0)
    assert engine.manager.counters["scripted"].executed == 1
    engine.close()


def test_an_order_whose_ledger_write_fails_waits_with_the_books_it_met(tmp_path, monkeypatch):
    from bot.storage import StorageError

    engine, _ = engine_for(tmp_path, {2: [signal(buy())]}, {"default": 50})
    engine.run_fast(3)
    real_append = engine.ledger.append

    def full(trades):
        raise StorageError(tmp_path / "data" / "trades.jsonl", "append", "No space left on device")

    monkeypatch.setattr(engine.ledger, "append", full)
    engine.tick()  # tick 3: the order met tick 3's book, but nothing could be written
    assert engine.state == "paused" and engine.ledger.count == 0 and len(engine.data_flow.orders) == 1
    assert engine.executor.liquidity.adjust(engine.last_snapshot.order_book("binance", SYMBOL)) is not None
    assert not engine.executor.liquidity, "the failed fill's take was rolled back"
    monkeypatch.setattr(engine.ledger, "append", real_append)
    engine.tick()  # tick 4: the disk takes it; the fill is the one the order met on arrival
    (trade,) = engine.ledger.iter_all()
    assert (trade.price, trade.latency_ms) == (103.0, 1000.0)
    engine.close()


def test_a_delivered_order_whose_state_write_fails_is_filled_once(tmp_path, monkeypatch):
    from bot.storage import StorageError

    engine, _ = engine_for(tmp_path, {2: [signal(buy())]}, {"default": 50})
    engine.run_fast(3)
    real_write = engine.data_flow.write_state
    calls = []

    def failing():
        calls.append(1)
        raise StorageError(tmp_path / "data" / "portfolio_state.json", "replace", "No space left on device")

    monkeypatch.setattr(engine.data_flow, "write_state", failing)
    engine.tick()  # tick 3: the trade reaches the ledger, the state file does not
    assert calls and engine.state == "paused" and engine.ledger.count == 1
    assert len(engine.data_flow.orders) == 0 and engine.manager.counters["scripted"].executed == 1
    monkeypatch.setattr(engine.data_flow, "write_state", real_write)
    for _ in range(3):
        engine.tick()
    assert engine.ledger.count == 1, "filled once, not again"
    engine.close()
