"""CandleMarket: stored 1-minute candles replayed as a market, for backtests (--market candles).

Ticks: four per bar, at 0, 15, 30 and 45 s into the minute, at the bar's open, its two extremes
and its close. The intrabar path is O-L-H-C for a bar that closed at or above its open and
O-H-L-C for one that closed below (the extreme on the far side of the close comes first, the
common assumption that the bar moved against its final direction before reaching it). A bar
"closes" at the first tick of the next minute: that tick says new_candle and its history holds
the bar, so a decision on a closed bar meets the next price the engine can honestly see, the
next bar's open (or later, by the exchange's latency).

Quotes and books come from each tick's price p (bot/config_candles.py, per exchange and symbol):
bid = p (1 - s/2), ask = p (1 + s/2) for the spread s (s = 0: bid = p, ask one float step above
p, so the book is never locked); each side has `levels` levels
level_spacing_bps apart, each holding depth_usdt of notional, the whole side capped at
volume_share of the bar's volume over its four ticks (0: no cap). Fees and steps per market.
Several markets run on the union of their minutes; a market without a bar in a minute has no
quote then (its history keeps what it had).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bot.config_candles import CandlesConfig, epoch_seconds
from bot.market.base import MarketSource
from bot.market.candle_store import CandleFileError, CandleSeries, discover, read_series
from bot.market.sim_parts import fee_rates, market_liquidity
from bot.models import (Candle, CandleHistory, Lookahead, Market, MarketAhead, NewsItem, OrderBook, Quote, Snapshot,
                        iso_utc, split_symbol)

TICKS_PER_BAR = 4
TICK_OFFSETS = (0.0, 15.0, 30.0, 45.0)  # seconds into the minute of open, first extreme, second extreme, close
TIMEFRAME = "1m"
CANDLES_24H = 1440


class _Market:
    """One market's arrays: its candles, its price path per bar and its book model."""

    def __init__(self, series: CandleSeries, model: dict, market: Market):
        self.series, self.model, self.market = series, model, market
        o, h, lo, c, v = series.values.T
        up = c >= o
        self.path = np.column_stack([o, np.where(up, lo, h), np.where(up, h, lo), c])  # (bars, 4)
        self.close = np.ascontiguousarray(c)
        self.close.flags.writeable = False  # history reads hand out views of it
        self.volume = v
        self.half_spread = model["spread_bps"] / 2e4
        self.spacing = model["level_spacing_bps"] / 1e4

    def touch(self, price: float) -> tuple[float, float]:
        """(bid, ask) around a price; with no spread the ask is one float step above (never a locked book)."""
        if self.half_spread == 0.0:
            return price, math.nextafter(price, math.inf)
        return price * (1.0 - self.half_spread), price * (1.0 + self.half_spread)


