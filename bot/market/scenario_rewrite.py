"""How a stress scenario rewrites the pieces of a snapshot: quotes, order books and candles.

Prices move by a factor around the mid, spreads widen by scaling each level's distance from the
mid, depth scales every level's size; prices are rounded to the market's step (bids down, asks
up) and levels that round onto one price are merged. Used by bot/market/scenario_market.py.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from bot.models import Candle, CandleHistory, OrderBook, Quote


def moved_quote(quote: Quote, step: float, price: float, spread: float, depth: float, before: float) -> Quote:
    """quote with its prices times `price`, its spread times `spread`, its sizes times `depth`;
    the 24h change is against the price a day ago, which the scenario had moved by `before`."""
    bid, ask = _move_top(quote.bid, quote.ask, price, spread, step)
    last = min(max(quote.last * price, bid), ask)
    change = ((1.0 + quote.change_24h_pct / 100.0) * price / before - 1.0) * 100.0
    return Quote(quote.exchange, quote.symbol, bid, ask, last, quote.bid_size * depth, quote.ask_size * depth,
                 quote.ts, change)


@lru_cache(maxsize=1024)
def _units_per_price(step: float) -> float:
    """1 / step as the simulator keeps it (a power of ten when the step is one), so prices come out clean."""
    inverse = 1.0 / step
    power = 10.0 ** round(math.log10(inverse))
    return power if abs(power - inverse) < 1e-9 * inverse else inverse


def _round_down(value: float, step: float) -> float:
    if step <= 0:
        return value
    units = _units_per_price(step)
    return math.floor(value * units + 1e-9) / units


def _round_up(value: float, step: float) -> float:
    if step <= 0:
        return value
    units = _units_per_price(step)
    return math.ceil(value * units - 1e-9) / units


def _move_top(bid: float, ask: float, price: float, spread: float, step: float) -> tuple[float, float]:
    """The best bid and ask after the price moved by `price` and the spread widened by `spread`."""
    mid, scale = (bid + ask) * 0.5, price * spread
    new_bid = _round_down(mid * price + (bid - mid) * scale, step)
    new_ask = _round_up(mid * price + (ask - mid) * scale, step)
    if new_ask <= new_bid:
        new_ask = _round_up(new_bid + (step or new_bid * 1e-6) * 0.5, step)
    return new_bid, new_ask


def _move_levels(levels, mid: float, price: float, spread: float, depth: float, step: float,
                 rounding) -> tuple[tuple[float, float], ...]:
    """Book levels moved like the top: distance from the mid scaled, sizes times depth, merged after rounding."""
    scale, out = price * spread, []
    for level_price, qty in levels:
        moved = rounding(mid * price + (level_price - mid) * scale, step)
        if out and out[-1][0] == moved:
            out[-1] = (moved, out[-1][1] + qty * depth)
        else:
            out.append((moved, qty * depth))
    return tuple(out)


class BookRewriter:
    """A snapshot's book reader with the scenario's moves applied to every book it hands out."""

    __slots__ = ("_reader", "_factors", "_markets", "_cache")

    def __init__(self, reader, factors: dict, markets):
        self._reader, self._factors, self._markets, self._cache = reader, factors, markets, {}

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        key = (exchange, symbol)
        if key in self._cache:
            return self._cache[key]
        book = self._reader(exchange, symbol)
        factors = self._factors.get(key)
        if book is not None and factors is not None and factors != (1.0, 1.0, 1.0) and book.bids and book.asks:
            price, spread, depth = factors
            market = self._markets.get(key)
            step = market.price_step if market is not None else 0.0
            mid = (book.bids[0][0] + book.asks[0][0]) * 0.5
            book = OrderBook(exchange, symbol, _move_levels(book.bids, mid, price, spread, depth, step, _round_down),
                             _move_levels(book.asks, mid, price, spread, depth, step, _round_up), book.ts)
        self._cache[key] = book
        return book


class ScenarioHistory(CandleHistory):
    """The inner candle history as the scenario shows it at market time `now`: prices moved by the
    price curve at each bar's open and close, and no bar of the outage exchange closed during the outage."""

    def __init__(self, inner: CandleHistory, market, now: float):
        self._inner, self._market, self._now = inner, market, now

    def _hidden(self, exchange: str) -> int:
        """How many of the newest bars the outage exchange has not delivered yet (0 when it is up)."""
        market = self._market
        if exchange not in market.down(self._now):
            return 0
        began = market.start + market.scenario.outage_minutes[0] * 60.0
        return max(0, math.floor(self._now / 60.0) - math.floor(began / 60.0))  # bars that closed after it began

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:
        """The last `count` closes, oldest first, as the scenario shows them."""
        hidden = self._hidden(exchange)
        closes = self._inner.closes(exchange, symbol, count + hidden)
        if hidden:
            closes = closes[:max(0, len(closes) - hidden)]
        if self._market.scenario.price is None:
            return closes
        times = self._times(exchange, symbol, len(closes), hidden)
        if times is None:
            return closes
        return closes * self._market.price_factor(exchange, symbol, times + 60.0 - self._market.tick_seconds)

    def candles(self, exchange: str, symbol: str, count: int) -> list[Candle]:
        """The last `count` candles, oldest first, as the scenario shows them."""
        hidden = self._hidden(exchange)
        bars = self._inner.candles(exchange, symbol, count + hidden)
        if hidden:
            bars = bars[:max(0, len(bars) - hidden)]
        if self._market.scenario.price is None or not bars or bars[-1].ts + 60.0 < self._market.start or bars[0].ts > self._market.end:
            return bars
        times = np.array([bar.ts for bar in bars])
        opens = self._market.price_factor(exchange, symbol, times)
        closes = self._market.price_factor(exchange, symbol, times + 60.0 - self._market.tick_seconds)
        out = []
        for bar, fo, fc in zip(bars, np.broadcast_to(opens, times.shape), np.broadcast_to(closes, times.shape)):
            o, c = bar.open * fo, bar.close * fc
            out.append(Candle(bar.ts, o, max(bar.high * max(fo, fc), o, c), min(bar.low * min(fo, fc), o, c),
                              c, bar.volume))
        return out

    def _times(self, exchange: str, symbol: str, count: int, hidden: int) -> np.ndarray | None:
        """Open times of the last `count` bars (after the hidden ones), or None when none is in the event."""
        if count == 0:
            return None
        newest = self._inner.candles(exchange, symbol, 1 + hidden)
        if not newest:
            return None
        last = newest[0].ts
        first = last - 60.0 * (count - 1)
        if last + 60.0 < self._market.start or first > self._market.end:
            return None
        return first + 60.0 * np.arange(count)
