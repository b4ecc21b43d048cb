"""The books against a separate replay written here (not PortfolioTracker.apply): wallets,
per-strategy realized P&L and fees of a random ledger, and the round trips summing to them."""
from __future__ import annotations

import dataclasses
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Trade
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.roundtrips import round_trips
from tests.roundtrip_oracle import oracle_round_trips

START = {"a": {"USDT": 50_000.0, "BTC": 1.0, "ETH": 10.0}, "b": {"USDT": 50_000.0, "BTC": 1.0, "ETH": 10.0}}
FEE_RATE = 0.001


def replay(trades: list[Trade]):
    """Wallets and per-strategy (realized, fees) by plain average cost, longs and shorts."""
    wallets = {ex: dict(assets) for ex, assets in START.items()}
    held: dict[tuple[str, str], list[float]] = {}  # (strategy, asset) -> [qty, average price]
    realized: dict[str, float] = {}
    fees: dict[str, float] = {}
    for t in trades:
        base, quote = t.symbol.split("/")
        wallet = wallets[t.exchange]
        sign = 1.0 if t.side == "buy" else -1.0
        wallet[base] = wallet.get(base, 0.0) + sign * t.qty
        wallet[quote] -= sign * t.qty * t.price
        wallet[t.fee_asset] -= t.fee
        fees[t.strategy] = fees.get(t.strategy, 0.0) + t.fee
        qty, average = held.get((t.strategy, base), [0.0, 0.0])
        change = sign * t.qty
        gain = 0.0
        if qty * change < 0:  # reducing: the reduced part books price less average, in its direction
            reduced = min(abs(change), abs(qty))
            gain = reduced * (t.price - average) * (1.0 if qty > 0 else -1.0)
            qty += reduced if qty < 0 else -reduced
            rest = abs(change) - reduced
            if rest > 0:
                qty, average = sign * rest, t.price
        else:
            total = qty + change
            average = (qty * average + change * t.price) / total
            qty = total
        held[(t.strategy, base)] = [qty, average]
        realized[t.strategy] = realized.get(t.strategy, 0.0) + gain
    return wallets, realized, fees


fills = st.lists(st.tuples(st.sampled_from(["momentum", "stat_arb"]), st.sampled_from(["a", "b"]),
                           st.sampled_from(["BTC/USDT", "ETH/USDT"]), st.sampled_from(["buy", "sell"]),
                           st.integers(1, 40), st.integers(80, 120)), min_size=1, max_size=40)


def book(rows) -> tuple[list[Trade], PortfolioTracker]:
    tracker = PortfolioTracker(START)
    trades = []
    for seq, (strategy, exchange, symbol, side, size, price_units) in enumerate(rows, start=1):
        price = price_units * (500.0 if symbol == "BTC/USDT" else 30.0)
        qty = size / 100.0
        draft = Trade(id=f"T{seq:08d}", seq=seq, ts=1_767_225_600.0 + seq * 60, tick=seq,
                      strategy=strategy, signal_id=f"s{seq}", kind="test", exchange=exchange, symbol=symbol,
                      side=side, qty=qty, price=price, fee=qty * price * FEE_RATE, fee_asset="USDT",
                      quote_usdt_rate=1.0, realized_pnl=0.0, status="filled", reason="")
        trade = dataclasses.replace(draft, realized_pnl=tracker.realized_for([draft])[0])
        tracker.apply(trade)
        trades.append(trade)
    return trades, tracker


@settings(max_examples=150, deadline=None)
@given(fills)
def test_the_books_equal_a_separate_replay(rows):
    trades, tracker = book(rows)
    wallets, realized, fees = replay(trades)
    for exchange, assets in wallets.items():
        for asset, amount in assets.items():
            assert tracker.balance(exchange, asset) == pytest.approx(amount, abs=1e-6), (exchange, asset)
    for strategy, stats in tracker.stats.items():
        assert stats.realized_pnl == pytest.approx(realized[strategy], abs=1e-6), strategy
        assert stats.fees_usdt == pytest.approx(fees[strategy], abs=1e-9), strategy


@settings(max_examples=150, deadline=None)
@given(fills)
def test_round_trips_sum_to_the_books_and_match_the_cash_flow_oracle(rows):
    trades, tracker = book(rows)
    trips = round_trips(trades)
    _, realized, fees = replay(trades)
    for strategy in tracker.stats:
        mine = [t for t in trips if t.strategy == strategy]
        assert sum(t.net_pnl for t in mine) == pytest.approx(realized[strategy] - fees[strategy], abs=1e-6)
        oracle = oracle_round_trips([t.to_dict() for t in trades]).get(strategy, [])
        assert len(oracle) == len(mine)
        for expected, got in zip(oracle, mine):
            assert got.closed == expected["closed"]
            if got.closed:  # a closed round trip's net is its cash flow less its fees
                assert got.net_pnl == pytest.approx(expected["net"], abs=1e-6)