class CandleMarket(MarketSource, CandleHistory):
    """A market that replays candle files tick by tick through the intrabar path (see the module doc)."""

    kind = "candles"
    tick_seconds = 60.0 / TICKS_PER_BAR  # market seconds per tick: a real-time run paces by market.speed

    def __init__(self, settings: CandlesConfig, exchanges: tuple[str, ...] | None = None,
                 symbols: tuple[str, ...] | None = None):
        folder = Path(settings.data_dir)
        files = discover(folder, TIMEFRAME)
        if exchanges is not None:
            files = [f for f in files if f[0] in exchanges and (symbols is None or f[1] in symbols)]
            if not files:
                raise CandleFileError(folder, f"no {TIMEFRAME} candles for {list(exchanges)} {list(symbols or [])}")
        until = epoch_seconds(settings.until)
        self._markets: dict[tuple[str, str], Market] = {}
        self._data: list[_Market] = []
        for exchange, symbol, path in files:
            series = read_series(path)
            if until is not None:
                keep = series.ts < int(until * 1000)
                series = CandleSeries(series.exchange, series.symbol, series.timeframe, series.ts[keep],
                                      series.values[keep])
                if len(series) == 0:
                    raise CandleFileError(path, f"no candles before candles.until {settings.until}")
            model = self._complete_model(settings.book_model(exchange, symbol), exchange, symbol,
                                         float(series.values[0, 3]))
            base, quote = split_symbol(symbol)
            market = Market(exchange, symbol, base, quote, model["taker_fee"], model["maker_fee"], model["amount_step"],
                            1e-8, model["amount_step"], model["min_notional"])
            self._markets[(exchange, symbol)] = market
            self._data.append(_Market(series, model, market))
        super().__init__(tuple(dict.fromkeys(m.market.exchange for m in self._data)),
                         tuple(dict.fromkeys(m.market.symbol for m in self._data)))
        self._keys = [(m.market.exchange, m.market.symbol) for m in self._data]
        self._by_key = dict(zip(self._keys, self._data))
        self._index = {key: k for k, key in enumerate(self._keys)}
        self._grid = np.unique(np.concatenate([m.series.ts for m in self._data]))  # every minute some market has
        # Per market and minute: the bar's index, or -1; and how many bars closed before it (its history).
        self._bar_at = []
        self._closed_before = []
        self._bar_at_arrays, self._closed_arrays = [], []  # the same as arrays, for lookahead()
        for m in self._data:
            index = np.searchsorted(m.series.ts, self._grid)
            present = (index < len(m.series)) & (m.series.ts[np.minimum(index, len(m.series) - 1)] == self._grid)
            self._bar_at_arrays.append(np.where(present, index, -1))
            self._closed_arrays.append(index)
            self._bar_at.append(self._bar_at_arrays[-1].tolist())
            self._closed_before.append(index.tolist())
        since = epoch_seconds(settings.since)
        self._first_bar = int(np.searchsorted(self._grid, int(since * 1000))) if since is not None else 0
        if self._first_bar >= self._grid.size:
            raise CandleFileError(folder, f"no candles from candles.since {settings.since} on")
        self._grid_seconds = (self._grid / 1000.0).tolist()
        self.total_ticks = (self._grid.size - self._first_bar) * TICKS_PER_BAR
        self._news = _load_news(settings.news_file) if settings.news_file else []
        self._news_ts = [item.ts for item in self._news]
        self.has_news = bool(settings.news_file)
        first, last = self._grid_seconds[self._first_bar], self._grid_seconds[-1]
        self.description = (f"Candle backtest on {', '.join(f'{e} {s}' for e, s in self._keys)}: 1m bars "
                            f"{iso_utc(first)[:16]} to {iso_utc(last + 60)[:16]} UTC from {folder}")
        self.time_range = (first, last + 60.0)
        self.finished = False
        self.seek(0)

    @staticmethod
    def _complete_model(model: dict, exchange: str, symbol: str, first_close: float) -> dict:
        spread_bps, top_usdt = market_liquidity(exchange, symbol)
        taker, maker = fee_rates(exchange)
        # About 0.1 quote units per amount step at the first price, as exchanges set lot sizes.
        amount_step = 10.0 ** math.floor(math.log10(0.1 / first_close))
        defaults = {"spread_bps": spread_bps, "depth_usdt": top_usdt, "taker_fee": taker, "maker_fee": maker,
                    "amount_step": amount_step}
        return {**defaults, **{k: v for k, v in model.items() if v is not None}}

    # ---- position ------------------------------------------------------------------------
    def seek(self, tick: int) -> None:
        """Position so the next snapshot is `tick` (four per bar from candles.since)."""
        if tick < 0:
            raise ValueError(f"tick must be >= 0 (got {tick})")
        self._pos = tick
        self._current: tuple | None = None
        self._grid_now = self._first_bar + max(tick - 1, 0) // TICKS_PER_BAR
        before = self._tick_ts(tick - 1) if tick > 0 else -np.inf
        self._news_next = int(np.searchsorted(np.asarray(self._news_ts, dtype=float), before, side="right"))
        self.finished = self._first_bar + tick // TICKS_PER_BAR >= self._grid.size

    def _tick_ts(self, tick: int) -> float:
        g, phase = divmod(tick, TICKS_PER_BAR)
        return self._grid_seconds[self._first_bar + g] + TICK_OFFSETS[phase]

    def next_snapshot(self) -> Snapshot:
        """Advance one tick (IndexError past the last bar: check `finished` first)."""
        tick = self._pos
        bar, phase = divmod(tick, TICKS_PER_BAR)
        g = self._first_bar + bar
        if g >= self._grid.size:
            raise IndexError("the candles have run out")
        self._pos = tick + 1
        self._grid_now = g
        self.finished = self._first_bar + self._pos // TICKS_PER_BAR >= self._grid.size
        ts = self._grid_seconds[g] + TICK_OFFSETS[phase]
        quotes, prices = {}, {}
        for k, m in enumerate(self._data):
            i = self._bar_at[k][g]
            if i < 0:
                continue
            price = float(m.path[i, phase])
            bid, ask = m.touch(price)
            size = self._level_qty(m, i, price)
            end = self._closed_before[k][g]
            change = (price / m.close[end - CANDLES_24H] - 1.0) * 100.0 if end >= CANDLES_24H else 0.0
            quotes[self._keys[k]] = Quote(m.market.exchange, m.market.symbol, bid, ask, price, size, size, ts, change)
            prices[self._keys[k]] = (price, i)
        news = ()
        if self._news_next < len(self._news) and self._news_ts[self._news_next] <= ts:
            start = self._news_next
            while self._news_next < len(self._news) and self._news_ts[self._news_next] <= ts:
                self._news_next += 1
            news = tuple(self._news[start:self._news_next])
        books = _TickBooks(self, prices, ts)
        self._current = (ts, quotes, books)
        return Snapshot(tick, ts, self.exchanges, self.symbols, quotes, self._markets, self, books,
                        news=news, new_candle=phase == 0 and g > 0)

    def lookahead(self, count: int) -> Lookahead:
        """The next `count` ticks (fewer at the end of the data) as arrays, without moving: times,
        which close a candle, each market's bid (as next_snapshot's quotes have it) and history end."""
        ticks = np.arange(self._pos, self._pos + count, dtype=np.int64)
        grid = self._first_bar + ticks // TICKS_PER_BAR
        ticks, grid = ticks[grid < self._grid.size], grid[grid < self._grid.size]
        phase = ticks % TICKS_PER_BAR
        ts = self._grid[grid] / 1000.0 + np.asarray(TICK_OFFSETS)[phase]
        markets = {}
        for k, m in enumerate(self._data):
            bar = self._bar_at_arrays[k][grid]
            price = np.where(bar >= 0, m.path[np.maximum(bar, 0), phase], np.nan)
            if m.half_spread == 0.0:
                bid, ask = price, np.nextafter(price, np.inf)
            else:
                bid, ask = price * (1.0 - m.half_spread), price * (1.0 + m.half_spread)
            markets[self._keys[k]] = MarketAhead(bid, self._closed_arrays[k][grid], m.close, ask)
        return Lookahead(int(self._pos), ts, (phase == 0) & (grid > 0), markets)

    def _level_qty(self, m: _Market, bar: int, price: float) -> float:
        qty = m.model["depth_usdt"] / price
        share = m.model["volume_share"]
        if share > 0:
            qty = min(qty, share * float(m.volume[bar]) / TICKS_PER_BAR / m.model["levels"])
        return qty

    def book(self, exchange: str, symbol: str, price: float, bar: int, ts: float) -> OrderBook:
        """The book model at one tick's price (module doc)."""
        m = self._by_key[(exchange, symbol)]
        qty = self._level_qty(m, bar, price)
        if qty <= 0:
            return OrderBook(exchange, symbol, (), (), ts)
        (bid, ask), step = m.touch(price), m.spacing
        levels = range(m.model["levels"])
        return OrderBook(exchange, symbol, tuple((bid * (1.0 - i * step), qty) for i in levels),
                         tuple((ask * (1.0 + i * step), qty) for i in levels), ts)

    # ---- reads -----------------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """Every market of the candle files, with the fees and steps of its book model."""
        return self._markets

    def _window(self, exchange: str, symbol: str, count: int) -> tuple[_Market, int, int]:
        key = (exchange, symbol)
        if key not in self._by_key:
            raise KeyError(f"no candles for {symbol} on {exchange}")
        end = self._closed_before[self._index[key]][self._grid_now]
        return self._by_key[key], max(0, end - count), end

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:
        """Closes of the last `count` bars closed by now, oldest first."""
        m, lo, hi = self._window(exchange, symbol, count)
        return m.close[lo:hi]

    def candles(self, exchange: str, symbol: str, count: int) -> list[Candle]:
        """The last `count` bars closed by now, oldest first."""
        m, lo, hi = self._window(exchange, symbol, count)
        return [Candle(t / 1000.0, *row) for t, row in zip(m.series.ts[lo:hi].tolist(), m.series.values[lo:hi].tolist())]

    def candle_arrays(self, exchange: str, symbol: str, count: int) -> tuple[np.ndarray, np.ndarray]:
        """candles() as arrays the caller may keep: the bars' open times (epoch seconds) and their
        (open, high, low, close, volume) rows; Candle(starts[i], *rows[i]) is candles()[i]."""
        m, lo, hi = self._window(exchange, symbol, count)
        return m.series.ts[lo:hi] / 1000.0, m.series.values[lo:hi].copy()

    def order_book_for(self, exchange: str, symbol: str) -> OrderBook | None:
        """The book of a market at the latest tick (None before the first or without a bar now)."""
        return self._current[2](exchange, symbol) if self._current is not None else None


