"""Fill quality (bot/execution/quality.py): every figure against hand-computed values.

The fill-quality fields (decision_mid, latency_ms, liquidity_taken_pct, best_price) and the
non-trade entries are not on main's Trade yet, so the records here are ledger lines as the agreed
interface describes them (BRIEF "Shared interfaces"), built by hand.
"""
from __future__ import annotations

import pytest

from bot.execution.quality import EntryView, ExecutionQuality, FillView, MissView
from bot.models import Trade


def fill(strategy="arbitrage", signal_id="s1", tick=1, exchange="binance", symbol="BTC/USDT", side="buy", qty=1.0,
         price=100.0, kind="cross_exchange", realized_pnl=0.0, fee=0.0, quote_usdt_rate=1.0, **quality) -> FillView:
    record = {"strategy": strategy, "signal_id": signal_id, "tick": tick, "kind": kind, "exchange": exchange,
              "symbol": symbol, "side": side, "qty": qty, "price": price, "fee": fee,
              "fee_asset": symbol.split("/")[1], "quote_usdt_rate": quote_usdt_rate, "realized_pnl": realized_pnl,
              **quality}
    return FillView.from_record(record)


def miss(strategy="arbitrage", signal_id="m1", tick=1, reason_key="price_moved", exchanges=("binance",)) -> MissView:
    return MissView.from_record({"ts": "2026-01-01T00:00:00.000Z", "tick": tick, "strategy": strategy,
                                 "signal_id": signal_id, "kind": "cross_exchange", "reason_key": reason_key,
                                 "reason": "gone", "latency_ms": 80.0,
                                 "legs": [{"exchange": e, "symbol": "BTC/USDT", "side": "buy", "qty": 1.0}
                                          for e in exchanges]})


def row(quality: ExecutionQuality, strategy="arbitrage") -> dict:
    (found,) = quality.report(strategy)
    return found


def on(found: dict, exchange: str) -> dict:
    return next(r for r in found["exchanges"] if r["exchange"] == exchange)


# ----- slippage and latency cost ----------------------------------------------------------------
def test_slippage_is_a_cost_for_a_buy_above_and_a_sell_below_the_decision_mid():
    q = ExecutionQuality()
    q.add_fill(fill(signal_id="a", side="buy", price=101.0, decision_mid=100.0))   # paid 1% over: +100 bps
    q.add_fill(fill(signal_id="b", side="sell", price=99.0, decision_mid=100.0))   # got 1% under: +100 bps
    q.add_fill(fill(signal_id="c", side="sell", price=100.5, decision_mid=100.0))  # got 0.5% more: -50 bps
    slippage = row(q)["slippage_bps"]
    assert slippage["fills"] == 3
    assert slippage["mean"] == pytest.approx((100 + 100 - 50) / 3)


def test_p95_is_numpys_linear_percentile():
    q = ExecutionQuality()
    for k in range(1, 21):  # 1..20 bps: rank 0.95 * 19 = 18.05 -> 19 + 0.05 * (20 - 19)
        q.add_fill(fill(signal_id=f"s{k}", tick=10 * k, price=10_000.0 + k, decision_mid=10_000.0))
    slippage = row(q)["slippage_bps"]
    assert slippage["p95"] == pytest.approx(19.05)
    assert slippage["mean"] == pytest.approx(10.5)


def test_latency_cost_in_usdt_and_its_split_at_the_best_price():
    q = ExecutionQuality()
    q.add_fill(fill(signal_id="a", side="buy", qty=2.0, price=101.0, decision_mid=100.0, best_price=100.5))
    q.add_fill(fill(signal_id="b", side="sell", qty=1.0, price=99.5, decision_mid=100.0))
    # ETH/BTC: sold 0.0002 BTC above the mid, BTC at 50,000 USDT: a 10 USDT gain.
    q.add_fill(fill(signal_id="c", symbol="ETH/BTC", side="sell", qty=1.0, price=0.0502, decision_mid=0.05,
                    quote_usdt_rate=50_000.0))
    found = row(q)
    assert found["latency_cost_usdt"] == pytest.approx(2 * 1.0 + 0.5 - 10.0)
    # Split only over the fill that recorded a best price: mid 100 -> best 100.5 -> fill 101, 2 units.
    assert found["arrival_cost_usdt"] == pytest.approx(1.0)
    assert found["book_walk_usdt"] == pytest.approx(1.0)


