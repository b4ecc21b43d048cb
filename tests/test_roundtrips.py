"""Round trips on hand-computed cases: the fills go through the real books (PortfolioTracker),
and both the booked P&L and the round trip are checked against figures worked out by hand."""
from __future__ import annotations

import dataclasses

import pytest

from bot.models import Trade
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.roundtrips import RoundTripBuilder, round_trips

T0 = 1_767_225_600.0


class Books:
    """Fills through a real tracker, as the data flow books them (realized_for, then apply)."""

    def __init__(self):
        self.tracker = PortfolioTracker({"ex": {"USDT": 1_000_000.0, "BTC": 10.0},
                                         "ex2": {"USDT": 1_000_000.0, "BTC": 10.0}})
        self.trades: list[Trade] = []

    def fill(self, strategy, signal, side, symbol, qty, price, fee, minute, exchange="ex", rate=1.0,
             fee_asset=None, reason="", kind="test") -> Trade:
        seq = len(self.trades) + 1
        draft = Trade(id=f"T{seq:08d}", seq=seq, ts=T0 + minute * 60, tick=minute, strategy=strategy,
                      signal_id=signal, kind=kind, exchange=exchange, symbol=symbol, side=side, qty=qty, price=price,
                      fee=fee, fee_asset=fee_asset or symbol.split("/")[1], quote_usdt_rate=rate, realized_pnl=0.0,
                      status="filled", reason=reason or f"{signal} {side}")
        realized = self.tracker.realized_for([draft])[0]
        trade = dataclasses.replace(draft, realized_pnl=realized)
        self.tracker.apply(trade)
        self.trades.append(trade)
        return trade


def test_a_long_with_a_partial_exit_is_one_round_trip_with_fees_on_both_sides():
    books = Books()
    books.fill("momentum", "s1", "buy", "ETH/USDT", 2.0, 100.0, 0.2, 0)
    partial = books.fill("momentum", "s2", "sell", "ETH/USDT", 1.0, 110.0, 0.11, 5)
    last = books.fill("momentum", "s3", "sell", "ETH/USDT", 1.0, 120.0, 0.12, 9, reason="take profit")
    assert (partial.realized_pnl, last.realized_pnl) == (pytest.approx(10.0), pytest.approx(20.0))
    trips = round_trips(books.trades)
    assert len(trips) == 1
    trip = trips[0].to_dict()
    assert trip["status"] == "closed" and trip["side"] == "long" and trip["symbols"] == ["ETH/USDT"]
    assert trip["quantity"] == 2.0
    assert trip["entry_vwap"] == pytest.approx(100.0) and trip["exit_vwap"] == pytest.approx(115.0)
    assert trip["entry_fees_usdt"] == pytest.approx(0.2) and trip["exit_fees_usdt"] == pytest.approx(0.23)
    assert trip["net_pnl"] == pytest.approx(30.0 - 0.43)
    assert trip["return_pct"] == pytest.approx((30.0 - 0.43) / 200.0 * 100.0)
    assert trip["duration_seconds"] == 9 * 60
    assert trip["exit_reason"] == "take profit" and trip["signal_ids"] == ["s1", "s2", "s3"]
    assert trip["trade_ids"] == ["T00000001", "T00000002", "T00000003"]


def test_after_a_partial_exit_the_round_trip_is_still_open():
    books = Books()
    books.fill("momentum", "s1", "buy", "ETH/USDT", 2.0, 100.0, 0.2, 0)
    books.fill("momentum", "s2", "sell", "ETH/USDT", 1.0, 110.0, 0.11, 5)
    [trip] = round_trips(books.trades)
    assert trip.status == "open" and trip.closed_ts is None and trip.net_pnl == pytest.approx(10.0 - 0.31)


def test_a_flip_closes_the_long_and_opens_a_short():
    books = Books()
    books.fill("stat_arb", "s1", "buy", "ETH/USDT", 1.0, 100.0, 0.1, 0)
    flip = books.fill("stat_arb", "s2", "sell", "ETH/USDT", 3.0, 90.0, 0.27, 1)
    cover = books.fill("stat_arb", "s3", "buy", "ETH/USDT", 2.0, 80.0, 0.16, 2)
    assert flip.realized_pnl == pytest.approx(-10.0) and cover.realized_pnl == pytest.approx(20.0)
    long, short = round_trips(books.trades)
    assert (long.side, long.status, short.side, short.status) == ("long", "closed", "short", "closed")
    assert long.exit_fees_usdt == pytest.approx(0.09)  # a third of the flip's fee
    assert long.net_pnl == pytest.approx(-10.0 - 0.1 - 0.09)
    assert short.entry_fees_usdt == pytest.approx(0.18)
    assert short.legs["ETH/USDT"].entry_qty == pytest.approx(2.0)
    assert short.legs["ETH/USDT"].entry_vwap == pytest.approx(90.0)
    assert short.legs["ETH/USDT"].exit_vwap == pytest.approx(80.0)
    assert short.net_pnl == pytest.approx(20.0 - 0.18 - 0.16)
    assert short.return_pct == pytest.approx((20.0 - 0.34) / 180.0 * 100.0)


