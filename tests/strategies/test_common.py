"""The formatting helpers every strategy's reason sentences use (values written out by hand)."""
import pytest

from bot.strategies.common import format_price, format_qty


@pytest.mark.parametrize("price, text", [
    (60221.29, "60,221.29"),       # from 100: cents, with thousands separators
    (147.905, "147.91"),
    (2.5, "2.5000"),               # from 1: 4 decimals
    (0.053107, "0.05310700"),      # ETH/BTC, tick 1e-6
    (0.4750, "0.47500000"),        # ADA/USDT, tick 1e-4
    (0.00001234, "0.00001234"),    # SHIB-sized: every digit of a 1e-8 tick survives
    (0.000000089, "0.00000009"),
])
def test_format_price_keeps_every_quoted_digit(price, text):
    assert format_price(price) == text


@pytest.mark.parametrize("qty, text", [
    (3.0, "3"), (0.6247, "0.6247"), (0.00000088, "0.00000088"), (1e-9, "0"), (5022.4, "5022.4"),
])
def test_format_qty_drops_trailing_zeros(qty, text):
    assert format_qty(qty) == text


def _exit_inputs(by_exchange: dict, bids: dict):
    from bot.models import Market, PositionView, Quote, Snapshot

    markets = {(ex, "BTC/USDT"): Market(ex, "BTC/USDT", "BTC", "USDT", taker_fee=0.001, maker_fee=0.001,
                                        amount_step=0.001, price_step=0.01, min_amount=0.001, min_notional=1.0)
               for ex in bids}
    quotes = {(ex, "BTC/USDT"): Quote(ex, "BTC/USDT", bid=bid, ask=bid + 0.05, last=bid, bid_size=1.0,
                                      ask_size=1.0, ts=0.0) for ex, bid in bids.items()}
    snapshot = Snapshot(tick=1, ts=0.0, exchanges=tuple(bids), symbols=("BTC/USDT",), quotes=quotes,
                        markets=markets, history=None, book_reader=lambda exchange, symbol: None)
    position = PositionView("BTC", sum(by_exchange.values()), 100.0, by_exchange, 0.0)
    return snapshot, position


@pytest.mark.parametrize("by_exchange, bids, text, legs", [
    # one leg: 1.6 sold at 90: (90 - 100) * 1.6 - 90 * 1.6 * 0.001 = -16.144 on a cost of 160
    ({"binance": 1.6}, {"binance": 90.0},
     "stop; sell 1.6 BTC on binance (entry 100.00), est. P&L -16.14 USDT (-10.09%) after the sell fee",
     [("binance", 1.6)]),
    # two legs: 1.234 at 90 and 0.5 at 110: -12.34 - 0.111060 + 5.0 - 0.055 = -7.50606 on a cost of 173.4
    ({"binance": 1.2345, "kraken": 0.5}, {"binance": 90.0, "kraken": 110.0},
     "stop; sell 1.734 BTC on binance, kraken (entry 100.00), est. P&L -7.51 USDT (-4.33%) after the sell fee",
     [("binance", 1.234), ("kraken", 0.5)]),
    # even: nothing made, only the fee paid
    ({"binance": 2.0}, {"binance": 100.0},
     "stop; sell 2 BTC on binance (entry 100.00), est. P&L -0.20 USDT (-0.10%) after the sell fee", [("binance", 2.0)]),
])
def test_exit_signal_reason_sums_its_legs(by_exchange, bids, text, legs):
    from bot.strategies.common import exit_signal

    snapshot, position = _exit_inputs(by_exchange, bids)
    signal = exit_signal("momentum", "momentum_exit", snapshot, position, "BTC/USDT", "stop")
    assert signal.reason == text
    assert [(leg.exchange, leg.qty) for leg in signal.legs] == legs
    assert signal.closes_position and signal.confidence == 1.0
