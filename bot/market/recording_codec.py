"""Records of a recording: a snapshot's contents to a msgpack-ready dict and back.

Markets are numbered by their place in the recording's key list (meta.json "keys"). A record
holds what changed since the one before it; a keyframe ("k") holds everything:

  t, ts        tick and market time          nc   a 1-minute candle closed at this tick
  q            quotes that changed: [i, bid, ask, last, bid_size, ask_size, ts, change_24h_pct]
  o            which quotes the snapshot holds, in its order (when that changed)
  bk, bp, bx   books that changed (their numbers, and one packed blob of [bids, asks, ts] each,
               decoded only when a book is read), books gone
  s            the stale markets (when changed)   m  the markets, whole (when changed)
  c, cr        closed candles [i, ts, o, h, l, c, v] appended (cr: the history starts over)
  n, w         news [id, ts, title, source, symbols, url], whales [id, ts, asset, amount, usd, from, to]
  e            the source's events        h  health (when changed)   g  a gap before this record
  tr, trr, tf  public trades (schema version 2): bot/market/recording_trades.py
"""
from __future__ import annotations

from collections import deque

import msgpack
import numpy as np

from bot.market.recording_books import pack_books
from bot.market.recording_trades import TradeTapes, encode_trades
from bot.models import Candle, Market, NewsItem, OrderBook, Quote, WhaleEvent


def pack_default(value):
    """msgpack's fallback: numpy scalars as Python numbers, sets as lists, anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _quote_row(i: int, q: Quote) -> tuple:
    return (i, q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.ts, q.change_24h_pct)


def _market_row(i: int, m: Market) -> tuple:
    return (i, m.base, m.quote, m.taker_fee, m.maker_fee, m.amount_step, m.price_step, m.min_amount, m.min_notional)


class SnapshotEncoder:
    """Turns the recorder's captured ticks into records, remembering what the last record said."""

    def __init__(self, keys: tuple[tuple[str, str], ...], candles_kept: int):
        self.keys = tuple(keys)
        self.index = {key: i for i, key in enumerate(keys)}
        self.quotes: dict[int, Quote] = {}
        self.order: tuple[int, ...] | None = None
        self.books: dict[int, OrderBook] = {}
        self.stale: frozenset | None = None
        self.markets = None
        self.market_rows: list | None = None
        self.health = None
        self.candles = {i: deque(maxlen=candles_kept) for i in range(len(keys))}
        self.trades: TradeTapes | None = None  # set by the recorder when it records trades

    def encode(self, item: tuple, keyframe: bool, gap: dict | None) -> dict:
        """One record for a captured tick (see the module docstring for the fields)."""
        (tick, ts, quotes, books, stale, markets, news, whales, new_candle, candles, events, health,
         _gap, _first) = item[:14]
        index = self.index
        record: dict = {"t": tick, "ts": ts}
        if keyframe:
            record["k"] = 1
        if new_candle:
            record["nc"] = 1
        changed = []
        current = self.quotes
        for key, quote in quotes.items():
            i = index[key]
            old = current.get(i)
            if keyframe or old is None or (old is not quote and old != quote):
                current[i] = quote
                changed.append(_quote_row(i, quote))
        if changed:
            record["q"] = changed
        order = tuple(index[key] for key in quotes)
        if keyframe or order != self.order:
            record["o"] = order
            self.order = order
        book_ids, blobs = [], []
        for key, book in books.items():
            i = index[key]
            old = self.books.get(i)
            if keyframe or old is None or (old is not book and old != book):
                self.books[i] = book
                book_ids.append(i)
                blobs.append(book)
        gone = [i for i in self.books if self.keys[i] not in books]
        for i in gone:
            del self.books[i]
        if book_ids:
            record["bk"] = book_ids
            record["bp"] = pack_books(blobs)  # an OrderBook, or a PackedBook (bot/market/recording_books.py)
        if gone and not keyframe:
            record["bx"] = gone
        stale_ids = frozenset(index[key] for key in stale)
        if keyframe or stale_ids != self.stale:
            record["s"] = sorted(stale_ids)
            self.stale = stale_ids
        if keyframe or markets is not self.markets:
            rows = [_market_row(index[key], m) for key, m in markets.items()]
            if keyframe or rows != self.market_rows:
                record["m"] = rows
                self.market_rows = rows
            self.markets = markets
        for key, candle in candles:
            self.candles[index[key]].append(candle)
        if keyframe:
            record["cr"] = 1
            record["c"] = [(i, c.ts, c.open, c.high, c.low, c.close, c.volume)
                           for i, series in self.candles.items() for c in series]
        elif candles:
            record["c"] = [(index[key], c.ts, c.open, c.high, c.low, c.close, c.volume) for key, c in candles]
        if news:
            record["n"] = [(n.id, n.ts, n.title, n.source, list(n.symbols), n.url) for n in news]
        if whales:
            record["w"] = [(w.id, w.ts, w.asset, w.amount, w.usd_value, w.from_owner, w.to_owner) for w in whales]
        if events:
            record["e"] = events
        if keyframe or health != self.health:
            record["h"] = health
            self.health = health
        if gap is not None:
            record["g"] = gap
        if len(item) > 14:
            encode_trades(record, keyframe, item[14], item[15], self.trades)
        return record


class BookBlob:
    """One record's packed books, decoded on the first read of any of them."""

    __slots__ = ("raw", "books")

    def __init__(self, raw: bytes):
        self.raw = raw
        self.books: tuple | None = None

    def book(self, position: int, exchange: str, symbol: str) -> OrderBook:
        """The position-th book of the blob as an OrderBook."""
        if self.books is None:
            self.books = msgpack.unpackb(self.raw, use_list=False)
        bids, asks, ts = self.books[position]
        return OrderBook(exchange, symbol, bids, asks, ts)


def quote_of(key: tuple[str, str], row: tuple) -> Quote:
    """A Quote from a record's row."""
    return Quote(key[0], key[1], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def market_of(key: tuple[str, str], row: tuple) -> Market:
    """A Market from a record's row."""
    return Market(key[0], key[1], *row[1:])


def candle_of(row: tuple) -> Candle:
    """A Candle from a record's row (its market number first)."""
    return Candle(row[1], row[2], row[3], row[4], row[5], row[6])


def news_of(row: tuple) -> NewsItem:
    """A NewsItem from a record's row."""
    return NewsItem(row[0], row[1], row[2], row[3], tuple(row[4]), row[5])


def whale_of(row: tuple) -> WhaleEvent:
    """A WhaleEvent from a record's row."""
    return WhaleEvent(*row)
