"""The candle backtest's data, streamed: several candle files merged on their union of minutes, held
as a sliding window of numpy arrays (bot/market/candle_source.py reads it), so a backtest's memory
does not grow with the length of the data.

Each file is a _Stream: its rows read forward in batches (candle_store.CandleReader), holding the
last HISTORY_BARS bars closed before the window's first minute (the most any reader asks: the
chart's archive) and the rows read ahead. CandleWindow merges the streams minute by minute into
"grid" entries (every minute some market has a bar) and, per entry and market, the bar's row (or
-1) and how many of the market's bars closed before it; per tick (four per minute, TICK_OFFSETS)
it precomputes each market's price, bid, ask, level size and 24 h change as arrays, so a tick is
a few item reads and a look ahead is a slice. Entries before the current one are dropped as the
window moves on.

A position behind the window (a restart at an earlier tick) is reached from a checkpoint, each
stream's row count at a minute, taken while scan() first reads every file (at most
MAX_CHECKPOINTS, thinned as the data grows), and read forward from there.
"""
from __future__ import annotations

import math

import numpy as np

from bot.market.candle_store import BATCH_ROWS, CandleReader

TICKS_PER_BAR = 4
TICK_OFFSETS = (0.0, 15.0, 30.0, 45.0)  # seconds into the minute of open, first extreme, second extreme, close
CANDLES_24H = 1440
# Closed bars kept behind the window per market: at least what any reader asks for (the chart's archive,
# bot/chart_data.MAX_CANDLES_PER_MARKET, two weeks; momentum's warmup and stat_arb's lookback are less).
HISTORY_BARS = 60 * 24 * 14
MAX_CHECKPOINTS = 64
_OFFSETS = np.asarray(TICK_OFFSETS)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # handed out as views (history reads, look-aheads)
    return array


class _Stream:
    """One market's rows, read forward: rows [base, base + len) held; rows before `next` are on the grid."""

    def __init__(self, reader: CandleReader, until_ms: int | None):
        self.reader, self.until_ms = reader, until_ms
        self.restart(0, 0)

    def restart(self, start_row: int, next_row: int) -> None:
        """Read again from start_row (history), with rows from next_row on not yet on the grid."""
        self._batches = self.reader.batches(start_row, BATCH_ROWS)
        self.base, self.next, self.exhausted = start_row, next_row, False
        self.ts = np.empty(0, np.int64)
        self.values = np.empty((0, 5))
        self.path = np.empty((0, 4))
        self.close = _frozen(np.empty(0))
        self.recent: dict = {}  # row -> Candle, CandleMarket.candles' reuse

    @property
    def end(self) -> int:
        """One past the last row held."""
        return self.base + int(self.ts.shape[0])

    def load(self, keep_from: int) -> None:
        """Read the next batch (none at the end of the file or of candles.until), dropping rows before keep_from."""
        batch = next(self._batches, None) if not self.exhausted else None
        if batch is None:
            self.exhausted = True
            ts, values = np.empty(0, np.int64), np.empty((0, 5))
        else:
            _, ts, values = batch
            if self.until_ms is not None and ts.size and ts[-1] >= self.until_ms:
                cut = int(np.searchsorted(ts, self.until_ms))
                ts, values = ts[:cut], values[:cut]
                self.exhausted = True
        o, h, lo, c = values[:, 0], values[:, 1], values[:, 2], values[:, 3]
        up = c >= o
        path = np.column_stack([o, np.where(up, lo, h), np.where(up, h, lo), c])
        drop = max(0, min(keep_from, self.end) - self.base)
        self.base += drop
        self.ts = _frozen(np.concatenate([self.ts[drop:], ts]))
        self.values = _frozen(np.concatenate([self.values[drop:], values]))
        self.path = _frozen(np.concatenate([self.path[drop:], path]))
        self.close = _frozen(np.ascontiguousarray(self.values[:, 3]))


