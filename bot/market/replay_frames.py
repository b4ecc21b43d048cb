"""A recording's frames decoded in order, the next one decompressed ahead, off the replay's thread.

Decompressing a frame is the largest single cost of reading a recording. zstd releases the GIL
while it works, so the frame after the one being replayed is decompressed by a worker (`submit`:
the engine's background runner, else one lazily made worker thread) while the engine runs the
current frame's ticks. One frame is in flight at a time, so memory stays flat. The records, their
order and every error (the same RecordingError, raised after the records before it, where the
plain reader, iter_records below, raises it) are exactly those of reading the
segments in order: only when the decompression happens moves. Schema 3 frames (bot/market/
recording_columns.py) decompress only their light part here; their books wait for a read.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

import msgpack
import numpy as np
import zstandard

from bot.market.recording_columns import (FLAG_CANDLES, FLAG_CHANGED, FLAG_EVENTS, FLAG_GAP, FLAG_HEALTH,
                                          FLAG_NEW_CANDLE, FLAG_NEWS, FLAG_WHALES, LIGHT_LENGTH, FrameBooks,
                                          LightPart, book_chunks, quote_rows, record_flags, split_payload)
from bot.market.recording_format import HEADER, RecordingError, Segment


@dataclass(slots=True)
class Frame:
    """One decoded frame: its records, the error after them (if one did not decode), schema 3's columns."""

    records: list[dict]
    error: RecordingError | None = None
    values: np.ndarray | None = None  # schema 3: float64 [T, K, 7], the quotes as they stand after each tick
    new: np.ndarray | None = None  # schema 3: bool [T, K], the quotes each tick sets
    books: FrameBooks | None = None  # schema 3: the books, decompressed when read
    header: dict | None = None  # schema 3: the frame's header (bot/market/recording_columns.py)
    _new_ids: list | None = None  # per tick, the markets whose quote it sets (`every` when all of them)
    every: list | None = None
    _light: dict | None = None  # the look-ahead's arrays of this frame, made on first use

    def new_ids(self, row: int) -> list:
        """The markets a schema 3 tick sets quotes for (the list `self.every` when it sets all of them)."""
        if self._new_ids is None:
            self.every = every = list(range(self.new.shape[1]))
            self._new_ids = [every if whole else np.flatnonzero(r).tolist()
                             for whole, r in zip(self.new.all(axis=1).tolist(), self.new)]
        return self._new_ids[row]


def _raw_frames(segments: list[Segment], schema: int = 2) -> Iterator[tuple[Segment, int, bytes | LightPart]]:
    """(segment, byte offset, compressed payload) of every checked frame, in recording order; of a schema 3
    frame, the light part only (its books are read from the file when one is)."""
    for segment in segments:
        with open(segment.path, "rb") as handle:
            offset = 0
            while offset < segment.good_bytes:
                _magic, length, _crc = HEADER.unpack(handle.read(HEADER.size))
                if schema >= 3 and length >= LIGHT_LENGTH.size:
                    (light,) = LIGHT_LENGTH.unpack(handle.read(LIGHT_LENGTH.size))
                    if LIGHT_LENGTH.size + light <= length:
                        payload = LightPart(segment.path, handle.read(light),
                                            offset + HEADER.size + LIGHT_LENGTH.size + light)
                        handle.seek(length - LIGHT_LENGTH.size - light, 1)
                        yield segment, offset, payload
                        offset += HEADER.size + length
                        continue
                    handle.seek(-LIGHT_LENGTH.size, 1)  # a light length past the frame: read whole, refused whole
                yield segment, offset, handle.read(length)
                offset += HEADER.size + length


def decompress(segment: Segment, offset: int, payload: bytes, schema: int = 2):
    """A frame's payload decompressed: bytes (schema 1, 2), or (light part, book chunks) for schema 3."""
    if schema >= 3:
        return split_payload(payload, f"{segment.path}: frame at byte {offset}")
    try:
        return zstandard.ZstdDecompressor().decompress(payload)
    except zstandard.ZstdError as exc:
        raise RecordingError(f"{segment.path}: frame at byte {offset} does not decompress ({exc})") from None