def test_a_ledger_without_the_fill_quality_fields_counts_fills_and_shows_no_slippage():
    q = ExecutionQuality()
    trade = Trade(id="T00000001", seq=1, ts=0.0, tick=3, strategy="momentum", signal_id="momentum-3-1",
                  kind="momentum_entry", exchange="kraken", symbol="SOL/USDT", side="buy", qty=2.0, price=150.0,
                  fee=0.3, fee_asset="USDT", quote_usdt_rate=1.0, realized_pnl=0.0, status="filled", reason="x")
    q.add_fill(FillView.from_trade(trade))
    found = row(q, "momentum")
    assert (found["fills"], found["signals"], found["fill_ratio"], found["fees_usdt"]) == (1, 1, 1.0, 0.3)
    assert found["slippage_bps"] == {"mean": None, "p95": None, "fills": 0}
    assert found["latency_cost_usdt"] is None and found["arrival_cost_usdt"] is None
    assert found["latency_ms_mean"] is None and found["liquidity_taken_pct"] == {"mean": None, "max": None}


def test_latency_and_liquidity_taken_mean_and_max():
    q = ExecutionQuality()
    q.add_fill(fill(signal_id="a", latency_ms=50.0, liquidity_taken_pct=10.0))
    q.add_fill(fill(signal_id="b", latency_ms=150.0, liquidity_taken_pct=40.0, exchange="kraken"))
    q.add_fill(fill(signal_id="c"))  # no figures recorded: left out of the means
    found = row(q)
    assert found["latency_ms_mean"] == pytest.approx(100.0)
    assert found["liquidity_taken_pct"] == {"mean": pytest.approx(25.0), "max": 40.0}
    assert on(found, "kraken")["liquidity_taken_pct"] == {"mean": 40.0, "max": 40.0}


# ----- signals, misses, fill ratio --------------------------------------------------------------
def test_fill_ratio_counts_each_signal_once_misses_by_reason_and_per_exchange():
    q = ExecutionQuality()
    q.add_fill(fill(signal_id="s1", exchange="binance", side="buy"))
    q.add_fill(fill(signal_id="s1", exchange="kraken", side="sell"))    # same signal, second leg
    q.add_fill(fill(signal_id="s2", exchange="binance"))
    q.add_miss(miss(signal_id="s3", reason_key="price_moved", exchanges=("binance", "kraken")))
    q.add_miss(miss(signal_id="s3", reason_key="liquidity_taken", exchanges=("kraken",)))  # same signal
    q.add_fill(fill(signal_id="s4", exchange="kraken"))                  # s4 filled and then missed a leg
    q.add_miss(miss(signal_id="s4", reason_key="timeout", exchanges=("kraken",)))
    found = row(q)
    # filled s1 s2 s4, missed s3 s4: 4 signals reached the market, 3 filled.
    assert (found["signals"], found["filled_signals"], found["missed_signals"]) == (4, 3, 2)
    assert found["fill_ratio"] == pytest.approx(0.75)
    assert found["fills"] == 4
    assert found["misses"] == {"liquidity_taken": 1, "price_moved": 1, "timeout": 1}
    assert found["misses_total"] == 3
    binance, kraken = on(found, "binance"), on(found, "kraken")
    assert (binance["signals"], binance["fills"], binance["fill_ratio"]) == (3, 2, pytest.approx(2 / 3))
    assert binance["misses"] == {"price_moved": 1}
    # kraken: s1 and s4 filled there, s3 and s4 missed there: 3 signals, 2 filled.
    assert (kraken["signals"], kraken["fills"], kraken["fill_ratio"]) == (3, 2, pytest.approx(2 / 3))
    assert kraken["misses"] == {"liquidity_taken": 1, "price_moved": 1, "timeout": 1}


def test_a_miss_read_before_the_fills_of_the_same_signal_is_still_one_signal():
    q = ExecutionQuality()
    q.add_miss(miss(signal_id="s1", exchanges=("kraken",)))
    q.add_fill(fill(signal_id="s1", exchange="kraken"))
    found = row(q)
    assert (found["signals"], found["fill_ratio"]) == (1, 1.0)
    assert on(found, "kraken")["signals"] == 1


def test_only_misses_gives_a_zero_fill_ratio_and_no_signal_gives_none():
    q = ExecutionQuality()
    q.add_miss(miss(strategy="news", signal_id="n1", reason_key="no_book"))
    assert row(q, "news")["fill_ratio"] == 0.0
    (idle,) = q.report("momentum", include=("momentum",))
    assert (idle["signals"], idle["fill_ratio"], idle["fills"], idle["exchanges"]) == (0, None, 0, [])


