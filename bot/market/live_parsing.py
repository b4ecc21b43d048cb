"""ccxt-shaped answers turned into the project's models, and the live candle store.

Nothing here imports ccxt (bot/market/live.py is the one module that does): these functions
read the plain dicts and lists ccxt's unified methods return.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from bot.models import Candle, CandleHistory, Market, OrderBook, Quote

# ccxt's precisionMode values (ccxt.DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE); live.py checks them.
DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE = 2, 3, 4
CANDLE_MS = 60_000
# The newest candle of an answer counts as closed only this long after its minute ended
# (a later candle in the same answer closes it at once): guards against clock skew.
CANDLE_CLOSE_GRACE_MS = 3_000
DEFAULT_TAKER_FEE = 0.002  # when an exchange publishes none: a conservative typical spot fee


def _step(value, mode: int, reference: float | None) -> float | None:
    """A ccxt precision value as a step size, whatever the exchange's precisionMode."""
    if value is None:
        return None
    value = float(value)
    if mode == DECIMAL_PLACES:
        return 10.0 ** -value
    if mode == SIGNIFICANT_DIGITS:
        if not reference or reference <= 0:
            return None
        return 10.0 ** (math.floor(math.log10(reference)) - value + 1)
    return value if value > 0 else None  # TICK_SIZE


def market_from_ccxt(exchange: str, market: Mapping, precision_mode: int, *, reference_price: float | None = None,
                     default_taker: float | None = None, default_maker: float | None = None) -> Market:
    """bot.models.Market from one ccxt market: fees, steps and minimums."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    min_amount = (limits.get("amount") or {}).get("min")
    price_step = _step(precision.get("price"), precision_mode, reference_price) or 1e-8
    amount_step = _step(precision.get("amount"), precision_mode, min_amount or 1.0) or 1e-8
    taker = market.get("taker")
    taker = float(taker if taker is not None else default_taker if default_taker is not None else DEFAULT_TAKER_FEE)
    maker = market.get("maker")
    maker = float(maker if maker is not None else default_maker if default_maker is not None else taker)
    min_cost = (limits.get("cost") or {}).get("min")
    return Market(exchange, market["symbol"], market["base"], market["quote"], taker, maker, amount_step,
                  price_step, float(min_amount) if min_amount else amount_step, float(min_cost or 0.0))


def _number(value, what: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{what} is {value!r}")
    return number


def quote_from_ticker(exchange: str, symbol: str, ticker: Mapping, received: float) -> Quote | None:
    """A Quote from a ccxt ticker, or None when it has no two-sided price. Raises ValueError on nonsense."""
    if not isinstance(ticker, Mapping):
        raise ValueError(f"ticker for {symbol} is a {type(ticker).__name__}")
    if ticker.get("bid") is None or ticker.get("ask") is None:
        return None
    bid, ask = _number(ticker["bid"], "bid"), _number(ticker["ask"], "ask")
    last = ticker.get("last") or ticker.get("close")
    last = float(last) if last else (bid + ask) / 2.0
    stamp = ticker.get("timestamp")
    ts = stamp / 1000.0 if isinstance(stamp, (int, float)) and stamp > 0 else received
    change = ticker.get("percentage")
    if change is None and ticker.get("open"):
        change = (last / float(ticker["open"]) - 1.0) * 100.0
    return Quote(exchange, symbol, bid, ask, last, float(ticker.get("bidVolume") or 0.0),
                 float(ticker.get("askVolume") or 0.0), ts, float(change or 0.0), received)


def quotes_from_tickers(exchange: str, tickers: Mapping, symbols: list[str], received: float) -> dict[str, Quote]:
    """symbol -> Quote for each of symbols with a usable ticker in a fetch_tickers answer. Raises ValueError
    when the answer is not a mapping or has no usable ticker."""
    if not isinstance(tickers, Mapping):
        raise ValueError(f"tickers are a {type(tickers).__name__}")
    quotes = {}
    for symbol in symbols:
        if symbol in tickers:
            quote = quote_from_ticker(exchange, symbol, tickers[symbol], received)
            if quote is not None:
                quotes[symbol] = quote
    if not quotes:
        raise ValueError("no usable ticker in the answer")
    return quotes


def trades_from_ccxt(rows) -> list[dict]:
    """Public trades (id, timestamp ms, price, amount, side) from a fetch_trades answer, rows missing a time,
    price or amount left out."""
    return [{"id": None if t.get("id") is None else str(t["id"]), "timestamp": int(t["timestamp"]),
             "price": float(t["price"]), "amount": float(t["amount"]), "side": t.get("side")}
            for t in rows if t.get("timestamp") and t.get("price") and t.get("amount")]


def book_from_ccxt(exchange: str, symbol: str, raw: Mapping, received: float, depth: int) -> OrderBook:
    """An OrderBook (best first) from a ccxt order book. Raises ValueError on missing or empty sides."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"order book is a {type(raw).__name__}")
    sides = []
    for name in ("bids", "asks"):
        levels = [(_number(level[0], "price"), float(level[1])) for level in raw.get(name) or ()]
        levels = [level for level in levels if level[1] > 0][:depth]
        if not levels:
            raise ValueError(f"order book has no {name}")
        sides.append(tuple(levels))
    stamp = raw.get("timestamp")
    ts = stamp / 1000.0 if isinstance(stamp, (int, float)) and stamp > 0 else received
    return OrderBook(exchange, symbol, sides[0], sides[1], ts, received)


