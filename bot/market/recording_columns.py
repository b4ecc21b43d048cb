"""Schema 3 frames: a light part (records, quotes as float64 columns) and the books apart.

A replayed tick rarely reads a book (about 50 ticks in 20,000 of the default market), yet books
are nine tenths of a recording. Schema 3 keeps them out of the part every tick decodes:

    frame payload = light length (uint32, big-endian) | light (zstd) | book chunk 0 (zstd) | chunk 1...

The light part (decompressed) is msgpack: a header map, then the frame's T records as in schema 2
(bot/market/recording_codec.py) less their "q" rows and "bp" blob:

  n   T                  qv  float64 little-endian [T, K, 7]: every market's quote fields (bid, ask,
  bt  ticks per chunk        last, bid_size, ask_size, ts, change_24h_pct) as they stand after each
  bc  each book chunk's      tick (NaN before a market's first quote); K = len(meta.json "keys")
      compressed length  qn  uint8 [T, K]: 1 where the tick's record sets that market's quote
  bl  per tick: the byte length of its books blob (schema 2's "bp"; 0: no book changed)
  tt, tz  int64 / float64 little-endian [T]: each record's "t" and "ts"
  fl  uint8 [T]: what each record holds besides quotes and books, as FLAG_* bits (for a look-ahead)

Book chunk c holds the blobs of ticks c*bt .. c*bt+bt-1, back to back, and is decompressed only
when one of its books is read. A quote row with a value that is not a float (which float64 would
not give back exactly) stays in its record's "q" and has qn 0: the records keep every value as
recorded. The CRC of the frame (bot/market/recording_format.py) covers all of it.
"""
from __future__ import annotations

import math
import struct

import msgpack
import numpy as np
import zstandard

from bot.market.recording_format import RecordingError
from bot.models import OrderBook

QUOTE_FIELDS = 7  # bid, ask, last, bid_size, ask_size, ts, change_24h_pct
BOOK_CHUNK_TICKS = 16  # a book read decompresses 16 ticks of books, not the frame's ~70
LIGHT_LENGTH = struct.Struct(">I")
_NAN_ROW = (math.nan,) * QUOTE_FIELDS
# Bits of a header's "fl": the record has a closed 1-minute candle ("nc"), news, whales, source events,
# health, other changes (markets, stale markets, quote order, candle restart, trades, keyframe), a marked
# gap ("g"), closed candles ("c").
FLAG_NEW_CANDLE, FLAG_NEWS, FLAG_WHALES, FLAG_EVENTS, FLAG_HEALTH, FLAG_CHANGED, FLAG_GAP, FLAG_CANDLES = (
    1 << bit for bit in range(8))
FLAG_KEYS = (("nc",), ("n",), ("w",), ("e",), ("h",), ("m", "s", "o", "cr", "k", "tr", "trr", "tf"), ("g",), ("c",))


def record_flags(record: dict) -> int:
    """The FLAG_* bits of a record."""
    flags = 0
    for bit, names in enumerate(FLAG_KEYS):
        if any(name in record for name in names):
            flags |= 1 << bit
    return flags


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


class FrameBuilder:
    """The writer's side: takes a frame's records one by one, then makes the frame's payload."""

    def __init__(self, key_count: int):
        self.key_count = key_count
        self.current: list[tuple] = [_NAN_ROW] * key_count
        self._clear()

    def _clear(self) -> None:
        self.values: list[tuple] = []
        self.new: list[bytes] = []
        self.records: list[bytes] = []
        self.blobs: list[bytes] = []
        self.ticks: list[int] = []
        self.times: list[float] = []
        self.flags = bytearray()

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: dict, packer: msgpack.Packer, keyframe: bool) -> int:
        """Take a record (its "q" and "bp" are moved into the columns); the raw bytes it adds."""
        if keyframe:
            self.current = [_NAN_ROW] * self.key_count
        rows = record.pop("q", None)
        new = bytearray(self.key_count)
        if rows:
            kept = []
            current = self.current
            for row in rows:
                i, values = row[0], tuple(row[1:])
                if len(values) == QUOTE_FIELDS and all(type(v) is float for v in values):
                    new[i] = 1
                    current[i] = values
                else:
                    kept.append(row)
                    current[i] = tuple(_number(v) for v in values[:QUOTE_FIELDS]) + _NAN_ROW[len(values):]
            if kept:
                record["q"] = kept
        blob = record.pop("bp", b"")
        packed = packer.pack(record)
        self.ticks.append(record["t"])
        self.times.append(record["ts"])
        self.flags.append(record_flags(record))
        self.values.append(tuple(self.current))
        self.new.append(bytes(new))
        self.records.append(packed)
        self.blobs.append(blob)
        return len(packed) + len(blob) + self.key_count * (QUOTE_FIELDS * 8 + 1)

    def payload(self, compressor: zstandard.ZstdCompressor, packer: msgpack.Packer) -> bytes:
        """The frame's payload (see the module docstring); the builder starts a new frame."""
        count = len(self.records)
        values = np.array(self.values, dtype="<f8").reshape(count, self.key_count, QUOTE_FIELDS)
        chunks = []
        for start in range(0, count, BOOK_CHUNK_TICKS):
            raw = b"".join(self.blobs[start:start + BOOK_CHUNK_TICKS])
            chunks.append(compressor.compress(raw) if raw else b"")
        header = {"n": count, "qv": values.tobytes(), "qn": b"".join(self.new), "bt": BOOK_CHUNK_TICKS,
                  "bc": [len(c) for c in chunks], "bl": [len(b) for b in self.blobs],
                  "tt": np.array(self.ticks, dtype="<i8").tobytes(), "tz": np.array(self.times, dtype="<f8").tobytes(),
                  "fl": bytes(self.flags)}
        light = compressor.compress(packer.pack(header) + b"".join(self.records))
        self._clear()
        return LIGHT_LENGTH.pack(len(light)) + light + b"".join(chunks)