# ----- gap episodes -----------------------------------------------------------------------------
def arbitrage_signal(q, signal_id, tick, realized, kind="cross_exchange", sides=("buy", "sell")):
    q.add_fill(fill(signal_id=signal_id, tick=tick, kind=kind, exchange="binance", side=sides[0]))
    q.add_fill(fill(signal_id=signal_id, tick=tick, kind=kind, exchange="kraken", side=sides[1],
                    realized_pnl=realized))


def test_repeat_fills_within_one_gap_episode_and_their_share_of_realized_pnl():
    q = ExecutionQuality()
    arbitrage_signal(q, "a10", 10, 5.0)          # episode 1 opens
    arbitrage_signal(q, "a11", 11, 3.0)          # repeat
    arbitrage_signal(q, "r11", 11, 6.0, sides=("sell", "buy"))  # the other direction: another market set
    arbitrage_signal(q, "a12", 12, 2.0)          # repeat
    arbitrage_signal(q, "t12", 12, 7.0, kind="triangular")      # another kind: another market set
    arbitrage_signal(q, "a14", 14, 4.0)          # tick 13 had no fill: episode 2 opens
    arbitrage_signal(q, "a15", 15, 1.0)          # repeat
    found = row(q)
    assert found["repeat_fills"] == 3
    assert found["repeat_realized_pnl"] == pytest.approx(3.0 + 2.0 + 1.0)
    assert found["realized_pnl"] == pytest.approx(28.0)
    assert found["repeat_pnl_share"] == pytest.approx(6.0 / 28.0)
    assert found["signals"] == 7 and found["fills"] == 14


def test_two_signals_on_one_market_set_in_one_tick_are_one_episode():
    q = ExecutionQuality()
    arbitrage_signal(q, "a", 20, 1.0)
    arbitrage_signal(q, "b", 20, 2.0)
    assert (row(q)["repeat_fills"], row(q)["repeat_realized_pnl"]) == (1, 2.0)


def test_no_realized_pnl_gives_no_share():
    q = ExecutionQuality()
    q.add_fill(fill(strategy="momentum", signal_id="m", kind="momentum_entry"))
    assert row(q, "momentum")["repeat_pnl_share"] is None


# ----- ledger entries and margin calls ----------------------------------------------------------
def test_transfers_borrow_fees_and_margin_calls():
    q = ExecutionQuality()
    entries = [
        {"entry": "transfer_out", "strategy": "arbitrage", "exchange": "binance", "asset": "BTC", "fee_usdt": 1.5},
        {"entry": "transfer_in", "strategy": "arbitrage", "exchange": "kraken", "asset": "BTC", "fee_usdt": 0.0},
        {"entry": "transfer_out", "strategy": "arbitrage", "exchange": "kraken", "asset": "USDT", "fee_usdt": 1.0},
        {"entry": "borrow_fee", "strategy": "stat_arb", "exchange": "binance", "asset": "ETH", "fee_usdt": 0.2},
        {"entry": "borrow_fee", "strategy": "stat_arb", "exchange": "binance", "asset": "ETH", "fee_usdt": 0.3},
        {"entry": "something_new", "strategy": "stat_arb", "exchange": "binance", "fee_usdt": 9.0},  # ignored
    ]
    for record in entries:
        q.add_entry(EntryView.from_record(record))
    q.add_fill(fill(strategy="stat_arb", signal_id="mc1", kind="margin_call", exchange="binance", side="buy"))
    q.add_fill(fill(strategy="stat_arb", signal_id="x1", kind="stat_arb_exit", exchange="binance", side="buy"))
    arbitrage, stat_arb = row(q), row(q, "stat_arb")
    assert (arbitrage["transfers"], arbitrage["transfer_fees_usdt"]) == (2, pytest.approx(2.5))
    assert (on(arbitrage, "binance")["transfers"], on(arbitrage, "binance")["transfer_fees_usdt"]) == (1, 1.5)
    assert (on(arbitrage, "kraken")["transfers"], on(arbitrage, "kraken")["transfer_fees_usdt"]) == (1, 1.0)
    assert (stat_arb["borrow_fees_usdt"], stat_arb["borrow_fee_entries"]) == (pytest.approx(0.5), 2)
    assert stat_arb["margin_calls"] == 1 and on(stat_arb, "binance")["margin_calls"] == 1
    assert stat_arb["transfers"] == 0 and arbitrage["borrow_fees_usdt"] == 0.0
