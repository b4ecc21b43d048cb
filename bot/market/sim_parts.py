"""The simulated market's catalogue and what it derives from its price paths.

simulator.py owns the clock, sim_prices.py the true prices, sim_deviations.py and
sim_competition.py how exchanges quote them. This module holds the rest: the catalogue of
assets and exchanges (start prices, volatility, liquidity, steps, fees, names), order books and
1-minute candles; news and whale transfers live in sim_news.py.

Order books are a tick's quote (the top level) plus one of BOOK_VARIANTS precomputed shapes of
the market, picked per tick, so any book can be rebuilt from a handful of numbers.
Candles are folded from each chunk's mid prices into one bounded store, so memory does not
grow with the number of ticks.
"""
from __future__ import annotations

import math
import zlib
from typing import NamedTuple

import numpy as np

from bot.models import OrderBook, split_symbol

# asset: (start price in USDT, 1-minute volatility in % in a normal spell, loading on the market
# factor, amount step). Loadings near 0.9 for the majors give BTC-ETH 1-minute correlations of
# about 0.8, as measured on liquid exchanges.
ASSETS = {
    "BTC": (60000.0, 0.08, 0.95, 1e-5), "ETH": (3000.0, 0.10, 0.93, 1e-4),
    "SOL": (150.0, 0.12, 0.80, 1e-3), "XRP": (0.6, 0.10, 0.72, 0.1), "ADA": (0.45, 0.13, 0.72, 1.0),
    "BNB": (580.0, 0.09, 0.80, 1e-3), "DOGE": (0.15, 0.16, 0.70, 1.0), "LTC": (80.0, 0.11, 0.78, 1e-3),
    "DOT": (7.0, 0.13, 0.75, 0.01), "LINK": (15.0, 0.13, 0.75, 0.01), "AVAX": (35.0, 0.14, 0.75, 0.01),
}
# Liquidity by coin: (quoted spread in bps, top-of-book notional in USDT) on the deepest exchange
# in a normal spell. BTC is tight and deep, small alts wider and thinner.
LIQUIDITY = {
    "BTC": (0.3, 60_000.0), "ETH": (0.5, 40_000.0), "SOL": (1.5, 15_000.0), "XRP": (2.0, 12_000.0),
    "ADA": (3.0, 8_000.0), "BNB": (1.2, 15_000.0), "DOGE": (3.0, 8_000.0), "LTC": (2.5, 6_000.0),
    "DOT": (3.5, 5_000.0), "LINK": (3.0, 6_000.0), "AVAX": (3.5, 5_000.0),
}
UNKNOWN_LIQUIDITY = (6.0, 3_000.0)
# Liquidity by exchange: (spread multiplier, depth multiplier); unknown exchanges get a stable draw.
VENUE_LIQUIDITY = {"binance": (1.0, 1.0), "coinbase": (1.5, 0.6), "kraken": (2.0, 0.35)}
# A cross such as ETH/BTC is quoted wider and thinner than either coin's USDT market.
CROSS_SPREAD_FACTOR, CROSS_DEPTH_FACTOR = 1.5, 0.4
PEGGED = frozenset({"USDC", "DAI", "FDUSD", "TUSD", "USDP", "BUSD"})
PRICE_STEPS = {"BTC/USDT": 0.01, "ETH/USDT": 0.01, "SOL/USDT": 0.01, "XRP/USDT": 1e-4, "ADA/USDT": 1e-4,
               "ETH/BTC": 1e-6}
FEES = {"binance": (0.0010, 0.0008), "kraken": (0.0016, 0.0010), "coinbase": (0.0012, 0.0006)}  # taker, maker

BOOK_VARIANTS = 64


def stable_unit(*parts: object) -> float:
    """A stable number in [0, 1) from text (str hash() is salted per process, crc32 is not)."""
    return zlib.crc32("|".join(map(str, parts)).encode()) / 2.0**32


def asset_params(asset: str) -> tuple[float, float, float, float]:
    """(start price in USDT, 1-minute volatility in %, market-factor loading, amount step)."""
    if asset in ASSETS:
        return ASSETS[asset]
    if asset in PEGGED:
        return (1.0, 0.0, 0.0, 0.1)
    price = float(f"{10.0 ** (-1.0 + 4.0 * stable_unit(asset, 'price')):.3g}")
    step = 10.0 ** math.floor(math.log10(0.99 / price))  # one step is worth less than 1 USDT
    return (price, 0.08 + 0.07 * stable_unit(asset, "vol"), 0.65 + 0.15 * stable_unit(asset, "loading"), step)