def decode(segment: Segment, offset: int, decompressed, schema: int = 2) -> Frame:
    """A Frame from a decompressed payload (tuples for arrays, so books decode straight to OrderBook levels)."""
    light, rest = (decompressed, None) if schema < 3 else decompressed
    unpacker = msgpack.Unpacker(use_list=False, raw=False, strict_map_key=False)
    unpacker.feed(light)
    records, error = [], None
    try:
        records.extend(unpacker)
    except (msgpack.UnpackException, ValueError) as exc:
        error = RecordingError(f"{segment.path}: a record does not decode ({exc})")
    if schema < 3:
        return Frame(records, error)
    where = f"{segment.path}: frame at byte {offset}"
    header = records.pop(0) if records else None
    if not isinstance(header, dict) or header.get("n") != len(records) and error is None:
        raise RecordingError(f"{where}: the frame's header does not match its records (damaged)")
    try:
        values, new = quote_rows(header, len(header["qn"]) // max(header["n"], 1))
        books = book_chunks(header, rest, where)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordingError(f"{where}: the frame's header does not decode ({exc})") from None
    return Frame(records, error, values, new, books, header)


def iter_records(segment: Segment, schema: int = 2) -> Iterator[dict]:
    """A segment's records in order (tuples for arrays; schema 3: the light records as stored)."""
    with open(segment.path, "rb") as handle:
        offset = 0
        while offset < segment.good_bytes:
            _magic, length, _crc = HEADER.unpack(handle.read(HEADER.size))
            frame = decode(segment, offset, decompress(segment, offset, handle.read(length), schema), schema)
            yield from frame.records
            if frame.error is not None:
                raise frame.error
            offset += HEADER.size + length


def last_record(segment: Segment, schema: int = 2) -> dict:
    """The last record of a segment (its last frame is decoded, nothing else)."""
    with open(segment.path, "rb") as handle:
        offset, frame = 0, None
        while offset < segment.good_bytes:
            _magic, length, _crc = HEADER.unpack(handle.read(HEADER.size))
            if offset + HEADER.size + length >= segment.good_bytes:
                frame = decode(segment, offset, decompress(segment, offset, handle.read(length), schema), schema)
            else:
                handle.seek(length, 1)
            offset += HEADER.size + length
    return frame.records[-1] if frame is not None and frame.records else None


class FramePrefetcher:
    """Reads a recording's frames in order, decompressing one frame ahead through `submit`."""

    def __init__(self, segments: list[Segment], runner=None, schema: int = 2):
        self.segments = list(segments)
        self.schema = schema
        self._runner = runner
        self._own: ThreadPoolExecutor | None = None

    def _submit(self, fn: Callable, *args):
        if self._runner is not None:
            return self._runner.submit(fn, *args)
        if self._own is None:
            self._own = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-frames")
        return self._own.submit(fn, *args)

    def frames(self) -> Iterator[Frame]:
        """Every frame of the segments, in order; an OSError reading the next one is raised after this one."""
        frames = _raw_frames(self.segments, self.schema)
        schema = self.schema
        try:
            item = next(frames, None)
            pending = (item, self._submit(decompress, *item, schema)) if item is not None else None
            while pending is not None:
                (segment, offset, _payload), future = pending
                decompressed = future.result()
                failed = None
                try:
                    item = next(frames, None)
                except OSError as exc:  # raised after this frame's records, where the plain reader raises it
                    item, failed = None, exc
                pending = (item, self._submit(decompress, *item, schema)) if item is not None else None
                yield decode(segment, offset, decompressed, schema)
                if failed is not None:
                    raise failed
        finally:
            frames.close()

    def records(self) -> Iterator[dict]:
        """Every record of the segments, in order (schema 3: the light records, as the files hold them)."""
        for frame in self.frames():
            yield from frame.records
            if frame.error is not None:
                raise frame.error

    def close(self) -> None:
        """Stop the worker this made (a runner passed in belongs to the caller)."""
        if self._own is not None:
            self._own.shutdown(wait=True, cancel_futures=True)
            self._own = None


# ---- the look-ahead (docs/LOOKAHEAD_API.md) ---------------------------------------------------------
_FLAG_COLUMNS = (FLAG_NEW_CANDLE, FLAG_NEWS, FLAG_WHALES, FLAG_EVENTS, FLAG_HEALTH, FLAG_CHANGED, FLAG_GAP)


@dataclass(frozen=True, slots=True)
class LightBlock:
    """What the next snapshots of a replay hold that a look-ahead needs, as read-only arrays (rows: ticks)."""

    keys: tuple
    tick: np.ndarray
    ts: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    new_candle: np.ndarray
    candle_row: np.ndarray
    candle_key: np.ndarray
    candles: np.ndarray
    news: np.ndarray
    whales: np.ndarray
    events: np.ndarray
    health: np.ndarray
    gap: np.ndarray
    changed: np.ndarray

    def __len__(self) -> int:
        return len(self.tick)


def _frame_light(frame: Frame) -> dict:
    """A frame's per-record flags and candles as arrays (kept with the frame: look-aheads overlap)."""
    light = frame._light
    if light is not None:
        return light
    records, header = frame.records, frame.header
    if header is not None and frame.error is None and "fl" in header:  # schema 3 wrote them down
        bits = np.frombuffer(header["fl"], dtype=np.uint8)
        tick, ts = np.frombuffer(header["tt"], dtype="<i8"), np.frombuffer(header["tz"], dtype="<f8")
        marked = np.flatnonzero(bits & (FLAG_CANDLES | FLAG_CHANGED)).tolist()
    else:
        bits = np.array([record_flags(r) for r in records], dtype=np.uint8)
        tick = np.array([r["t"] for r in records], dtype=np.int64)
        ts = np.array([r["ts"] for r in records], dtype=float)
        marked = range(len(records))
    flags = (bits[:, None] & np.array(_FLAG_COLUMNS, dtype=np.uint8)) != 0
    candle_row, candle_rows = [], []
    for position in marked:
        for row in records[position].get("c", ()):
            candle_row.append(position)
            candle_rows.append(row)
    light = {"tick": tick, "ts": ts, "flags": flags,
             "orders": [(p, records[p]["o"]) for p in marked if "o" in records[p]],
             "candle_row": np.array(candle_row, dtype=np.int64),
             "candle_key": np.array([row[0] for row in candle_rows], dtype=np.int64),
             "candles": np.array([row[1:7] for row in candle_rows], dtype=float).reshape(len(candle_rows), 6)}
    frame._light = light
    return light


def _quotes_by_hand(frame: Frame, start: int, stop: int, current: np.ndarray) -> np.ndarray:
    """Schema 1 and 2: bid and ask [rows, K, 2] from the records' quote rows, `current` carried along."""
    out = np.empty((stop - start,) + current.shape)
    for n, record in enumerate(frame.records[start:stop]):
        if "k" in record:
            current[:] = np.nan
        for row in record.get("q", ()):
            current[row[0]] = (row[1], row[2])
        out[n] = current
    return out


def light_block(spans: list, keys: tuple, order: tuple, previous: tuple | None, gap_seconds: float,
                current: dict) -> LightBlock:
    """The LightBlock of `spans` [(frame, start, stop)] from a replay's cursor: `order` is the quote order
    there, `previous` the (tick, ts) a gap is measured from (None: none for the first row), `current` the
    (bid, ask) of each market's quote there (used by schema 1 and 2 frames)."""
    width = len(keys)
    parts: dict[str, list] = {name: [] for name in ("tick", "ts", "flags", "quotes", "mask", "candle_row",
                                                    "candle_key", "candles")}
    carried = np.full((width, 2), np.nan)
    for i, (bid, ask) in current.items():
        carried[i] = (bid, ask)
    in_order = np.zeros(width, dtype=bool)
    in_order[list(order)] = True
    offset = 0
    for frame, start, stop in spans:
        light = _frame_light(frame)
        for name in ("tick", "ts", "flags"):
            parts[name].append(light[name][start:stop])
        if frame.values is not None:
            parts["quotes"].append(frame.values[start:stop, :, :2])
            carried = frame.values[stop - 1, :, :2].copy()
        else:
            parts["quotes"].append(_quotes_by_hand(frame, start, stop, carried))
        mask = np.empty((stop - start, width), dtype=bool)
        at = start
        for position, new_order in light["orders"]:  # those before start are in `order` already
            if start <= position < stop:
                mask[at - start:position - start] = in_order
                in_order = np.zeros(width, dtype=bool)
                in_order[list(new_order)] = True
                at = position
        mask[at - start:] = in_order
        parts["mask"].append(mask)
        chosen = (light["candle_row"] >= start) & (light["candle_row"] < stop)
        parts["candle_row"].append(light["candle_row"][chosen] - start + offset)
        parts["candle_key"].append(light["candle_key"][chosen])
        parts["candles"].append(light["candles"][chosen])
        offset += stop - start

    def joined(name, shape, dtype):
        array = np.concatenate(parts[name]) if parts[name] else np.empty(shape, dtype=dtype)
        array.setflags(write=False)
        return array

    tick, ts = joined("tick", (0,), np.int64), joined("ts", (0,), float)
    flags = joined("flags", (0, 7), bool)
    quotes = np.where(joined("mask", (0, width), bool)[:, :, None], joined("quotes", (0, width, 2), float), np.nan)
    gap = flags[:, 6].copy()
    if len(tick):
        before_tick = np.concatenate(([previous[0] if previous else tick[0] - 1], tick[:-1]))
        before_ts = np.concatenate(([previous[1] if previous else ts[0]], ts[:-1]))
        gap |= (tick != before_tick + 1) | (ts - before_ts > gap_seconds)
        if previous is None:
            gap[0] = False
    arrays = {"bid": quotes[:, :, 0], "ask": quotes[:, :, 1], "gap": gap}
    for array in arrays.values():
        array.setflags(write=False)
    return LightBlock(keys, tick, ts, arrays["bid"], arrays["ask"], flags[:, 0],
                      joined("candle_row", (0,), np.int64), joined("candle_key", (0,), np.int64),
                      joined("candles", (0, 6), float), flags[:, 1], flags[:, 2], flags[:, 3], flags[:, 4], gap,
                      flags[:, 5])
