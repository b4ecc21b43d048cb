"""Numbers for the CSV exports as decimal strings at the market's precision.

A float such as 3.1590895999999997 is written as the decimal the market allows: quantities at
the market's amount step, prices at its price step, USDT amounts and fees at USDT_DECIMALS,
percentages at PCT_DECIMALS, wallet amounts at CURRENCY_DECIMALS. Rounding is half-even on the float's shortest repr (Decimal), and
a rounded zero never keeps its sign. Markets are looked up by (exchange, symbol); a symbol whose
exchange is not known takes the finest step any exchange lists it with, an asset the finest
amount step of its markets; anything unlisted falls back to FALLBACK_DECIMALS.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Mapping

USDT_DECIMALS = 8
FEE_DECIMALS = 8
PCT_DECIMALS = 4
SECONDS_DECIMALS = 3
FALLBACK_DECIMALS = 8
CURRENCY_DECIMALS = 8  # a wallet amount, as exchanges state currency precision
MAX_DECIMALS = 12


class DecimalText(str):
    """A number already written as text: the CSV writer leaves it as it is (no formula guard)."""


def step_decimals(step: float) -> int:
    """How many decimals a step such as 0.001 (3) or 1e-08 (8) needs; 0 for steps >= 1."""
    if not step or step <= 0 or not math.isfinite(step):
        return FALLBACK_DECIMALS
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return min(MAX_DECIMALS, max(0, -int(exponent)))


def decimal_text(value, decimals: int) -> DecimalText | None:
    """value rounded to decimals places as text ('-0.00' becomes '0.00'); None stays None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(repr(float(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not number.is_finite():
        return None
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    if rounded.is_zero():
        rounded = abs(rounded)
    return DecimalText(f"{rounded:f}")


class Precision:
    """The decimals of each market's amounts and prices, from the source's Market objects."""

    def __init__(self, markets: Mapping[tuple[str, str], object]):
        self._amount: dict[tuple[str, str], int] = {}
        self._price: dict[tuple[str, str], int] = {}
        self._symbol_amount: dict[str, int] = {}
        self._symbol_price: dict[str, int] = {}
        self._asset: dict[str, int] = {}
        self._asset_price: dict[str, int] = {}
        for (exchange, symbol), market in markets.items():
            amount, price = step_decimals(market.amount_step), step_decimals(market.price_step)
            self._amount[(exchange, symbol)] = amount
            self._price[(exchange, symbol)] = price
            self._symbol_amount[symbol] = max(amount, self._symbol_amount.get(symbol, 0))
            self._symbol_price[symbol] = max(price, self._symbol_price.get(symbol, 0))
            self._asset[market.base] = max(amount, self._asset.get(market.base, 0))
            if market.quote == "USDT":
                self._asset_price[market.base] = max(price, self._asset_price.get(market.base, 0))

    def qty_decimals(self, exchange: str | None, symbol: str) -> int:
        """Decimals of an amount traded on symbol (on exchange when known)."""
        return self._amount.get((exchange, symbol), self._symbol_amount.get(symbol, FALLBACK_DECIMALS))

    def price_decimals(self, exchange: str | None, symbol: str) -> int:
        """Decimals of a price of symbol (on exchange when known)."""
        return self._price.get((exchange, symbol), self._symbol_price.get(symbol, FALLBACK_DECIMALS))

    def qty(self, exchange: str | None, symbol: str, value) -> DecimalText | None:
        """An amount of symbol's base asset at the market's amount step."""
        return decimal_text(value, self.qty_decimals(exchange, symbol))

    def price(self, exchange: str | None, symbol: str, value) -> DecimalText | None:
        """A price of symbol at the market's price step."""
        return decimal_text(value, self.price_decimals(exchange, symbol))

    def asset(self, asset: str, value) -> DecimalText | None:
        """A wallet's or position's amount of asset at CURRENCY_DECIMALS, or finer when a market's
        amount step is: wallets hold amounts finer than the trading step (a fee taken in the base
        asset), so rounding them to the step would misstate them."""
        return decimal_text(value, max(CURRENCY_DECIMALS, self._asset.get(asset, 0)))

    def asset_price(self, asset: str, value) -> DecimalText | None:
        """asset's price in USDT at the finest price step of its USDT markets."""
        decimals = USDT_DECIMALS if asset == "USDT" else self._asset_price.get(asset, FALLBACK_DECIMALS)
        return decimal_text(value, decimals)


def usdt(value) -> DecimalText | None:
    """A USDT amount (P&L, value, fee in USDT)."""
    return decimal_text(value, USDT_DECIMALS)


def pct(value) -> DecimalText | None:
    """A percentage."""
    return decimal_text(value, PCT_DECIMALS)