def market_liquidity(exchange: str, symbol: str) -> tuple[float, float]:
    """(quoted spread in bps, top-of-book notional in USDT) of a market in a normal spell."""
    base, quote = split_symbol(symbol)
    coins = [LIQUIDITY.get(a, UNKNOWN_LIQUIDITY) for a in (base, quote) if a != "USDT" and a not in PEGGED]
    spread_bps = max((c[0] for c in coins), default=1.0)
    top_usdt = min((c[1] for c in coins), default=20_000.0)
    if len(coins) == 2:
        spread_bps, top_usdt = spread_bps * CROSS_SPREAD_FACTOR, top_usdt * CROSS_DEPTH_FACTOR
    u = stable_unit(exchange, "venue")
    spread_mult, depth_mult = VENUE_LIQUIDITY.get(exchange, (1.2 + u, 0.8 - 0.5 * u))
    return spread_bps * spread_mult, top_usdt * depth_mult


def price_step_for(symbol: str, price: float) -> float:
    """Tick size: a power of ten at most 0.01 and about 1e-4 of the price."""
    return PRICE_STEPS.get(symbol) or min(0.01, 10.0 ** (math.floor(math.log10(price)) - 4))


def fee_rates(exchange: str) -> tuple[float, float]:
    """(taker, maker) fee rates; exchanges not in FEES get a stable 0.10-0.20 % taker fee."""
    if exchange in FEES:
        return FEES[exchange]
    taker = round(0.0010 + 0.0001 * math.floor(11 * stable_unit(exchange, "fee")), 4)
    return taker, round(taker * 0.75, 6)


