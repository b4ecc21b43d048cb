"""The recorder's simulator books (bot/market/recording_books.py): packed for all markets at once.

Oracles: the simulator's own books (its book reader, BookShapes.build) packed by msgpack, and the
recording the plain path makes (every book read through the reader) of the same run, parsed by hand.
"""
from __future__ import annotations

import math

import msgpack
import pytest

import bot.market.recorder as recorder
from bot.config import parse_config
from bot.market.recorder import RecordingSource
from bot.market.recording_books import PackedBook, SimulatorBooks, TickBookArrays, array_header, pack_books
from bot.market.simulator import SimulatedMarket
from bot.models import OrderBook
from tests.market.test_recording import all_records

MARKET = {"exchanges": ["binance", "kraken", "coinbase"], "symbols": ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"],
          "seed": 7}


def _market() -> tuple[SimulatedMarket, tuple]:
    config = parse_config({"market": MARKET})
    market = SimulatedMarket(config.market)
    keys = tuple((exchange, symbol) for exchange in market.exchanges for symbol in market.symbols)
    return market, keys + (("binance", "NOPE/USDT"),)  # a key the simulator lacks: no book


def _plain(book: OrderBook) -> bytes:
    return msgpack.packb((book.bids, book.asks, book.ts))


def test_every_book_of_every_tick_packs_as_msgpack_packs_the_simulators_book():
    market, keys = _market()
    books = SimulatorBooks(market, keys)
    for _ in range(400):
        snapshot = market.next_snapshot()
        packed = books.capture(snapshot.book_reader).packed_books()
        expected = {key: book for key in keys if (book := snapshot.book_reader(*key)) is not None}
        assert list(packed) == list(expected)
        for key, book in expected.items():
            assert packed[key].packed == _plain(book)
            assert packed[key] == book and not packed[key] != book and book == packed[key]
            assert packed[key].levels() == (book.bids, book.asks, book.ts)


def _arrays(market, keys, bid: float, ask: float, ts: float = 1.7e9, size: float = 0.5, variant: float = 1.0):
    """One tick's arrays with every market's top at bid/ask (the simulator's build of the same top: _built)."""
    books = SimulatorBooks(market, keys)
    count = len(market._keys)
    fields = tuple((value,) * count for value in (bid, ask, size, size, variant))
    return TickBookArrays(books, None, fields, ts)


def _built(market, key, bid, ask, ts=1.7e9, size=0.5, variant=1.0) -> OrderBook:
    m = market._index[key]
    return market._books.build(m, key[0], key[1], ts, (bid, ask, size, size, variant))


def test_bid_levels_at_or_below_zero_are_left_out_as_the_simulator_leaves_them():
    market, keys = _market()
    key = ("binance", "BTC/USDT")
    step = 1.0 / market._books._price_inv[market._index[key]]
    bid, ask = 3 * step, 4 * step  # the levels below the third are at or below zero
    packed = _arrays(market, keys, bid, ask).packed_books()[key]
    book = _built(market, key, bid, ask)
    assert len(book.bids) < len(book.asks)
    assert packed.packed == _plain(book) and packed == book


def test_a_book_with_nan_never_equals_another_as_the_order_book_does_not():
    market, keys = _market()
    key = ("kraken", "ETH/USDT")
    first = _arrays(market, keys, 100.0, 100.5, size=math.nan).packed_books()[key]
    second = _arrays(market, keys, 100.0, 100.5, size=math.nan).packed_books()[key]
    assert first.packed == second.packed  # the same bytes, yet NaN equals nothing
    built = _built(market, key, 100.0, 100.5, size=float("nan"))  # each tick's rows hold their own NaN objects
    assert first.packed == _plain(built) and built != _built(market, key, 100.0, 100.5, size=float("nan"))
    assert first != second and not first == second and first != built
    same = _arrays(market, keys, 100.0, 100.5).packed_books()[key]
    assert same == _arrays(market, keys, 100.0, 100.5).packed_books()[key] == _built(market, key, 100.0, 100.5)
    assert same != _arrays(market, keys, 100.0, 100.6).packed_books()[key]
    assert same != PackedBook("binance", key[1], same.packed, True)  # another market's book, the same levels


def test_plus_and_minus_zero_are_equal_books_though_their_bytes_differ():
    market, keys = _market()
    key = ("coinbase", "SOL/USDT")
    plus = _arrays(market, keys, 100.0, 100.5, ts=0.0).packed_books()[key]
    minus = _arrays(market, keys, 100.0, 100.5, ts=-0.0).packed_books()[key]
    assert plus.packed != minus.packed and plus == minus
    assert minus.packed == _plain(_built(market, key, 100.0, 100.5, ts=-0.0))


def test_a_top_that_is_not_a_float_falls_back_to_the_simulators_books():
    market, keys = _market()
    snapshot = market.next_snapshot()
    arrays = SimulatorBooks(market, keys).capture(snapshot.book_reader)
    arrays.fields = (tuple(int(v) for v in arrays.fields[0]),) + arrays.fields[1:]  # msgpack packs ints otherwise
    out = arrays.packed_books()
    assert all(type(book) is OrderBook for book in out.values())
    assert out == {key: book for key in keys if (book := snapshot.book_reader(*key)) is not None}


def test_another_reader_is_not_captured():
    market, keys = _market()
    snapshot = market.next_snapshot()
    assert SimulatorBooks(market, keys).capture(lambda *key: snapshot.book_reader(*key)) is None
    other, _ = _market()
    assert SimulatorBooks(other, keys).capture(snapshot.book_reader) is None


@pytest.mark.parametrize("count", [0, 1, 15, 16, 17, 65535, 65536])
def test_array_headers_are_msgpacks(count):
    assert array_header(count) == msgpack.packb([None] * count)[:-count or None]


def test_a_mix_of_books_packs_as_one_msgpack_array():
    market, keys = _market()
    snapshot = market.next_snapshot()
    plain = [book for key in keys if (book := snapshot.book_reader(*key)) is not None]
    packed = list(SimulatorBooks(market, keys).capture(snapshot.book_reader).packed_books().values())
    mixed = [packed[i] if i % 3 else plain[i] for i in range(len(plain))]
    expected = msgpack.packb([(book.bids, book.asks, book.ts) for book in plain])
    assert pack_books(mixed) == pack_books(packed) == pack_books(plain) == expected
    assert isinstance(packed[0], PackedBook)


def test_the_recording_is_the_plain_paths_record_for_record(tmp_path, monkeypatch):
    config = parse_config({"market": {**MARKET, "simulator": {"news_per_hour": 300.0}}, "dashboard": {"enabled": False},
                           "recording": {"record": True, "frame_max_bytes": 40_000}})
    folders = {}
    for name, is_simulator in (("plain", lambda source: False), ("packed", recorder._is_simulator)):
        monkeypatch.setattr(recorder, "_is_simulator", is_simulator)
        source = RecordingSource(SimulatedMarket(config.market), config, tmp_path / name, 1.0)
        assert (source._simulator_books is not None) == (name == "packed")
        for _ in range(300):
            source.next_snapshot()
        source.close()
        folders[name] = source.folder
    plain, packed = all_records(folders["plain"]), all_records(folders["packed"])
    assert len(plain) == 300 and packed == plain
    assert sum("bp" in record for record in plain) == 300