class MarketTicks:
    """One market's arrays over the window: per minute its bar's row (or -1) and per tick its price,
    touch, level size, 24 h change and closed-bar count (nan / -1 without a bar)."""

    __slots__ = ("bar", "closed", "last", "bid", "ask", "size", "change", "closed_rows", "rows_base")

    def __init__(self):
        self.bar = np.empty(0, np.int64)
        self.closed = np.empty(0, np.int64)
        self.last = self.bid = self.ask = self.size = self.change = np.empty(0)
        self.closed_rows = np.empty(0, np.int64)  # per tick: closed, as an index into the stream's arrays
        self.rows_base = 0  # the stream's base closed_rows counts from


class CandleWindow:
    """The streams merged on their union of minutes, from grid entry `base` to `end` (module doc)."""

    def __init__(self, readers: list[CandleReader], models: list[dict], until_ms: int | None):
        self.streams = [_Stream(reader, until_ms) for reader in readers]
        self.models = models
        self.checkpoints: list[tuple[int, tuple[int, ...]]] = []
        self.count = 0  # grid entries in the data (after scan)
        self._reset(0)

    def _reset(self, base: int) -> None:
        self.base = self.end = base
        self.ts = np.empty(0)  # per tick: its time in seconds
        self.new_candle = np.empty(0, bool)
        self.markets = [MarketTicks() for _ in self.streams]

    # ---- reading the files -------------------------------------------------------------
    def first_rows(self) -> None:
        """Read each stream's first batch (its first close sets the book model's step)."""
        for stream in self.streams:
            stream.load(0)

    def scan(self, since_ms: int | None) -> tuple[int, int, int]:
        """Read every file once to the end, checking it and counting the grid; checkpoints on the way.
        Returns (entries before since_ms, first entry's ms from since_ms on, last entry's ms); -1 for none."""
        before, first, last = 0, -1, -1
        while True:
            mark = (self.end, tuple(stream.next for stream in self.streams))
            new = self._extend(self.end, ticks=False)
            if new is None:
                break
            self._checkpoint(mark)
            if since_ms is not None and first < 0:
                below = int(np.searchsorted(new, since_ms))
                before += below
                if below < new.size:
                    first = int(new[below])
            elif first < 0:
                first = int(new[0])
            last = int(new[-1])
        self.count = self.end
        self._reset(self.count)  # no tick arrays were built: the next position() reads again from a checkpoint
        return before, first, last

    def _checkpoint(self, mark: tuple[int, tuple[int, ...]]) -> None:
        if self.checkpoints and self.checkpoints[-1][0] == mark[0]:
            return
        self.checkpoints.append(mark)
        if len(self.checkpoints) > MAX_CHECKPOINTS:
            self.checkpoints = self.checkpoints[::2]

    def position(self, g: int) -> None:
        """Make grid entry g the window's (g < count), keeping what came before it only as history."""
        if g < self.base:
            start, rows = max((c for c in self.checkpoints if c[0] <= g), key=lambda c: c[0])
            for stream, row in zip(self.streams, rows):
                stream.restart(max(0, row - HISTORY_BARS), row)
            self._reset(start)
        while g >= self.end:
            if self._extend(min(g, self.end)) is None:
                raise IndexError(f"grid entry {g} is past the end of the candles")

    def cover(self, g: int, anchor: int) -> None:
        """Extend the window until it holds grid entry g (or the data ends), dropping entries before anchor."""
        while g >= self.end and self.end < self.count:
            self._extend(min(anchor, self.end))

    def closed_at(self, k: int, g: int) -> int:
        """How many of market k's bars closed before grid entry g (base <= g <= end)."""
        if g >= self.end:
            return self.streams[k].next
        return int(self.markets[k].closed[g - self.base])

    def _extend(self, anchor: int, ticks: bool = True) -> np.ndarray | None:
        """Put the next minutes on the grid (as far as every stream is read), dropping entries before
        anchor and rows older than their history; the new minutes' ms, or None at the end of the data."""
        streams = self.streams
        keep = [max(0, self.closed_at(k, anchor) - HISTORY_BARS) for k in range(len(streams))]
        for k, stream in enumerate(streams):
            while not stream.exhausted and stream.end <= stream.next:
                stream.load(keep[k])
        live = [s.ts[-1] for s in streams if not s.exhausted]
        bound = min(live) if live else None
        spans = []
        for stream in streams:
            lo = stream.next - stream.base
            hi = stream.ts.shape[0] if bound is None else int(np.searchsorted(stream.ts, bound, side="right"))
            spans.append((lo, hi))
        parts = [s.ts[lo:hi] for s, (lo, hi) in zip(streams, spans) if hi > lo]
        if not parts:
            return None
        new = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
        grid0 = self.end
        rows = []
        for stream, (lo, hi) in zip(streams, spans):
            segment = stream.ts[lo:hi]
            index = np.searchsorted(segment, new)
            present = (index < segment.shape[0]) & (segment[np.minimum(index, max(segment.shape[0] - 1, 0))] == new) \
                if segment.shape[0] else np.zeros(new.shape, bool)
            closed = stream.next + index
            rows.append((closed, np.where(present, closed, -1)))
            stream.next = stream.base + hi
        drop = min(max(0, anchor - self.base), self.end - self.base)
        self.base += drop
        self.end += int(new.shape[0])
        if ticks:
            self._add_ticks(new, grid0, rows, drop)
        return new

    def _add_ticks(self, new: np.ndarray, grid0: int, rows: list, drop: int) -> None:
        """Append the per-tick arrays of new minutes (grid entries from grid0), dropping `drop` entries."""
        n = new.shape[0]
        t = drop * TICKS_PER_BAR
        ts = ((new / 1000.0)[:, None] + _OFFSETS).ravel()
        new_candle = np.zeros((n, TICKS_PER_BAR), bool)
        new_candle[:, 0] = np.arange(grid0, grid0 + n) > 0
        self.ts = _frozen(np.concatenate([self.ts[t:], ts]))
        self.new_candle = _frozen(np.concatenate([self.new_candle[t:], new_candle.ravel()]))
        for stream, model, m, (closed, bar) in zip(self.streams, self.models, self.markets, rows):
            has = bar >= 0
            local = np.where(has, bar - stream.base, 0)
            held = stream.path.shape[0] > 0
            price = np.where(has[:, None], stream.path[local], np.nan) if held else np.full((n, 4), np.nan)
            half = model["spread_bps"] / 2e4
            if half == 0.0:
                bid, ask = price, np.nextafter(price, np.inf)
            else:
                bid, ask = price * (1.0 - half), price * (1.0 + half)
            size = model["depth_usdt"] / price
            share = model["volume_share"]
            if share > 0 and held:
                cap = share * stream.values[local, 4] / TICKS_PER_BAR / model["levels"]
                size = np.minimum(size, cap[:, None])
            back = closed - CANDLES_24H
            reference = stream.close[np.clip(back - stream.base, 0, None)] if held else np.full(n, np.nan)
            with np.errstate(invalid="ignore"):
                change = np.where((back >= 0)[:, None], (price / reference[:, None] - 1.0) * 100.0, 0.0)
            m.bar = _frozen(np.concatenate([m.bar[drop:], bar]))
            m.closed = _frozen(np.concatenate([m.closed[drop:], closed]))
            kept = m.closed_rows[t:]
            if m.rows_base != stream.base:  # rows were dropped since: count from the stream's new base
                kept = kept - (stream.base - m.rows_base)
            m.rows_base = stream.base
            m.closed_rows = _frozen(np.concatenate([kept, np.repeat(closed - stream.base, TICKS_PER_BAR)]))
            for name, values in (("last", price), ("bid", bid), ("ask", ask), ("size", size), ("change", change)):
                setattr(m, name, _frozen(np.concatenate([getattr(m, name)[t:], values.ravel()])))


def touch(price: float, half_spread: float) -> tuple[float, float]:
    """(bid, ask) around a price; with no spread the ask is one float step above (never a locked book)."""
    if half_spread == 0.0:
        return price, math.nextafter(price, math.inf)
    return price * (1.0 - half_spread), price * (1.0 + half_spread)
