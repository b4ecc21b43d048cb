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