def closed_candles(rows, now_ms: float, after_ms: int | None) -> list[Candle]:
    """Closed candles newer than after_ms from a ccxt OHLCV answer. Raises ValueError on bad rows."""
    if not isinstance(rows, list):
        raise ValueError(f"candles are a {type(rows).__name__}")
    parsed = {}
    for row in rows:
        ts, values = int(row[0]), [_number(v, "candle price") for v in row[1:5]]
        parsed[ts] = (ts, *values, float(row[5] or 0.0))
    ordered = [parsed[ts] for ts in sorted(parsed)]
    out = []
    for i, (ts, open_, high, low, close, volume) in enumerate(ordered):
        if after_ms is not None and ts <= after_ms:
            continue
        if i + 1 < len(ordered) or ts + CANDLE_MS <= now_ms - CANDLE_CLOSE_GRACE_MS:
            out.append(Candle(ts / 1000.0, open_, high, low, close, volume))
    return out


# ---- candles -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CandleSeries:
    """One market's closed candles, oldest first, with their closes as a read-only array."""

    candles: tuple[Candle, ...]
    closes: np.ndarray


class LiveHistory(CandleHistory):
    """The closed candles as they were at one snapshot (later candles do not leak into it)."""

    def __init__(self, series: Mapping[tuple[str, str], CandleSeries], markets: Mapping):
        self._series = series
        self._markets = markets

    def _get(self, exchange: str, symbol: str) -> CandleSeries | None:
        if (exchange, symbol) not in self._markets:
            raise KeyError(f"no live market {symbol!r} on {exchange!r}")
        return self._series.get((exchange, symbol))

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:
        """Closes of the last `count` closed 1-minute candles, oldest first (fewer if not available)."""
        series = self._get(exchange, symbol)
        if series is None or count <= 0:
            return np.empty(0)
        return series.closes[-count:].copy()

    def candles(self, exchange: str, symbol: str, count: int) -> list[Candle]:
        """The last `count` closed 1-minute candles, oldest first."""
        series = self._get(exchange, symbol)
        return [] if series is None or count <= 0 else list(series.candles[-count:])


class BookReader:
    """The book reader of one snapshot."""

    __slots__ = ("_books",)

    def __init__(self, books: dict):
        self._books = books

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        return self._books.get((exchange, symbol))