def test_an_arbitrage_triangle_is_one_round_trip():
    books = Books()
    books.fill("arbitrage", "A1", "buy", "BTC/USDT", 0.01, 50_000.0, 0.5, 3, kind="triangular")
    books.fill("arbitrage", "A1", "buy", "ETH/BTC", 0.2, 0.05, 0.00001, 3, rate=50_000.0, kind="triangular")
    books.fill("arbitrage", "A1", "sell", "ETH/USDT", 0.2, 2_600.0, 0.52, 3, kind="triangular")
    books.fill("arbitrage", "A2", "buy", "BTC/USDT", 0.01, 50_000.0, 0.5, 4, exchange="ex", kind="cross_exchange")
    books.fill("arbitrage", "A2", "sell", "BTC/USDT", 0.01, 50_200.0, 0.502, 4, exchange="ex2", kind="cross_exchange")
    triangle, cross = round_trips(books.trades)
    # 0.2 ETH sold for 520 USDT that cost 500; fees 0.5 + 0.00001 BTC (0.5 USDT) + 0.52
    assert triangle.side == "arbitrage" and triangle.closed and len(triangle.legs) == 3
    assert triangle.realized_pnl == pytest.approx(20.0)
    assert triangle.entry_fees_usdt == pytest.approx(0.5) and triangle.exit_fees_usdt == pytest.approx(1.02)
    assert triangle.net_pnl == pytest.approx(18.48)
    assert triangle.return_pct == pytest.approx(18.48 / 500.0 * 100.0)
    assert triangle.duration_seconds == 0.0 and triangle.to_dict()["quantity"] is None
    assert cross.exchanges == {"ex", "ex2"} and cross.legs["BTC/USDT"].exit_vwap == pytest.approx(50_200.0)
    # The triangle paid its ETH/BTC fee in BTC, leaving arbitrage 0.00001 BTC short; the cross trade's
    # buy covers that first, so only 0.00999 BTC of the sell is a gain of 200 each (the rest is short).
    assert cross.realized_pnl == pytest.approx(0.00999 * 200.0)
    assert cross.net_pnl == pytest.approx(1.998 - 0.5 - 0.502)
    assert cross.to_dict()["entry_vwap"] == pytest.approx(50_000.0)


def test_a_stat_arb_pair_with_a_loss_is_one_round_trip_with_both_legs():
    books = Books()
    books.fill("stat_arb", "E1", "buy", "ADA/USDT", 1000.0, 1.0, 1.0, 0)
    books.fill("stat_arb", "E1", "sell", "XRP/USDT", 500.0, 2.0, 1.0, 0)
    long_exit = books.fill("stat_arb", "X1", "sell", "ADA/USDT", 1000.0, 0.99, 0.99, 30)
    short_exit = books.fill("stat_arb", "X1", "buy", "XRP/USDT", 500.0, 2.01, 1.005, 30, reason="stop")
    assert long_exit.realized_pnl == pytest.approx(-10.0)
    assert short_exit.realized_pnl == pytest.approx(-5.0)  # a short bought back dearer loses
    [trip] = round_trips(books.trades)
    assert trip.side == "pair" and trip.symbols == ["ADA/USDT", "XRP/USDT"] and trip.closed
    assert trip.net_pnl == pytest.approx(-15.0 - 3.995)
    assert trip.entry_notional_usdt == pytest.approx(2000.0)
    assert trip.return_pct == pytest.approx(-18.995 / 2000.0 * 100.0)
    assert trip.signal_ids == ["E1", "X1"] and trip.exit_reason == "stop" and trip.duration_seconds == 1800


def test_the_incremental_builder_equals_the_pure_function_and_sums_to_the_books():
    books = Books()
    for minute, (side, qty, price) in enumerate([("buy", 1.0, 100.0), ("buy", 1.0, 110.0), ("sell", 0.5, 120.0),
                                                  ("sell", 2.5, 90.0), ("buy", 1.0, 95.0)]):
        books.fill("stat_arb", f"s{minute}", side, "ETH/USDT", qty, price, qty * price * 0.001, minute)
    builder = RoundTripBuilder()
    for trade in books.trades:
        builder.add(trade)
    assert [t.to_dict() for t in builder.trips] == [t.to_dict() for t in round_trips(books.trades)]
    stats = books.tracker.stats["stat_arb"]
    assert sum(t.net_pnl for t in builder.trips) == pytest.approx(stats.realized_pnl - stats.fees_usdt)
    assert [t.status for t in builder.trips] == ["closed", "closed"]