class _TickBooks:
    """The book reader of one tick: each book built on first request."""

    __slots__ = ("_source", "_prices", "_ts", "_cache")

    def __init__(self, source: CandleMarket, prices: dict, ts: float):
        self._source, self._prices, self._ts, self._cache = source, prices, ts, {}

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        book = self._cache.get((exchange, symbol))
        if book is None:
            seen = self._prices.get((exchange, symbol))
            if seen is None:
                return None
            book = self._cache[(exchange, symbol)] = self._source.book(exchange, symbol, seen[0], seen[1], self._ts)
        return book


def _load_news(path: str) -> list[NewsItem]:
    """Headlines from a JSONL file: {"ts": ISO or epoch seconds, "title", "source"?, "symbols"?, "id"?} per line."""
    from bot.models import parse_iso

    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CandleFileError(path, f"cannot read the news file ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ts = row["ts"]
            ts = float(ts) if isinstance(ts, (int, float)) else parse_iso(ts)
            title = str(row["title"])
            symbols = tuple(str(s) for s in row.get("symbols", ()))
        except (ValueError, KeyError, TypeError) as exc:
            raise CandleFileError(path, f"line {number}: not a headline {{ts, title, ...}} ({exc})") from None
        items.append(NewsItem(str(row.get("id", f"news-{number}")), ts, title, str(row.get("source", "file")), symbols))
    items.sort(key=lambda item: item.ts)
    return items
