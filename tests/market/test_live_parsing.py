"""The ccxt answers bot/market/live_parsing.py turns into quotes and trade rows, against hand-written answers."""
import pytest

from bot.market.live_parsing import quotes_from_tickers, trades_from_ccxt

RECEIVED = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _ticker(bid, ask, **extra):
    return {"bid": bid, "ask": ask, "last": 100.5, "timestamp": 1_767_225_599_000, **extra}


def test_quotes_from_tickers_keeps_the_asked_symbols_with_two_sided_prices():
    answer = {"BTC/USDT": _ticker(100.0, 101.0), "ETH/USDT": _ticker(None, 11.0), "SOL/USDT": _ticker(5.0, 5.1)}
    quotes = quotes_from_tickers("binance", answer, ["BTC/USDT", "ETH/USDT", "XRP/USDT"], RECEIVED)
    assert list(quotes) == ["BTC/USDT"]  # ETH is one-sided, XRP is missing, SOL was not asked for
    quote = quotes["BTC/USDT"]
    assert (quote.exchange, quote.symbol, quote.bid, quote.ask, quote.last) == ("binance", "BTC/USDT", 100.0, 101.0, 100.5)
    assert quote.ts == 1_767_225_599.0  # the exchange's own time, not the arrival


@pytest.mark.parametrize("answer, message", [
    ([_ticker(100.0, 101.0)], "tickers are a list"),
    ({"BTC/USDT": _ticker(None, None)}, "no usable ticker in the answer"),
    ({}, "no usable ticker in the answer"),
])
def test_quotes_from_tickers_refuses_an_answer_with_nothing_usable(answer, message):
    with pytest.raises(ValueError, match=message):
        quotes_from_tickers("binance", answer, ["BTC/USDT"], RECEIVED)


def test_trades_from_ccxt_keeps_whole_rows_as_plain_values():
    rows = [
        {"id": 17, "timestamp": 1_767_225_600_123, "price": "100.5", "amount": 0.25, "side": "buy"},
        {"id": None, "timestamp": 1_767_225_600_456, "price": 100.4, "amount": 1, "side": None},
        {"id": "x", "timestamp": 1_767_225_600_789, "price": 100.3, "amount": 0.0},  # no amount
        {"id": "y", "timestamp": None, "price": 100.3, "amount": 1.0},  # no time
        {"id": "z", "timestamp": 1_767_225_600_999, "price": 0, "amount": 1.0},  # no price
    ]
    assert trades_from_ccxt(rows) == [
        {"id": "17", "timestamp": 1_767_225_600_123, "price": 100.5, "amount": 0.25, "side": "buy"},
        {"id": None, "timestamp": 1_767_225_600_456, "price": 100.4, "amount": 1.0, "side": None},
    ]
