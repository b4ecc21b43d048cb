"""--record: every snapshot the engine sees, appended to data/recordings/<start>/ off the tick path.

RecordingSource wraps any MarketSource. On the tick path it only gathers what the snapshot holds
(quotes, every book, closed candles, news, whales, the source's events and health) and offers it
to a bounded queue; a background thread turns it into records (bot/market/recording_codec.py),
compresses them into frames (schema 3: bot/market/recording_columns.py, books apart from the rest)
and appends them to segments (bot/storage_recording.py). A full
queue drops the tick and the next record marks the gap (a --fast run, with no clock to keep,
waits for the writer instead: wait_when_full); a disk that refuses a frame loses that
frame's ticks, is retried, and the next record (a keyframe) marks the gap. Neither stops the run:
both are logged and reported through drain_events() as market warnings.
"""
from __future__ import annotations

import logging
import platform
import queue
import sys
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import msgpack
import zstandard

import bot
from bot.market.base import MarketSource
from bot.market.recording_books import SimulatorBooks, TickBookArrays
from bot.market.recording_codec import SnapshotEncoder, pack_default
from bot.market.recording_columns import FrameBuilder
from bot.market.recording_trades import TradeCapture, TradeTapes
from bot.market.recording_format import (FORMAT_NAME, INDEX_FILE, META_FILE, SCHEMA_VERSION, encode_frame,
                                          frame_of, segment_name)
from bot.models import Market, Snapshot
from bot.timestamps import iso_utc
from bot.storage import StorageError
from bot.storage_recording import SegmentAppender, delete_segment, write_recording_document

log = logging.getLogger(__name__)

WRITTEN_SCHEMA = SCHEMA_VERSION  # what a recording is written as; 2 only to test the readers of older ones
FULL_WAIT_SECONDS = 30.0  # the longest a fast run's tick waits for the writer before it drops the tick
NEW_CANDLES_PEEK = 8  # closed candles read per market on a new-candle tick (more only when all are new)
_STOP = object()
SECRET_WORDS = ("secret", "password", "token", "apikey", "api_key", "webhook", "passphrase", "private")