class CandleStore:
    """Closed 1-minute bars of every market, oldest first, at most `keep` of them readable.

    Bars are folded a chunk of ticks at a time; each stored bar remembers the tick on which it
    closed (the first tick of the next minute), so readers see only what has closed by now.
    """

    def __init__(self, markets: int, keep: int, bars_per_chunk: int):
        self.keep = keep
        size = keep + max(keep // 2, bars_per_chunk) + bars_per_chunk
        self.ts = np.zeros(size)
        self.ohlcv = np.zeros((5, markets, size))
        self.length = 0
        self._forming: tuple | None = None  # (minute, open, high, low, close, volume) of the open bar

    def fold(self, first_tick: int, minutes: np.ndarray, mid: np.ndarray, volume: np.ndarray):
        """Add a chunk's ticks (mid and volume per tick and market); return, per tick, how many
        stored bars are closed by then (an end index into the store) and whether a bar closed on it."""
        starts = np.flatnonzero(minutes[1:] != minutes[:-1]) + 1
        bounds = np.concatenate(([0], starts))
        bars = [minutes[bounds], mid[bounds], np.maximum.reduceat(mid, bounds, axis=0),
                np.minimum.reduceat(mid, bounds, axis=0), mid[np.concatenate((starts - 1, [len(mid) - 1]))],
                np.add.reduceat(volume, bounds, axis=0)]
        close_ticks = first_tick + starts
        if self._forming is not None:
            minute, o, h, low, c, v = self._forming
            if minute == bars[0][0]:  # the bar began in the previous chunk
                bars[1][0], bars[5][0] = o, bars[5][0] + v
                bars[2][0], bars[3][0] = np.maximum(bars[2][0], h), np.minimum(bars[3][0], low)
            else:  # it closed on this chunk's first tick
                bars = [np.concatenate(([old], new)) for old, new in zip(self._forming, bars)]
                close_ticks = np.concatenate(([first_tick], close_ticks))
        self._forming = tuple(column[-1] for column in bars)
        self._append(bars[0][:-1] * 60.0, np.stack([column[:-1] for column in bars[1:]]).transpose(0, 2, 1))
        base = self.length - len(close_ticks)
        visible_end = base + np.searchsorted(close_ticks, np.arange(first_tick, first_tick + len(mid)), "right")
        return visible_end, (np.diff(visible_end, prepend=base) > 0).tolist()

    def _append(self, ts: np.ndarray, ohlcv: np.ndarray) -> None:
        count = len(ts)
        if self.length + count > len(self.ts):  # keep the last `keep`: no read looks further back
            lo = self.length - self.keep
            self.ts[: self.keep] = self.ts[lo : self.length]
            self.ohlcv[:, :, : self.keep] = self.ohlcv[:, :, lo : self.length]
            self.length = self.keep
        end = self.length + count
        self.ts[self.length : end] = ts
        self.ohlcv[:, :, self.length : end] = ohlcv
        self.length = end

    def window(self, visible_end: int, count: int) -> tuple[int, int]:
        """Store indices [lo, hi) of the last `count` bars closed at visible_end."""
        return max(visible_end - max(count, 0), visible_end - self.keep, 0), visible_end


class BookConstants(NamedTuple):
    """Per market (first axis): 1 / price step; the levels' signed offsets in price steps (side,
    level); notional per variant, side and level below the top; and the amount rounding of
    BookShapes._round (multiplier, scale, whether the step is below 1)."""

    inv: np.ndarray
    offsets: np.ndarray
    notional: np.ndarray
    multiplier: np.ndarray
    scale: np.ndarray
    small: np.ndarray


class BookShapes:
    """Per market: price offsets of the levels (in price steps) and notional per level and variant.

    Notional grows 6-22 % per level for the first 25 levels, so the top holds a few thousand
    USDT and twenty levels some hundreds of thousands. Quantities are rounded down to the
    amount step, never below one step.
    """

    def __init__(self, rng: np.random.Generator, depth: int, price_inv: np.ndarray, amount_step: np.ndarray,
                 top_notional: np.ndarray, spacing_scale: np.ndarray, price: np.ndarray):
        markets, levels = len(price_inv), np.arange(1, depth)
        growth = np.empty((markets, BOOK_VARIANTS, 2, depth))
        growth[..., 0] = rng.uniform(0.6, 1.4, (markets, BOOK_VARIANTS, 2))
        steep = rng.uniform(1.06, 1.22, (markets, BOOK_VARIANTS, 2, depth - 1))
        growth[..., 1:] = np.where(levels < 25, steep, 1.0 + (steep - 1.06) / 4.0)
        self._notional = top_notional[:, None, None, None] * np.cumprod(growth, axis=3)
        spacing_bps = (0.5 + 0.25 * levels)[None, :] * spacing_scale[:, None]
        steps = np.maximum(1.0, np.round(spacing_bps * 1e-4 * (price * price_inv)[:, None]))
        self._signed_offsets = np.cumsum(steps, axis=1)[:, None, :] * np.array([-1.0, 1.0])[None, :, None]
        self._price_inv = price_inv.tolist()
        self._top = np.ascontiguousarray(self._notional[..., 0])  # (market, variant, side)
        self._small = amount_step < 1.0
        # Steps are powers of ten: below 1 divide by an exact integer, from 1 up multiply by the step.
        self._scale = np.where(self._small, np.round(1.0 / amount_step), amount_step)
        self._multiplier = np.where(self._small, self._scale, 1.0 / self._scale)

    def constants(self, markets: np.ndarray) -> "BookConstants":
        """What build() reads of each market, for the markets given (in that order), as arrays: for a
        caller that makes many markets' books at once with build()'s float operations
        (bot/market/recording_books.py)."""
        return BookConstants(np.array([self._price_inv[m] for m in markets], dtype=float),
                             self._signed_offsets[markets], self._notional[markets][..., 1:],
                             self._multiplier[markets], self._scale[markets], self._small[markets])

    def top_sizes(self, variant: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-of-book quantities for arrays of (tick, market) quotes and their drawn variants."""
        top = self._top[np.arange(len(self._price_inv)), variant]
        return self._round(top[..., 0] / bid), self._round(top[..., 1] / ask)

    def _round(self, raw: np.ndarray) -> np.ndarray:
        units = np.floor(raw * self._multiplier)
        np.maximum(units, 1.0, out=units)
        if self._small.all():
            return np.divide(units, self._scale, out=units)
        return np.where(self._small, units / self._scale, units * self._scale)

    def build(self, m: int, exchange: str, symbol: str, ts: float, top: tuple) -> OrderBook:
        """The book of market m from its quote: top = (bid, ask, bid_size, ask_size, variant)."""
        bid, ask, bid_size, ask_size, variant = top
        inv = self._price_inv[m]
        units = np.array([[round(bid * inv)], [round(ask * inv)]], dtype=float) + self._signed_offsets[m]
        prices = units / inv  # rows: bid levels below the top, ask levels above it
        raw = self._notional[m, int(variant), :, 1:] / np.maximum(prices, 1.0 / inv)
        qty = np.maximum(np.floor(raw * self._multiplier[m]), 1.0)
        qty = qty / self._scale[m] if self._small[m] else qty * self._scale[m]
        (bid_prices, ask_prices), (bid_qty, ask_qty) = prices.tolist(), qty.tolist()
        bids = ((bid, bid_size), *((p, q) for p, q in zip(bid_prices, bid_qty) if p > 0))
        return OrderBook(exchange, symbol, bids, ((ask, ask_size), *zip(ask_prices, ask_qty)), ts)
