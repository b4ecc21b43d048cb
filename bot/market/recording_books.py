"""The recorder's books of a simulator tick, computed for all markets at once and packed as msgpack bytes.

Reading every book through the tick's book reader costs the simulator ~36 us a book (18 a tick on the
default market), and packing those tuples with msgpack ~8 us more: a recorded --fast run spent ~0.8 ms a
tick on books. A recording holds the bytes msgpack.packb((bids, asks, ts)) gives for each changed book
(bot/market/recording_codec.py "bp"), so the recorder needs neither the OrderBook objects nor the tuples:

- on the tick path, SimulatorBooks.capture keeps the tick's reader (its quote rows and time; nothing
  is computed there);
- in the writer, TickBookArrays computes the levels of every market of the tick in a few numpy calls
  (the same float operations, element by element, as bot/market/sim_parts.py BookShapes.build) and
  PackedBook holds each book's msgpack bytes, written from those arrays in one buffer.

A PackedBook compares with another book as the OrderBook would (SnapshotEncoder keeps the books that
changed): by its bytes when both hold only finite, non-zero numbers (then equal floats are equal
bits), by the decoded levels otherwise. A book with a bid level at or below zero (which BookShapes.build
leaves out) is packed by msgpack from the levels it keeps.
"""
from __future__ import annotations

import math
from itertools import chain

import msgpack
import numpy as np

from bot.models import OrderBook

_FLOAT = 0xCB  # msgpack float 64 marker; a level is fixarray(2) float float
_LEVEL = np.dtype([("array", "u1"), ("price_marker", "u1"), ("price", ">f8"), ("qty_marker", "u1"), ("qty", ">f8")])