def redacted(value):
    """The config as a recording names it: settings that look like credentials are replaced."""
    if isinstance(value, dict):
        return {k: "<redacted>" if any(w in str(k).lower() for w in SECRET_WORDS) and v else redacted(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def versions(schema_version: int = SCHEMA_VERSION) -> dict:
    """The versions a recording was made with."""
    out = {"bot": bot.__version__, "schema_version": schema_version, "python": platform.python_version(),
           "msgpack": ".".join(map(str, msgpack.version)), "zstandard": zstandard.__version__}
    ccxt = sys.modules.get("ccxt")  # only when the live source loaded it; never imported here
    out["ccxt"] = getattr(ccxt, "__version__", None)
    return out


class RecordingSource(MarketSource):
    """A MarketSource that records what another one produces; the engine cannot tell them apart."""

    def __init__(self, inner: MarketSource, config, data_dir: str | Path, tick_seconds: float,
                 schema_version: int | None = None):
        """schema_version (default WRITTEN_SCHEMA) 2 writes the layout before books were kept apart."""
        schema_version = WRITTEN_SCHEMA if schema_version is None else schema_version
        if schema_version not in (2, SCHEMA_VERSION):
            raise ValueError(f"schema_version: the recorder writes 2 or {SCHEMA_VERSION} (got {schema_version!r})")
        super().__init__(inner.exchanges, inner.symbols)
        self.schema_version = schema_version
        self.inner = inner
        self.kind = inner.kind
        self.settings = config.recording
        self.keys = tuple((ex, sym) for ex in inner.exchanges for sym in inner.symbols)
        self.candles_kept = getattr(inner, "candles_kept", None) or max(
            self.settings.history_candles, config.strategies.stat_arb.lookback_candles + 1)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        folder = Path(data_dir) / "recordings" / stamp
        suffix = 2
        while folder.exists():
            folder, suffix = Path(data_dir) / "recordings" / f"{stamp}-{suffix}", suffix + 1
        self.folder = folder
        self.meta = {"schema_version": schema_version, "format": FORMAT_NAME, "created_at": iso_utc(time.time()),
                     "source_kind": inner.kind, "source_description": inner.description,
                     "exchanges": list(inner.exchanges), "symbols": list(inner.symbols),
                     "keys": [list(key) for key in self.keys], "tick_seconds": tick_seconds,
                     "candles_kept": self.candles_kept, "trades_kept": config.market.live.streams.trades_kept,
                     "versions": versions(schema_version),
                     "config": redacted(config.model_dump(mode="json"))}
        self._queue: queue.Queue = queue.Queue(maxsize=self.settings.queue_max_ticks)
        self._events: list[dict] = []
        self._notices: deque[dict] = deque(maxlen=1000)  # the recorder's own warnings (not recorded)
        self._last_candle: dict[tuple[str, str], float] = {}
        self._pending_candles: list = []
        # Live sources only: the simulator's prints cost ~15 ms a tick to read for every market
        # (measured), and a replay of it keeps its old behaviour (no trade feed).
        self.trades = TradeCapture(inner, self.keys, config.market.live.streams.trades_kept) \
            if inner.kind == "live" else None
        self._pending_trades: list = []
        self._pending_fed: list | None = None
        self._dropped: list[int] | None = None  # [first, last] tick the queue refused since the last record
        # False (real time, live): a full queue drops the tick and marks the gap, the tick never waits.
        # True (BotEngine.run_fast): the tick waits for room, up to FULL_WAIT_SECONDS.
        self.wait_when_full = False
        self._first = True
        # A simulator's books are made by the writer from the tick's quote rows (bot/market/recording_books.py).
        self._simulator_books = SimulatorBooks(inner, self.keys) if _is_simulator(inner) else None
        self.dropped_ticks = 0
        self.writer = _Writer(self, fsync=config.storage.fsync)
        self._thread = threading.Thread(target=self.writer.run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def description(self) -> str:  # noqa: D401 - the dashboard's label
        """The inner source's label, saying it is being recorded."""
        return f"{self.inner.description} (recording to {self.folder})"

    # ---- the tick path ---------------------------------------------------------------------
    def next_snapshot(self) -> Snapshot:
        """The inner source's snapshot; what it holds is queued for the writer (waits only in a fast run)."""
        snapshot = self.inner.next_snapshot()
        events = self.inner.drain_events()
        self._events.extend(events)
        try:
            item = self._capture(snapshot, events)
        except Exception as exc:  # noqa: BLE001 - the run goes on; the gap is marked
            log.exception("recorder: could not capture tick %s", snapshot.tick)
            self._drop(snapshot.tick, f"capture failed: {exc}")
            return snapshot
        try:
            if self.wait_when_full and self._thread.is_alive():
                # A run with no clock to keep (--fast): the tick waits for the writer, nothing is dropped.
                self._queue.put(item, timeout=FULL_WAIT_SECONDS)
            else:
                self._queue.put_nowait(item)
        except queue.Full:
            self._drop(snapshot.tick, "the recorder's queue is full (the writer fell behind)")
        else:
            self._pending_candles, self._dropped = [], None
            self._pending_trades, self._pending_fed = [], None
        return snapshot

    def _drop(self, tick: int, reason: str) -> None:
        self.dropped_ticks += 1
        if self._dropped is None:
            self._dropped = [tick, tick, reason]
            self.notice(f"recording: ticks from {tick} not recorded ({reason}); the recording marks the gap")
        else:
            self._dropped[1] = tick

    def _capture(self, snapshot: Snapshot, events: list[dict]) -> tuple:
        reader = snapshot.book_reader
        books = self._simulator_books.capture(reader) if self._simulator_books is not None else None
        if books is None:
            books = {}
            for key in self.keys:
                try:
                    book = reader(*key)
                except LookupError:
                    book = None
                if book is not None:
                    books[key] = book
        if snapshot.new_candle or self._first:
            self._pending_candles.extend(self._new_candles(snapshot))
        first, self._first = self._first, False
        trades, fed = self.trades.capture() if self.trades is not None else ([], None)
        self._pending_trades.extend(trades)
        if fed is not None:
            self._pending_fed = fed
        health = self.inner.health()
        gap = None if self._dropped is None else {"from_tick": self._dropped[0], "to_tick": self._dropped[1],
                                                   "reason": self._dropped[2]}
        return (snapshot.tick, snapshot.ts, snapshot.quotes, books, snapshot.stale, snapshot.markets,
                snapshot.news, snapshot.whales, snapshot.new_candle, list(self._pending_candles), events,
                health, gap, first, list(self._pending_trades), self._pending_fed)

    def _new_candles(self, snapshot: Snapshot) -> list:
        out = []
        history = snapshot.history
        for key in self.keys:
            if key not in snapshot.markets:
                continue
            last = self._last_candle.get(key)
            count = self.candles_kept if last is None else NEW_CANDLES_PEEK
            try:
                candles = history.candles(key[0], key[1], count)
                if last is not None and len(candles) == count and candles[0].ts > last:
                    candles = history.candles(key[0], key[1], self.candles_kept)
            except (LookupError, ValueError):
                continue
            fresh = [c for c in candles if last is None or c.ts > last]
            if fresh:
                self._last_candle[key] = fresh[-1].ts
                out.extend((key, c) for c in fresh)
        return out

    def notice(self, message: str) -> None:
        """A recorder warning: logged, and handed to the engine with the market's events."""
        log.warning(message)
        self._notices.append({"ts": iso_utc(time.time()), "kind": "market_warning", "level": "warning",
                              "message": message, "exchange": None})

    def drain_events(self) -> list[dict]:
        """The inner source's events of the last snapshot (recorded with it), then the recorder's own."""
        out, self._events = self._events, []
        while self._notices:
            out.append(self._notices.popleft())
        return out

    # ---- delegated ---------------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """The inner source's markets."""
        return self.inner.markets

    def seek(self, tick: int) -> None:
        """Position the inner source."""
        self.inner.seek(tick)

    def health(self) -> dict[str, dict]:
        """The inner source's health."""
        return self.inner.health()

    def scenario_status(self) -> dict | None:
        """The inner source's scenario."""
        return self.inner.scenario_status()

    def note_fill(self, exchange, symbol, side, qty, price, ts, depth_share: float = 0.0) -> None:
        """Passed to the inner source (the simulator's prices react to our fills)."""
        self.inner.note_fill(exchange, symbol, side, qty, price, ts, depth_share)

    @property
    def has_trade_feed(self) -> bool:
        """The inner source's public trades feed (resting orders fill from it)."""
        return self.inner.has_trade_feed

    def has_trade_feed_for(self, exchange: str, symbol: str) -> bool:
        """Whether the market had public trades at this tick, as recorded (bot/market/recording_trades.py)."""
        if self.trades is None:
            return self.inner.has_trade_feed_for(exchange, symbol)
        return self.trades.has_feed(exchange, symbol)

    def recent_trades(self, exchange: str, symbol: str, since_ms: int | None = None) -> list[dict]:
        """The public trades recorded up to this tick: what the replay will serve at it too (a live source's;
        other sources' trades are not recorded and come from the source)."""
        if self.trades is None:
            return self.inner.recent_trades(exchange, symbol, since_ms)
        return self.trades.recent(exchange, symbol, since_ms)

    def __getattr__(self, name):
        # ccxt-shaped reads (fetch_ticker, load_markets...) and the simulator's extras.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def status(self) -> dict:
        """What the recorder did so far: folder, records, bytes, dropped ticks, failed writes."""
        return {"folder": str(self.folder), "records": self.writer.records, "bytes": self.writer.bytes_written,
                "dropped_ticks": self.dropped_ticks, "failed_writes": self.writer.failed_writes,
                "last_error": self.writer.last_error}

    def close(self) -> None:
        """Flush what is queued, close the segment and the index, then close the inner source."""
        try:
            if self._thread.is_alive():
                self._queue.put(_STOP, timeout=30)
                self._thread.join(60)
        finally:
            self.inner.close()


def _is_simulator(source: MarketSource) -> bool:
    simulator = sys.modules.get("bot.market.simulator")  # never imported here: a simulator has imported it
    return simulator is not None and isinstance(source, simulator.SimulatedMarket)


class _Writer:
    """The background side: encode, frame, append, rotate, index. Failures are contained here."""

    def __init__(self, source: RecordingSource, fsync: bool):
        self.source = source
        self.settings = source.settings
        self.fsync = fsync
        self.encoder = SnapshotEncoder(source.keys, source.candles_kept)
        if source.trades is not None:
            self.encoder.trades = TradeTapes(source.keys, source.trades.kept)
        self.compressor = zstandard.ZstdCompressor(level=self.settings.compression_level)
        self.packer = msgpack.Packer(default=pack_default)
        self.builder = FrameBuilder(len(source.keys)) if source.schema_version >= 3 else None
        self.segment: SegmentAppender | None = None
        self.segment_number = 0
        self.segments: list[dict] = []  # the index's entries, oldest first
        self.deleted: list[dict] = []
        self.gaps: list[dict] = []
        self.records = 0
        self.bytes_written = 0
        self.failed_writes = 0
        self.last_error: str | None = None
        self._buffer: list[bytes] = []
        self._buffer_bytes = 0
        self._buffer_ticks: list[tuple[int, float]] = []  # (first tick, ts), (last tick, ts) of the buffer
        self._lost: dict | None = None  # ticks a failed frame lost, for the next keyframe
        self._keyframe = True
        self._meta_written = False

    def run(self) -> None:
        """Take items until told to stop; flush at least every flush_seconds. Never dies on a fault."""
        try:
            self._run()
        except Exception:  # noqa: BLE001 - the run goes on without its recording, and says so
            log.exception("recorder: the writer stopped")
            self.source.notice(f"recording: the writer stopped on an error; {self.source.folder} ends here")

    def _run(self) -> None:
        last_flush = time.monotonic()
        while True:
            try:
                item = self.source._queue.get(timeout=self.settings.flush_seconds)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._flush()
                self._close_segment()
                return
            if item is not None:
                try:
                    self._add(item)
                except Exception:  # noqa: BLE001 - a record that cannot be encoded is a gap, not a dead writer
                    log.exception("recorder: could not encode tick %s", item[0])
                    self._lose(item[0], item[1], "encoding failed")
            if self._buffer and (self._buffer_bytes >= self.settings.frame_max_bytes
                                 or time.monotonic() - last_flush >= self.settings.flush_seconds):
                self._flush()
                last_flush = time.monotonic()

    def _add(self, item: tuple) -> None:
        gap = item[12]
        if self._lost is not None:
            lost, self._lost = self._lost, None
            gap = lost if gap is None else {"from_tick": min(lost["from_tick"], gap["from_tick"]),
                                            "to_tick": max(lost["to_tick"], gap["to_tick"]),
                                            "reason": f"{lost['reason']}; {gap['reason']}"}
        if gap is not None:
            self.gaps.append(gap)
        if type(item[3]) is TickBookArrays:
            item = (*item[:3], item[3].packed_books(), *item[4:])
        record = self.encoder.encode(item, keyframe=self._keyframe, gap=gap)
        if self.builder is not None:
            self._buffer_bytes += self.builder.add(record, self.packer, self._keyframe)
            self._buffer.append(b"")  # the builder holds the record
        else:
            data = self.packer.pack(record)
            self._buffer.append(data)
            self._buffer_bytes += len(data)
        self._keyframe = False
        if not self._buffer_ticks:
            self._buffer_ticks.append((item[0], item[1]))
        self._buffer_ticks[1:] = [(item[0], item[1])]

    def _lose(self, tick: int, ts: float, reason: str) -> None:
        if self._lost is None:
            self._lost = {"from_tick": tick, "to_tick": tick, "reason": reason}
        else:
            self._lost["from_tick"] = min(self._lost["from_tick"], tick)
            self._lost["to_tick"] = max(self._lost["to_tick"], tick)
        self._keyframe = True  # the encoder's state is ahead of what is on disk: start over whole

    def _flush(self) -> None:
        if not self._buffer:
            return
        records, count = b"".join(self._buffer), len(self._buffer)
        (first_tick, first_ts), (last_tick, last_ts) = self._buffer_ticks[0], self._buffer_ticks[-1]
        self._buffer, self._buffer_bytes, self._buffer_ticks = [], 0, []
        try:
            if not self._meta_written:
                write_recording_document(self.source.folder / META_FILE, self.source.meta, fsync=self.fsync)
                self._meta_written = True
            if self.segment is None:
                self.segment_number += 1
                self.segment = SegmentAppender(self.source.folder / segment_name(self.segment_number), self.fsync)
                self.segments.append({"file": segment_name(self.segment_number), "first_tick": first_tick,
                                      "first_ts": first_ts, "records": 0, "bytes": 0})
            if self.builder is not None:
                frame = frame_of(self.builder.payload(self.compressor, self.packer))
            else:
                frame = encode_frame(records, self.compressor)
            self.segment.append(frame)
        except (StorageError, OSError) as exc:
            self.failed_writes += 1
            if self.last_error is None or self.failed_writes == 1:
                self.source.notice(f"recording: writing {self.source.folder} failed ({exc}); ticks {first_tick}-"
                                   f"{last_tick} are lost, the run goes on and the recording marks the gap")
            self.last_error = str(exc)
            self._lose(first_tick, first_ts, f"disk: {exc}")
            self._lost["to_tick"] = max(self._lost["to_tick"], last_tick)
            return
        if self.last_error is not None:
            self.source.notice(f"recording: writing {self.source.folder} works again (was: {self.last_error})")
            self.last_error = None
        self.records += count
        self.bytes_written += len(frame)
        entry = self.segments[-1]
        entry.update(last_tick=last_tick, last_ts=last_ts, records=entry["records"] + count, bytes=self.segment.size)
        if self.segment.size >= self.settings.segment_max_bytes:
            self._close_segment()
        self._rotate()
        self._write_index()

    def _close_segment(self) -> None:
        if self.segment is not None:
            self.segment.close()
            self.segment = None
            self._keyframe = True  # every segment starts whole
        self._write_index()

    def _rotate(self) -> None:
        limit = self.settings.max_total_bytes
        while limit and len(self.segments) > 1 and sum(s["bytes"] for s in self.segments) > limit:
            oldest = self.segments[0]
            try:
                delete_segment(self.source.folder / oldest["file"])
            except StorageError as exc:
                log.error("recorder: %s", exc)
                return
            self.deleted.append(self.segments.pop(0))
            log.info("recorder: %s deleted (recording.max_total_bytes %d)", oldest["file"], limit)

    def _write_index(self) -> None:
        if not self._meta_written:
            return
        document = {"schema_version": self.source.schema_version, "segments": self.segments, "deleted": self.deleted,
                    "gaps": self.gaps, "records": self.records, "dropped_ticks": self.source.dropped_ticks,
                    "failed_writes": self.failed_writes}
        try:
            write_recording_document(self.source.folder / INDEX_FILE, document, fsync=self.fsync)
        except StorageError as exc:
            log.error("recorder: %s", exc)  # the segments are the truth; the index is rewritten next frame
