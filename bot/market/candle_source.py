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

import bisect
import json
import math
from pathlib import Path

import numpy as np

from bot.config_candles import CandlesConfig, epoch_seconds
from bot.market.base import MarketSource
from bot.market.candle_store import CandleFileError, CandleReader, discover
from bot.market.candle_window import TICKS_PER_BAR, CandleWindow, touch
from bot.market.sim_parts import fee_rates, market_liquidity
from bot.models import (NOTHING_STALE, Candle, CandleHistory, Market, NewsItem, OrderBook, Snapshot, fast_constructor,
                        new_quote, new_snapshot, split_symbol)
from bot.lookahead import Lookahead, MarketAhead
from bot.timestamps import iso_utc

TIMEFRAME = "1m"
RECENT_CANDLES = 16  # candles() for at most this many bars reuses the Candle objects it built lately

# Each tick's objects, made by setting their slots (models.fast_constructor: half the cost of a frozen __init__).
_new_book = fast_constructor(OrderBook, ("exchange", "symbol", "bids", "asks", "ts"))
_new_ahead = fast_constructor(MarketAhead, ("bid", "closed", "closes", "ask"))
_new_lookahead = fast_constructor(Lookahead, ("start_tick", "ts", "new_candle", "markets"))


class _Market:
    """One market's file, book model and Market (its rows live in the window's stream)."""

    def __init__(self, path: Path, model: dict, market: Market):
        self.path, self.model, self.market = path, model, market
        self.half_spread = self.spacing = 0.0  # set once the model is complete

    def touch(self, price: float) -> tuple[float, float]:
        """(bid, ask) around a price; with no spread the ask is one float step above (never a locked book)."""
        return touch(price, self.half_spread)