def array_header(count: int) -> bytes:
    """msgpack's header of an array of `count` items."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 1 << 16:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def pack_books(books: list) -> bytes:
    """msgpack.packb([(bids, asks, ts), ...]) of OrderBooks and PackedBooks (an array's items are packed
    one after another, so the PackedBooks' bytes go in as they are)."""
    if not any(type(book) is PackedBook for book in books):
        return msgpack.packb([(book.bids, book.asks, book.ts) for book in books])
    return array_header(len(books)) + b"".join(
        book.packed if type(book) is PackedBook else msgpack.packb((book.bids, book.asks, book.ts)) for book in books)


class PackedBook:
    """One market's book of a tick as msgpack bytes of (bids, asks, ts); levels decoded only when read."""

    __slots__ = ("exchange", "symbol", "packed", "exact", "_levels")

    def __init__(self, exchange: str, symbol: str, packed_bytes: bytes, exact: bool):
        self.exchange, self.symbol, self.packed, self.exact = exchange, symbol, packed_bytes, exact
        self._levels: tuple | None = None

    def levels(self) -> tuple:
        """(bids, asks, ts) as the OrderBook holds them."""
        if self._levels is None:
            self._levels = msgpack.unpackb(self.packed, use_list=False)
        return self._levels

    def __eq__(self, other) -> bool:
        if isinstance(other, PackedBook):
            if self.exact and other.exact:
                return self.exchange == other.exchange and self.symbol == other.symbol and self.packed == other.packed
            theirs = other.levels()
        elif isinstance(other, OrderBook):
            if other.received != 0.0:
                return False
            theirs = (other.bids, other.asks, other.ts)
        else:
            return NotImplemented
        return self.exchange == other.exchange and self.symbol == other.symbol and self.levels() == theirs

    def __ne__(self, other) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None


def _exact(prices: np.ndarray, quantities: np.ndarray, ts: float):
    """True when every book's numbers (and ts) are finite and not zero (equal floats are then equal bytes),
    else one bool per book."""
    good = np.isfinite(prices) & (prices != 0) & np.isfinite(quantities) & (quantities != 0)
    if good.all() and math.isfinite(ts) and ts != 0:
        return True
    return (good.all(axis=(1, 2)) & (math.isfinite(ts) and ts != 0)).tolist()


class SimulatorBooks:
    """The recorder's book capture for a SimulatedMarket (keys the simulator lacks have no book, as its
    reader gives none)."""

    def __init__(self, market, keys: tuple[tuple[str, str], ...]):
        from bot.market.simulator import _TickBooks  # only for a simulator, which has imported it

        self.reader_type = _TickBooks
        self.market = market
        self.keys = keys
        numbers = [(position, key, market.market_number(key)) for position, key in enumerate(keys)]
        self.present = [(position, key, m) for position, key, m in numbers if m is not None]
        self.markets = np.array([m for _, _, m in self.present], dtype=np.intp)
        self.rows = np.arange(len(self.present))
        constants = market.book_shapes.constants(self.markets)
        self.inv = constants.inv
        self.floor_price = (1.0 / self.inv)[:, None, None]
        self.offsets = constants.offsets
        self.notional = constants.notional  # (market, variant, side, level)
        self.multiplier = constants.multiplier[:, None, None]
        self.scale = constants.scale[:, None, None]
        self.small = constants.small[:, None, None]

    def capture(self, reader) -> "TickBookArrays | None":
        """What the writer needs to make the tick's books, or None when the reader is not the simulator's."""
        if type(reader) is not self.reader_type or reader.market is not self.market:
            return None
        # The fields BookShapes.build reads, as they stand at this tick (copied: the row moves on).
        return TickBookArrays(self, reader, reader.quote_fields(), reader.ts)


class TickBookArrays:
    """One tick's books of every market, as the recorder's writer makes them (see the module docstring)."""

    __slots__ = ("books", "reader", "fields", "ts")

    def __init__(self, books: SimulatorBooks, reader, fields: tuple, ts: float):
        self.books, self.reader, self.fields, self.ts = books, reader, fields, ts

    def packed_books(self) -> dict:
        """{key: PackedBook or OrderBook} of every market the simulator has, in the recorder's key order."""
        shape, ts = self.books, self.ts
        if type(ts) is not float or set(map(type, chain.from_iterable(self.fields))) != {float}:
            # msgpack would pack another type otherwise: the simulator's own books (not seen so far)
            return {key: book for _, key, _ in shape.present if (book := self.reader(*key)) is not None}
        m = shape.markets
        bid, ask, bid_size, ask_size, variant = np.array(self.fields)[:, m]
        # BookShapes.build, for all markets: units of the price step from the top, then the quantities.
        tops = np.stack((bid, ask), axis=1)
        prices = (np.rint(tops * shape.inv[:, None])[:, :, None] + shape.offsets) / shape.inv[:, None, None]
        raw = shape.notional[shape.rows, variant.astype(np.intp)] / np.maximum(prices, shape.floor_price)
        qty = np.maximum(np.floor(raw * shape.multiplier), 1.0)
        qty = np.where(shape.small, qty / shape.scale, qty * shape.scale)
        count, depth = len(m), prices.shape[2] + 1
        levels = np.empty((count, 2, depth), dtype=_LEVEL)
        levels["array"], levels["price_marker"], levels["qty_marker"] = 0x92, _FLOAT, _FLOAT
        levels["price"][:, :, 0], levels["qty"][:, :, 0] = tops, np.stack((bid_size, ask_size), axis=1)
        levels["price"][:, :, 1:], levels["qty"][:, :, 1:] = prices, qty
        side = array_header(depth)
        head, middle, tail = b"\x93" + side, side, bytes((_FLOAT,)) + np.array(ts, ">f8").tobytes()
        raw_levels = levels.tobytes()
        size = depth * _LEVEL.itemsize
        exact = _exact(levels["price"], levels["qty"], ts)
        positive = (prices[:, 0, :] > 0).all(axis=1).tolist()
        out = {}
        for j, (_, key, _) in enumerate(shape.present):
            if positive[j]:
                at = 2 * j * size
                data = b"".join((head, raw_levels[at:at + size], middle, raw_levels[at + size:at + 2 * size], tail))
            else:  # a bid level at or below zero: left out, as BookShapes.build does
                bids = ((bid[j].item(), bid_size[j].item()),
                        *((p, q) for p, q in zip(prices[j, 0].tolist(), qty[j, 0].tolist()) if p > 0))
                asks = ((ask[j].item(), ask_size[j].item()), *zip(prices[j, 1].tolist(), qty[j, 1].tolist()))
                data = msgpack.packb((bids, asks, ts))
            out[key] = PackedBook(key[0], key[1], data, exact is True or exact[j])
        return out
