"""trade_line: a trade's ledger line built from its fields, held to json's text (dumps(trade.to_dict()))."""
import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bot.accounting.ledger import TradeLedger
from bot.accounting.trade_lines import trade_line
from bot.models import Trade, format_levels
from bot.storage import dumps


def make(**changes):
    trade = Trade("T00000007", 7, 1_767_225_600.0, 70, "momentum", "momentum-70-1", "momentum_entry", "binance",
                  "BTC/USDT", "buy", 0.01, 60_000.0, 0.6, "USDT", 1.0, 0.0, "filled", "why",
                  decision_ts=1_767_225_600.0, decision_mid=59_999.5, latency_ms=0.0, liquidity_taken_pct=1e-05,
                  levels_taken=((60_000.0, 0.01),))
    return dataclasses.replace(trade, **changes)


def json_text(trade):
    return dumps(trade.to_dict())


@pytest.mark.parametrize("changes", [
    {},
    dict(decision_ts=None, decision_mid=None, latency_ms=None, liquidity_taken_pct=None, levels_taken=None),
    dict(decision_ts=1_767_225_599.123, ts=1_767_225_600.456),  # the decision before the fill, at milliseconds
    dict(decision_ts=1_767_225_600.0, ts=1_767_225_660.0),
    dict(levels_taken=((60_000.0, 0.004), (60_000.5, 0.006)), liquidity_taken_pct=None),
    dict(levels_taken=()),
    dict(reason='quote " backslash \\ newline \n tab \t bell \x07 é ✓ 😀', strategy="momentum/ü"),
    dict(realized_pnl=-0.0, qty=1e-12, price=1e300, fee=5e-324),
    dict(seq=10**20, tick=0),
])
def test_the_line_is_jsons_text(changes):
    trade = make(**changes)
    assert trade_line(trade) == json_text(trade)


@pytest.mark.parametrize("changes", [
    dict(qty=10),  # an int where a float goes: json writes 10, float.__repr__ would refuse it
    dict(seq=True),  # a bool: json writes true
    dict(tick=False),
    dict(price=np.float64(60_000.0)),  # a float subclass: float's own text, as json writes it
    dict(decision_mid=np.float64(1.5)),
    dict(latency_ms=3),
])
def test_other_types_give_jsons_text(changes):
    trade = make(**changes)
    assert trade_line(trade) == json_text(trade)


@pytest.mark.parametrize("changes", [dict(price=float("nan")), dict(fee=float("inf")), dict(qty=float("-inf")),
                                     dict(decision_mid=float("nan")), dict(latency_ms=float("inf")),
                                     dict(liquidity_taken_pct=float("nan"))])
def test_what_json_refuses_is_refused(changes):
    trade = make(**changes)
    with pytest.raises(ValueError) as expected:
        json_text(trade)
    with pytest.raises(ValueError) as got:
        trade_line(trade)
    assert str(got.value) == str(expected.value)


def test_a_sum_that_overflows_still_gives_the_line():
    trade = make(qty=1.5e308, price=1.5e308)  # finite each, infinite summed: the general way, same text
    assert trade_line(trade) == json_text(trade)


finite = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=12)


@settings(max_examples=300, deadline=None)
@given(qty=finite, price=finite, fee=finite, rate=finite, pnl=finite, seq=st.integers(0, 10**12),
       tick=st.integers(-1, 10**9), names=st.lists(text, min_size=10, max_size=10),
       ts=st.floats(0, 4e9), decision_ts=st.none() | st.floats(0, 4e9),
       mid=st.none() | finite, latency=st.none() | finite, taken=st.none() | finite,
       levels=st.none() | st.lists(st.tuples(finite, finite), max_size=3).map(tuple))
def test_any_plain_trade_gives_jsons_text(qty, price, fee, rate, pnl, seq, tick, names, ts, decision_ts, mid,
                                          latency, taken, levels):
    trade = Trade(names[0], seq, ts, tick, names[1], names[2], names[3], names[4], names[5], names[6], qty, price,
                  fee, names[7], rate, pnl, names[8], names[9], decision_ts, mid, latency, taken, levels)
    assert trade_line(trade) == json_text(trade)


def test_the_ledger_writes_the_lines_and_reads_them_back(tmp_path):
    trades = [make(seq=1, id="T00000001"), make(seq=2, id="T00000002", levels_taken=None, reason="ü\n")]
    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append(trades)
    ledger.close()
    lines = (tmp_path / "trades.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines == [json_text(trade) for trade in trades]
    assert [json.loads(line)["reason"] for line in lines] == ["why", "ü\n"]
    assert TradeLedger(tmp_path).load() == trades


def test_format_levels_one_level_and_several():
    assert format_levels(((97.5, 10.0),)) == "10.0@97.5"
    assert format_levels(((97.5, 10.0), (97.6, 0.25))) == "10.0@97.5 0.25@97.6"
    assert format_levels(()) == ""