class CandleMarket(MarketSource, CandleHistory):
    """A market that replays candle files tick by tick through the intrabar path (see the module doc),
    streaming them (bot/market/candle_window.py): memory does not grow with the data's length."""

    kind = "candles"
    tick_seconds = 60.0 / TICKS_PER_BAR  # market seconds per tick: a real-time run paces by market.speed
    # FastForward's first look after an acted-on tick (ticks). A candle lookahead's cost is mostly per
    # look, not per tick: 256 bars ahead took 4 % fewer instructions than 64 on a 12/26 momentum
    # backtest, 1.3 % at 5/13 (callgrind, 40,000 bars); 512 bars was dearer again.
    lookahead_first = 256 * TICKS_PER_BAR

    def __init__(self, settings: CandlesConfig, exchanges: tuple[str, ...] | None = None,
                 symbols: tuple[str, ...] | None = None):
        folder = Path(settings.data_dir)
        files = discover(folder, TIMEFRAME)
        if exchanges is not None:
            files = [f for f in files if f[0] in exchanges and (symbols is None or f[1] in symbols)]
            if not files:
                raise CandleFileError(folder, f"no {TIMEFRAME} candles for {list(exchanges)} {list(symbols or [])}")
        until = epoch_seconds(settings.until)
        until_ms = int(until * 1000) if until is not None else None
        readers = [CandleReader(path) for _, _, path in files]
        self._markets: dict[tuple[str, str], Market] = {}
        self._data: list[_Market] = []
        for exchange, symbol, path in files:
            model = settings.book_model(exchange, symbol)
            self._data.append(_Market(path, model, None))
        self._window = window = CandleWindow(readers, [m.model for m in self._data], until_ms)
        window.first_rows()
        for (exchange, symbol, path), m, stream in zip(files, self._data, window.streams):
            if stream.ts.shape[0] == 0:
                raise CandleFileError(path, f"no candles before candles.until {settings.until}")
            m.model.update(self._complete_model(m.model, exchange, symbol, float(stream.values[0, 3])))
            m.half_spread, m.spacing = m.model["spread_bps"] / 2e4, m.model["level_spacing_bps"] / 1e4
            base, quote = split_symbol(symbol)
            m.market = Market(exchange, symbol, base, quote, m.model["taker_fee"], m.model["maker_fee"],
                              m.model["amount_step"], 1e-8, m.model["amount_step"], m.model["min_notional"])
            self._markets[(exchange, symbol)] = m.market
        super().__init__(tuple(dict.fromkeys(m.market.exchange for m in self._data)),
                         tuple(dict.fromkeys(m.market.symbol for m in self._data)))
        self._keys = [(m.market.exchange, m.market.symbol) for m in self._data]
        self._by_key = dict(zip(self._keys, self._data))
        self._index = {key: k for k, key in enumerate(self._keys)}
        since = epoch_seconds(settings.since)
        # Every file read once, checked, and its minutes counted (nothing kept but checkpoints).
        self._first_bar, first_ms, last_ms = window.scan(int(since * 1000) if since is not None else None)
        self._grid_size = window.count
        if self._first_bar >= self._grid_size:
            raise CandleFileError(folder, f"no candles from candles.since {settings.since} on")
        self.total_ticks = (self._grid_size - self._first_bar) * TICKS_PER_BAR
        self._news = _load_news(settings.news_file) if settings.news_file else []
        self._news_ts = [item.ts for item in self._news]
        self.has_news = bool(settings.news_file)
        first, last = first_ms / 1000.0, last_ms / 1000.0
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
        grid_now = self._first_bar + max(tick - 1, 0) // TICKS_PER_BAR
        if grid_now >= self._grid_size:
            raise IndexError(f"tick {tick} is past the end of the candles")
        self._window.position(grid_now)
        self._pos = tick
        self._current: tuple | None = None
        self._grid_now = grid_now
        before = self._tick_ts(tick - 1) if tick > 0 else -math.inf
        self._news_next = bisect.bisect_right(self._news_ts, before)
        self.finished = self._first_bar + tick // TICKS_PER_BAR >= self._grid_size

    def _tick_ts(self, tick: int) -> float:
        window = self._window
        return window.ts.item(tick + TICKS_PER_BAR * (self._first_bar - window.base))

    def next_snapshot(self) -> Snapshot:
        """Advance one tick (IndexError past the last bar: check `finished` first)."""
        tick = self._pos
        bar, phase = divmod(tick, TICKS_PER_BAR)
        g = self._first_bar + bar
        if g >= self._grid_size:
            raise IndexError("the candles have run out")
        window = self._window
        if g >= window.end:
            window.cover(g, g)
        self._pos = tick + 1
        self._grid_now = g
        self.finished = self._first_bar + self._pos // TICKS_PER_BAR >= self._grid_size
        j = g - window.base
        t = j * TICKS_PER_BAR + phase
        ts = window.ts.item(t)
        quotes, prices = {}, {}
        for key, m in zip(self._keys, window.markets):
            if m.bar.item(j) < 0:
                continue
            price, size = m.last.item(t), m.size.item(t)
            quotes[key] = new_quote(key[0], key[1], m.bid.item(t), m.ask.item(t), price, size, size, ts, m.change.item(t))
            prices[key] = (price, size)
        news = ()
        if self._news_next < len(self._news) and self._news_ts[self._news_next] <= ts:
            start = self._news_next
            while self._news_next < len(self._news) and self._news_ts[self._news_next] <= ts:
                self._news_next += 1
            news = tuple(self._news[start:self._news_next])
        books = _TickBooks(self, prices, ts)
        self._current = (ts, quotes, books)
        return new_snapshot(tick, ts, self.exchanges, self.symbols, quotes, self._markets, self, books, news, (),
                            phase == 0 and g > 0, NOTHING_STALE)

    def lookahead(self, count: int) -> Lookahead:
        """The next `count` ticks (fewer at the end of the data) as arrays, without moving: times,
        which close a candle, each market's bid and ask (as next_snapshot's quotes have it) and
        history end (an index into its `closes`, the rows the source holds). Slices of the window."""
        n = max(0, min(count, self.total_ticks - self._pos))
        window = self._window
        if n:
            window.cover(self._first_bar + (self._pos + n - 1) // TICKS_PER_BAR, self._grid_now)
        lo = self._pos + TICKS_PER_BAR * (self._first_bar - window.base)
        markets = {}
        hi = lo + n
        for key, m, stream in zip(self._keys, window.markets, window.streams):
            markets[key] = _new_ahead(m.bid[lo:hi], m.closed_rows[lo:hi], stream.close, m.ask[lo:hi])
        return _new_lookahead(int(self._pos), window.ts[lo:hi], window.new_candle[lo:hi], markets)

    def _level_qty(self, m: _Market, volume: float, price: float) -> float:
        qty = m.model["depth_usdt"] / price
        share = m.model["volume_share"]
        if share > 0:
            qty = min(qty, share * volume / TICKS_PER_BAR / m.model["levels"])
        return qty

    def book(self, exchange: str, symbol: str, price: float, bar: int, ts: float) -> OrderBook:
        """The book model at one tick's price, for bar (a row of the market's file still held)."""
        m = self._by_key[(exchange, symbol)]
        stream = self._window.streams[self._index[(exchange, symbol)]]
        return self._book(m, price, self._level_qty(m, float(stream.values[bar - stream.base, 4]), price), ts)

    @staticmethod
    def _book(m: _Market, price: float, qty: float, ts: float) -> OrderBook:
        exchange, symbol = m.market.exchange, m.market.symbol
        if qty <= 0:
            return _new_book(exchange, symbol, (), (), ts)
        (bid, ask), step = m.touch(price), m.spacing
        levels = range(m.model["levels"])
        return _new_book(exchange, symbol, tuple((bid * (1.0 - i * step), qty) for i in levels),
                         tuple((ask * (1.0 + i * step), qty) for i in levels), ts)

    # ---- reads -----------------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """Every market of the candle files, with the fees and steps of its book model."""
        return self._markets

    def _rows(self, exchange: str, symbol: str, count: int):
        """(stream, lo, hi): the rows of the last `count` bars closed by now, as indices into the
        stream's arrays (at most HISTORY_BARS back)."""
        k = self._index.get((exchange, symbol))
        if k is None:
            raise KeyError(f"no candles for {symbol} on {exchange}")
        window = self._window
        stream = window.streams[k]
        end = window.markets[k].closed.item(self._grid_now - window.base) - stream.base
        return stream, max(0, end - count), end

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:
        """Closes of the last `count` bars closed by now, oldest first."""
        stream, lo, hi = self._rows(exchange, symbol, count)
        return stream.close[lo:hi]

    def candles(self, exchange: str, symbol: str, count: int) -> list[Candle]:
        """The last `count` bars closed by now, oldest first (a few recent ones are reused: Candle is frozen,
        and the chart's archive asks for the last CATCH_UP_CANDLES at each close)."""
        stream, lo, hi = self._rows(exchange, symbol, count)
        if hi - lo > RECENT_CANDLES:
            return [Candle(t / 1000.0, *row) for t, row in zip(stream.ts[lo:hi].tolist(),
                                                               stream.values[lo:hi].tolist())]
        recent, base, out = stream.recent, stream.base, []
        for row in range(lo, hi):
            candle = recent.get(base + row)
            if candle is None:
                candle = recent[base + row] = Candle(stream.ts.item(row) / 1000.0, *stream.values[row].tolist())
            out.append(candle)
        if len(recent) > 4 * RECENT_CANDLES:
            stream.recent = {row: candle for row, candle in recent.items() if row >= base + lo}
        return out

    def candle_arrays(self, exchange: str, symbol: str, count: int) -> tuple[np.ndarray, np.ndarray]:
        """candles() as arrays the caller may keep: the bars' open times (epoch seconds) and their
        (open, high, low, close, volume) rows; Candle(starts[i], *rows[i]) is candles()[i]."""
        stream, lo, hi = self._rows(exchange, symbol, count)
        return stream.ts[lo:hi] / 1000.0, stream.values[lo:hi].copy()

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
            source = self._source
            book = self._cache[(exchange, symbol)] = source._book(source._by_key[(exchange, symbol)], seen[0], seen[1],
                                                                  self._ts)
        return book


def _load_news(path: str) -> list[NewsItem]:
    """Headlines from a JSONL file: {"ts": ISO or epoch seconds, "title", "source"?, "symbols"?, "id"?} per line."""
    from bot.timestamps import parse_iso

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
