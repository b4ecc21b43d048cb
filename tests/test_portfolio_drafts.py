"""realized_for's booking reused by apply (the draft of a one-trade fill), held to plain booking by apply alone."""
import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from bot.accounting.margin import MarginRules
from bot.accounting.portfolio import PortfolioTracker
from bot.models import Trade

START = {"ex": {"USDT": 10_000.0, "BTC": 1.0, "ETH": 5.0}, "ex2": {"USDT": 5_000.0, "BTC": 0.5}}


def trade(seq, side, qty, price, symbol="BTC/USDT", exchange="ex", fee=0.0, strategy="momentum", ts=None):
    quote = symbol.split("/")[1]
    rate = 50_000.0 if quote == "BTC" else 1.0
    return Trade(f"T{seq}", seq, ts if ts is not None else 1_767_225_600.0 + seq * 60, seq, strategy, f"s{seq}",
                 "test", exchange, symbol, side, qty, price, fee, quote, rate, 0.0, "filled", "")


def tracker(margin=True):
    rules = MarginRules(shorting=frozenset({"stat_arb"}), borrow_rate_hourly_pct={"default": 0.01}) if margin else None
    return PortfolioTracker(START, margin=rules)


def books(t: PortfolioTracker):
    return (t.to_state(), {key: (p.qty, p.cost, dict(p.by_exchange), p.opened_ts) for key, p in t.positions.items()},
            dict(t.accruals), set(t.shorts), {k: dict(v) for k, v in t.flows.items()})


def drafted_then_applied(t: PortfolioTracker, draft: Trade) -> float:
    """What the data flow does: realized_for on the draft, the P&L set on that same object, then apply."""
    realized = t.realized_for([draft])[0]
    object.__setattr__(draft, "realized_pnl", realized)
    assert t.apply(draft) == realized
    return realized


fills = st.tuples(st.sampled_from(["buy", "sell"]), st.floats(1e-6, 3.0), st.floats(0.5, 2.0),
                  st.sampled_from(["BTC/USDT", "ETH/USDT", "ETH/BTC"]), st.sampled_from(["ex", "ex2"]),
                  st.sampled_from(["momentum", "stat_arb"]), st.floats(0.0, 0.01))


@settings(max_examples=200, deadline=None)
@given(st.lists(fills, min_size=1, max_size=25))
def test_drafted_books_are_the_plain_books(steps):
    drafted, plain = tracker(), tracker()
    for seq, (side, qty, scale, symbol, exchange, strategy, fee) in enumerate(steps, start=1):
        price = {"BTC/USDT": 50_000.0, "ETH/USDT": 2_500.0, "ETH/BTC": 0.05}[symbol] * scale
        realized = drafted_then_applied(drafted, trade(seq, side, qty, price, symbol, exchange, fee, strategy))
        assert plain.apply(trade(seq, side, qty, price, symbol, exchange, fee, strategy)) == realized
        assert books(drafted) == books(plain)


def test_a_round_trip_to_flat_and_dust():
    drafted, plain = tracker(False), tracker(False)
    steps = [("buy", 0.3, 50_000.0), ("sell", 0.3 - 1e-11, 51_000.0), ("buy", 0.1, 49_000.0), ("sell", 0.1, 49_500.0)]
    for seq, (side, qty, price) in enumerate(steps, start=1):
        drafted_then_applied(drafted, trade(seq, side, qty, price))
        plain.apply(trade(seq, side, qty, price))
        assert books(drafted) == books(plain)
    assert not drafted.open_positions()


def test_a_stale_draft_is_not_installed():
    """A draft whose positions were booked over since (another trade applied first) is booked afresh."""
    drafted, plain = tracker(False), tracker(False)
    for t in (drafted, plain):
        t.apply(trade(1, "buy", 0.5, 50_000.0))
    first, second = trade(2, "buy", 0.5, 51_000.0), trade(3, "sell", 0.25, 52_000.0)
    drafted.realized_for([second])  # drafted on the books before `first`, which books into the same position
    drafted.apply(first)
    drafted.apply(second)
    plain.apply(first)
    plain.apply(second)
    assert books(drafted) == books(plain)
    assert drafted.positions[("momentum", "BTC")].qty == pytest.approx(0.75)


def test_a_draft_whose_position_was_replaced_is_not_installed():
    drafted, plain = tracker(False), tracker(False)
    for t in (drafted, plain):
        t.apply(trade(1, "buy", 0.5, 50_000.0))
    sell = trade(2, "sell", 0.2, 55_000.0)
    drafted.realized_for([sell])
    replaced = drafted.positions[("momentum", "BTC")].copy()
    replaced.qty, replaced.cost = 1.0, 40_000.0
    drafted.positions[("momentum", "BTC")] = replaced
    plain.positions[("momentum", "BTC")] = replaced.copy()
    assert drafted.apply(sell) == plain.apply(trade(2, "sell", 0.2, 55_000.0))
    assert books(drafted) == books(plain)


def test_only_the_drafted_trade_object_takes_the_draft():
    """An equal trade that is another object (a copy with its P&L set) is booked the plain way."""
    drafted, plain = tracker(False), tracker(False)
    for t in (drafted, plain):
        t.apply(trade(1, "buy", 0.5, 50_000.0))
    draft = trade(2, "sell", 0.2, 55_000.0)
    realized = drafted.realized_for([draft])[0]
    drafted.positions[("momentum", "BTC")].qty = 0.7  # changed in place: only plain booking sees it
    plain.positions[("momentum", "BTC")].qty = 0.7
    drafted.apply(dataclasses.replace(draft, realized_pnl=realized))
    plain.apply(trade(2, "sell", 0.2, 55_000.0))
    assert books(drafted) == books(plain)


def test_several_trades_are_booked_plainly():
    drafted, plain = tracker(False), tracker(False)
    legs = [trade(1, "buy", 1.0, 0.05, symbol="ETH/BTC"), trade(2, "sell", 0.5, 2_600.0, symbol="ETH/USDT")]
    drafted.realized_for(legs)
    for leg in legs:
        drafted.apply(leg)
    for leg in [trade(1, "buy", 1.0, 0.05, symbol="ETH/BTC"), trade(2, "sell", 0.5, 2_600.0, symbol="ETH/USDT")]:
        plain.apply(leg)
    assert books(drafted) == books(plain)
