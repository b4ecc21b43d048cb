"""The margin desk's walk of the short legs: each leg's collateral, scaled by its exchange's cash pool.

Hand-computed: a short of 2 ETH entered at 100 with initial ratio 1.5 holds 1.5 x 2 x 100 = 300 USDT
of collateral. When the exchange's cash covers only part of what is reserved there, every short on it
keeps that share: 150 of 300 reserved -> 0.5, so 150 USDT; at a mid of 110 its level is 150 / 220.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.accounting.margin import MarginRules
from bot.accounting.margin_desk import short_collaterals, shorts_below
from bot.models import Quote


def _portfolio(cash_by_exchange: dict[str, float]):
    eth = SimpleNamespace(by_exchange={"binance": -2.0, "kraken": 0.5}, avg_cost=100.0)
    sol = SimpleNamespace(by_exchange={"kraken": -10.0}, avg_cost=20.0)
    positions = {("stat_arb", "ETH"): eth, ("stat_arb", "SOL"): sol}
    reserved = {"binance": 300.0, "kraken": 300.0}  # 1.5 x 2 x 100; 1.5 x 10 x 20
    return SimpleNamespace(shorts={("stat_arb", "ETH"), ("stat_arb", "SOL")}, positions=positions,
                           reserved_on=reserved.__getitem__,
                           balance=lambda exchange, asset: cash_by_exchange[exchange], marks=lambda: {})


def test_each_short_leg_with_its_pooled_collateral_by_hand():
    rules = MarginRules(shorting=frozenset({"stat_arb"}), initial_ratio=1.5, maintenance_ratio=1.25)
    legs = list(short_collaterals(_portfolio({"binance": 150.0, "kraken": 900.0}), rules))
    # The long ETH on kraken is no short; binance's cash covers half its reserve; kraken's covers it all.
    assert legs == [("stat_arb", "ETH", "binance", 2.0, pytest.approx(150.0, rel=1e-15)),
                    ("stat_arb", "SOL", "kraken", 10.0, pytest.approx(300.0, rel=1e-15))]
    assert list(short_collaterals(_portfolio({"binance": -5.0, "kraken": 900.0}), rules))[0][4] == 0.0


def test_shorts_below_maintenance_use_the_pooled_collateral():
    rules = MarginRules(shorting=frozenset({"stat_arb"}), initial_ratio=1.5, maintenance_ratio=1.25)
    quotes = {("binance", "ETH/USDT"): Quote("binance", "ETH/USDT", 109.0, 111.0, 110.0, 1.0, 1.0, 0.0),
              ("kraken", "SOL/USDT"): Quote("kraken", "SOL/USDT", 20.0, 20.0, 20.0, 1.0, 1.0, 0.0)}
    snapshot = SimpleNamespace(quotes=quotes)
    below = shorts_below(_portfolio({"binance": 150.0, "kraken": 900.0}), rules, snapshot)
    # ETH: 150 / (2 x 110) = 0.6818 < 1.25; SOL: 300 / (10 x 20) = 1.5, above maintenance.
    assert [row[:4] for row in below] == [("stat_arb", "ETH", "binance", 2.0)]
    assert below[0][4] == pytest.approx(150.0 / 220.0, rel=1e-12)
    # With the whole reserve in cash ETH's level is 300 / 220 = 1.36: no call.
    assert shorts_below(_portfolio({"binance": 300.0, "kraken": 900.0}), rules, snapshot) == []
