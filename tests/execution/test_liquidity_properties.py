"""Property tests through the real executor, liquidity memory, data flow, ledger and portfolio.

On a book that stays put (the exchange keeps offering the same levels, tick after tick), the
quantity we fill at a level never exceeds what it offered plus what has refilled since
(oracle: every earlier fill at that price, decayed by the half-life and dropped after the
documented cut-off, computed here independently of the memory), and a buy gets all of what the oracle says is left; no balance goes below zero except a declared short's base asset;
and replaying the ledger read from disk reproduces the portfolio.
"""
from __future__ import annotations

import tempfile

from hypothesis import given, settings, strategies as st

from bot.accounting.ledger import TradeLedger
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.reconcile import compare_books
from bot.config import ExecutionConfig
from bot.data_flow import DataFlowManager
from bot.execution.executor import PaperExecutor
from bot.execution.liquidity import CUTOFF_HALF_LIVES
from bot.execution.orders import OrdersInFlight
from bot.models import Leg, Signal, round_step
from tests.builders import T0, market, snapshot

HALF_LIFE = 5.0
TOLERANCE = 1e-9
START = {"a": {"USDT": 1e6, "BTC": 3.0}, "b": {"USDT": 1e6, "BTC": 3.0}}

book_levels = st.lists(st.integers(1, 300), min_size=2, max_size=6)  # qty in hundredths per level
orders = st.lists(st.tuples(st.sampled_from(["buy", "sell", "pair"]), st.sampled_from(["a", "b"]),
                            st.integers(1, 500), st.booleans()), min_size=1, max_size=3)
steps = st.lists(st.tuples(st.sampled_from([0.0, 0.5, 2.0, 5.0, 15.0, 60.0]), orders), min_size=1, max_size=12)


def make_books(ask_qty, bid_qty):
    asks = tuple((100.0 + i, q / 100.0) for i, q in enumerate(ask_qty))
    bids = tuple((99.0 - i, q / 100.0) for i, q in enumerate(bid_qty))
    return {(ex, "BTC/USDT"): (bids, asks) for ex in ("a", "b")}


def signal_for(kind, exchange, hundredths, number):
    qty = hundredths / 100.0
    other = "b" if exchange == "a" else "a"
    if kind == "pair":  # atomic: buy here, sell there
        legs = (Leg(exchange, "BTC/USDT", "buy", qty, 100.0), Leg(other, "BTC/USDT", "sell", qty, 99.0))
    else:
        legs = (Leg(exchange, "BTC/USDT", kind, qty, 100.0),)
    return Signal("prop", kind, legs, "property", id=f"prop-{number}")


class LevelOracle:
    """Our fills per (exchange, book side, price), each with its time: what a level still misses."""

    def __init__(self):
        self.fills: dict[tuple[str, str, float], list[tuple[float, float]]] = {}

    def missing(self, key, ts: float) -> float:
        # The documented model: a take refills with the half-life and is gone CUTOFF_HALF_LIVES on.
        return sum(qty if ts <= at else qty * 0.5 ** ((ts - at) / HALF_LIFE)
                   for qty, at in self.fills.get(key, ()) if ts - at <= CUTOFF_HALF_LIVES * HALF_LIFE)

    def add(self, key, qty: float, ts: float) -> None:
        self.fills.setdefault(key, []).append((qty, ts))


@settings(max_examples=120, deadline=None, derandomize=True)
@given(book_levels, book_levels, steps, st.booleans())
def test_levels_never_give_more_than_they_offered_plus_refill(ask_qty, bid_qty, plan, with_shorts):
    books = make_books(ask_qty, bid_qty)
    offered = {(ex, side): dict(levels) for (ex, _), (bids, asks) in books.items()
               for side, levels in (("bids", bids), ("asks", asks))}
    markets = {key: market(key[0], "BTC/USDT", amount_step=0.01, min_notional=0.0) for key in books}
    config = ExecutionConfig(max_slippage_pct=5, latency_ms={"default": 0},
                             liquidity={"refill_half_life_seconds": HALF_LIFE})
    with tempfile.TemporaryDirectory() as folder:
        ledger = TradeLedger(folder, fsync=False)
        tracker = PortfolioTracker(START)
        flow = DataFlowManager(PaperExecutor(config), ledger, tracker, folder, fsync=False,
                               orders=OrdersInFlight(config))
        recorded = []
        flow.subscribe(lambda event, payload: recorded.extend(payload) if event == "trade_executed" else None)
        oracle = LevelOracle()
        shorted = set()
        ts, number = T0, 0
        for dt, batch in plan:
            ts += dt
            snap = flow.market_view(snapshot(books, markets=markets, ts=ts, tick=number))
            tracker.mark(snap)
            for kind, exchange, hundredths, short in batch:
                number += 1
                signal = signal_for(kind, exchange, hundredths, number)
                before = len(recorded)
                allows_short = with_shorts and short
                if kind == "buy":  # cash is plenty: the fill is all the oracle says the asks still hold
                    left = sum(max(0.0, q - oracle.missing((exchange, "asks", p), ts))
                               for p, q in offered[(exchange, "asks")].items())
                    expected = round_step(min(signal.legs[0].qty, left - 1e-7), 0.01)
                result = flow.process_signal(signal, snap, allows_short=allows_short)
                assert result.status != "pending"
                if kind == "buy":
                    got = recorded[before].qty if len(recorded) > before else 0.0
                    assert got >= expected - TOLERANCE, f"filled {got}, the book still held {left:.6f}"
                for trade in recorded[before:]:
                    side = "asks" if trade.side == "buy" else "bids"
                    assert sum(q for _, q in trade.levels_taken) == trade.qty or \
                        abs(sum(q for _, q in trade.levels_taken) - trade.qty) < TOLERANCE
                    for price, qty in trade.levels_taken:
                        assert price in offered[(trade.exchange, side)], "a fill at a price the book never showed"
                        key = (trade.exchange, side, price)
                        already = oracle.missing(key, trade.ts)
                        assert already + qty <= offered[(trade.exchange, side)][price] + TOLERANCE, (
                            f"{trade.exchange} {side} {price}: {already:.6f} still out + {qty} > "
                            f"{offered[(trade.exchange, side)][price]}")
                        oracle.add(key, qty, trade.ts)
                    if trade.side == "sell" and allows_short:
                        shorted.add(trade.exchange)
            for exchange, wallet in tracker.balances.items():
                for asset, amount in wallet.items():
                    if amount < -TOLERANCE:
                        assert asset == "BTC" and exchange in shorted, f"{exchange} {asset} = {amount}"
        ledger.close()
        on_disk = list(TradeLedger(folder, fsync=False).iter_all())
        assert on_disk == recorded
        replayed = PortfolioTracker.from_ledger(START, on_disk)
        assert compare_books(replayed.to_state(), tracker.to_state()) == []