class FrameBooks:
    """The books of one schema 3 frame, each chunk decompressed on the first read of one of its books."""

    __slots__ = ("where", "chunks", "ticks", "lengths", "_raw")

    def __init__(self, where: str, chunks: list, ticks: int, lengths: list[int]):
        self.where = where  # "<segment>: frame at byte N", for errors
        self.chunks = chunks
        self.ticks = ticks
        self.lengths = lengths
        self._raw: dict[int, bytes] = {}

    def blob(self, row: int) -> bytes:
        """The packed books of the frame's row-th tick (schema 2's "bp")."""
        chunk = row // self.ticks
        raw = self._raw.get(chunk)
        if raw is None:
            try:
                raw = self._raw[chunk] = zstandard.ZstdDecompressor().decompress(self.chunks[chunk])
            except zstandard.ZstdError as exc:
                raise RecordingError(f"{self.where}: book chunk {chunk} does not decompress ({exc})") from None
        start = sum(self.lengths[chunk * self.ticks:row])
        return raw[start:start + self.lengths[row]]


class LazyBookBlob:
    """One tick's books in a schema 3 frame: decoded on the first read of any of them (as BookBlob)."""

    __slots__ = ("frame_books", "row", "books")

    def __init__(self, frame_books: FrameBooks, row: int):
        self.frame_books = frame_books
        self.row = row
        self.books: tuple | None = None

    def book(self, position: int, exchange: str, symbol: str) -> OrderBook:
        """The position-th book of the tick as an OrderBook."""
        if self.books is None:
            self.books = msgpack.unpackb(self.frame_books.blob(self.row), use_list=False)
        bids, asks, ts = self.books[position]
        return OrderBook(exchange, symbol, bids, asks, ts)


def split_payload(payload: bytes, where: str) -> tuple[bytes, list]:
    """(the light part decompressed, the compressed book chunks as memoryviews) of a frame's payload."""
    view = memoryview(payload)
    try:
        (length,) = LIGHT_LENGTH.unpack_from(view, 0)
        light = zstandard.ZstdDecompressor().decompress(view[LIGHT_LENGTH.size:LIGHT_LENGTH.size + length])
    except (struct.error, zstandard.ZstdError) as exc:
        raise RecordingError(f"{where} does not decompress ({exc})") from None
    return light, [view, LIGHT_LENGTH.size + length]


def quote_rows(header: dict, key_count: int) -> tuple[np.ndarray, np.ndarray]:
    """(values float64 [T, K, 7], new bool [T, K]) of a frame header, read-only."""
    count = header["n"]
    values = np.frombuffer(header["qv"], dtype="<f8").reshape(count, key_count, QUOTE_FIELDS)
    new = np.frombuffer(header["qn"], dtype=np.uint8).reshape(count, key_count).view(bool)
    return values, new


def book_chunks(header: dict, rest: list, where: str) -> FrameBooks:
    """The frame's books from its header and the bytes after the light part."""
    view, at = rest
    chunks = []
    for length in header["bc"]:
        chunks.append(view[at:at + length])
        at += length
    return FrameBooks(where, chunks, header["bt"], header["bl"])


def full_records(records: list[dict], header: dict, key_count: int, books: FrameBooks) -> list[dict]:
    """The frame's records as schema 2 wrote them ("q" rows and "bp" put back): for checks and tools."""
    values, new = quote_rows(header, key_count)
    out = []
    for row, record in enumerate(records):
        record = dict(record)
        rows = [(int(i), *values[row, i].tolist()) for i in np.flatnonzero(new[row])]
        rows += [tuple(r) for r in record.get("q", ())]
        if rows:
            record["q"] = sorted(rows, key=lambda r: r[0])
        if header["bl"][row]:
            record["bp"] = books.blob(row)
        out.append(record)
    return out
