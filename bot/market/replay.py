"""--market replay --recording DIR: a recording (bot/market/recorder.py) fed through the same engine.

Records are read one frame at a time (memory stays flat in the recording's length) and turned
back into the snapshots the recorded run saw: the same ticks, market times, quotes in the same
order, books (decoded only when read), stale markets, markets with their fees, closed candles,
news, whales, the source's events and health. Nothing is invented: a gap (the recorder fell
behind or its disk failed, ticks missing, market time jumping more than recording.gap_ticks
ticks) is reported as a market warning and named in the description, and the replay goes on
from the next record. At the end, next_snapshot() raises SourceExhausted and the engine stops.
"""
from __future__ import annotations

import logging
from pathlib import Path
from collections import deque
from itertools import islice
from typing import Iterator

import numpy as np

from bot.config_recording import RecordingConfig
from bot.market.base import MarketSource, SourceExhausted
from bot.market.live_parsing import CandleSeries, LiveHistory
from bot.market.recording_codec import BookBlob, candle_of, market_of, news_of, whale_of
from bot.market.recording_format import RecordingInfo, last_record, open_recording
from bot.market.recording_trades import TRADES_KEPT, ReplayTrades
from bot.market.replay_ahead import apply_many, lookahead_of
from bot.market.replay_frames import FramePrefetcher
from bot.market.simulator import _fast_constructor
from bot.models import Lookahead, Market, OrderBook, Quote, Snapshot, iso_utc

log = logging.getLogger(__name__)

_new_quote = _fast_constructor(
    Quote, ("exchange", "symbol", "bid", "ask", "last", "bid_size", "ask_size", "ts", "change_24h_pct"))
_new_snapshot = _fast_constructor(
    Snapshot, ("tick", "ts", "exchanges", "symbols", "quotes", "markets", "history", "book_reader",
               "news", "whales", "new_candle", "stale"))
_NOTHING: frozenset = frozenset()


class ReplayBooks:
    """The book reader of one replayed tick: each book decoded on its first read."""

    __slots__ = ("_where", "_cache")

    def __init__(self, where: dict):
        self._where = where
        self._cache: dict = {}

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        key = (exchange, symbol)
        book = self._cache.get(key)
        if book is None:
            where = self._where.get(key)
            if where is None:
                return None
            book = self._cache[key] = where[0].book(where[1], exchange, symbol)
        return book


class ReplayMarket(MarketSource):
    """The snapshots of a recording, in order; kind "replay"."""

    kind = "replay"
    lookahead_max = 1024  # records read ahead at most (each holds its books: memory, not speed, sets this)

    def __init__(self, info: RecordingInfo | str | Path, settings: RecordingConfig | None = None, runner=None):
        """runner (with submit(fn, *args) -> future) decompresses the next frame ahead; None: a worker thread."""
        info = info if isinstance(info, RecordingInfo) else open_recording(info)
        meta = info.meta
        super().__init__(tuple(meta["exchanges"]), tuple(meta["symbols"]))
        self.info = info
        self.settings = settings or RecordingConfig()
        self.keys = tuple(tuple(key) for key in meta["keys"])
        self.tick_seconds = float(meta.get("tick_seconds") or 1.0)
        self.candles_kept = int(meta.get("candles_kept") or 1500)
        self.gaps: list[dict] = []
        self._events: list[dict] = []
        self._quotes: dict[int, Quote] = {}
        self._order: tuple[int, ...] = ()
        self._books: dict[tuple[str, str], tuple[BookBlob, int]] = {}
        self._stale: frozenset = _NOTHING
        self._markets: dict[tuple[str, str], Market] = {}
        self._history: LiveHistory | None = None
        self._series: dict[tuple[str, str], CandleSeries] = {}
        self._health: dict = {}
        self._previous: tuple[int, float] | None = None
        self._trades = ReplayTrades(self.keys, int(meta.get("trades_kept") or TRADES_KEPT))
        self._frames = FramePrefetcher(info.segments, runner)
        self._ahead: deque[dict] = deque()  # records read by lookahead() after _pending, not yet applied
        self._records = self._all_records()
        first = next(self._records, None)
        if first is None:
            self._frames.close()
            raise SourceExhausted(f"{info.path}: no records")
        self.first_tick, self.first_ts = first["t"], first["ts"]
        last = last_record(info.segments[-1])
        self.last_tick, self.last_ts = last["t"], last["ts"]
        self._apply(first, report=False)
        self._first_unread: dict | None = first  # applied; the first next_snapshot() returns it
        self._pending = next(self._records, None)
        for warning in info.warnings:
            log.warning("replay: %s", warning)
            self._warn(warning, self.first_ts)

    def _all_records(self) -> Iterator[dict]:
        return self._frames.records()

    def _advance_pending(self) -> None:
        self._pending = self._ahead.popleft() if self._ahead else next(self._records, None)

    @property
    def description(self) -> str:  # noqa: D401 - the dashboard's label
        """What is replayed and its time range, with the gaps found so far."""
        meta = self.info.meta
        gaps = f"; {len(self.gaps)} gap{'s' if len(self.gaps) != 1 else ''} (not bridged)" if self.gaps else ""
        return (f"Replay of {self.info.path.name} ({meta.get('source_kind', '?')} market: "
                f"{', '.join(self.exchanges)}) from {iso_utc(self.first_ts)} to {iso_utc(self.last_ts)}"
                f"{gaps} - paper trading")

    # ---- applying records --------------------------------------------------------------------
    def _warn(self, message: str, ts: float) -> None:
        self._events.append({"ts": iso_utc(ts), "kind": "market_warning", "level": "warning",
                             "message": message, "exchange": None, "source": "replay"})

    def _gap(self, record: dict) -> None:
        tick, ts = record["t"], record["ts"]
        previous_tick, previous_ts = self._previous
        gap = record.get("g")
        if gap is not None:
            reason = f"not recorded: {gap.get('reason')}"
        elif tick != previous_tick + 1:
            reason = f"ticks {previous_tick + 1}-{tick - 1} missing"
        elif ts - previous_ts > self.settings.gap_ticks * self.tick_seconds:
            reason = f"market time jumps {ts - previous_ts:.1f}s (more than {self.settings.gap_ticks} ticks)"
        else:
            return
        entry = {"after_tick": previous_tick, "before_tick": tick, "from": iso_utc(previous_ts), "to": iso_utc(ts),
                 "reason": reason}
        self.gaps.append(entry)
        message = (f"replay: gap in the recording between {entry['from']} and {entry['to']} "
                   f"(tick {previous_tick} -> {tick}; {reason}); nothing is invented for it")
        log.warning(message)
        self._warn(message, ts)

    def _apply(self, record: dict, report: bool = True) -> None:
        keys = self.keys
        if report and self._previous is not None:
            self._gap(record)
        self._previous = (record["t"], record["ts"])
        keyframe = "k" in record
        if keyframe:
            self._quotes, self._books = {}, {}
        quotes = self._quotes
        for row in record.get("q", ()):
            key = keys[row[0]]
            quotes[row[0]] = _new_quote(key[0], key[1], row[1], row[2], row[3], row[4], row[5], row[6], row[7])
        if "o" in record:
            self._order = record["o"]
        if "bk" in record:
            blob = BookBlob(record["bp"])
            books = self._books
            for position, i in enumerate(record["bk"]):
                books[keys[i]] = (blob, position)
        for i in record.get("bx", ()):
            self._books.pop(keys[i], None)
        if "s" in record:
            self._stale = frozenset(keys[i] for i in record["s"]) if record["s"] else _NOTHING
        if "m" in record:
            self._markets = {keys[row[0]]: market_of(keys[row[0]], row) for row in record["m"]}
            self._history = None
        if "c" in record:
            self._add_candles(record["c"], "cr" in record)
        if "h" in record:
            self._health = record["h"]
        for event in record.get("e", ()):
            self._events.append(dict(event))
        if "tf" in record or "tr" in record:
            self._trades.apply(record)

    def _add_candles(self, rows, reset: bool) -> None:
        if reset:
            self._series = {}
        added: dict[tuple[str, str], list] = {}
        for row in rows:
            added.setdefault(self.keys[row[0]], []).append(candle_of(row))
        kept = self.candles_kept
        for key, candles in added.items():
            old = self._series.get(key)
            merged = ((old.candles if old is not None else ()) + tuple(candles))[-kept:]
            if old is not None and len(candles) < kept:  # the closes so far, shifted: no Python loop over the history
                closes = np.concatenate((old.closes, np.fromiter((c.close for c in candles), dtype=float,
                                                                  count=len(candles))))[-kept:]
            else:
                closes = np.fromiter((c.close for c in merged), dtype=float, count=len(merged))
            closes.setflags(write=False)
            self._series[key] = CandleSeries(merged, closes)
        self._history = None

    # ---- MarketSource ------------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """The markets as recorded at the current tick (a new dict when they changed)."""
        return self._markets

    def next_snapshot(self) -> Snapshot:
        """The next recorded snapshot; SourceExhausted after the last."""
        record = self._current_record()
        keys, quotes = self.keys, self._quotes
        if self._history is None:
            self._history = LiveHistory(dict(self._series), self._markets)
        news = tuple(news_of(row) for row in record["n"]) if "n" in record else ()
        whales = tuple(whale_of(row) for row in record["w"]) if "w" in record else ()
        return _new_snapshot(record["t"], record["ts"], self.exchanges, self.symbols,
                             {keys[i]: quotes[i] for i in self._order}, self._markets, self._history,
                             ReplayBooks(dict(self._books)), news, whales, "nc" in record, self._stale)

    def _current_record(self) -> dict:
        """The record of the next snapshot, applied (the first one was applied at open)."""
        if self._first_unread is not None:
            record, self._first_unread = self._first_unread, None
            return record
        record = self._pending
        if record is None:
            raise SourceExhausted(f"the recording {self.info.path} ended at tick {self.last_tick} "
                                  f"({iso_utc(self.last_ts)})")
        self._apply(record)
        self._advance_pending()
        return record

    def seek(self, tick: int) -> None:
        """Skip records before `tick` (applying what they changed); the next snapshot is the first at or after it."""
        if tick < 0:
            raise ValueError(f"tick must be >= 0 (got {tick})")
        if self._first_unread is not None:
            if self._first_unread["t"] >= tick:
                return
            self._first_unread = None
        skipped = []
        while self._pending is not None and self._pending["t"] < tick:
            skipped.append(self._pending)
            self._advance_pending()
        apply_many(self, skipped)  # as _apply(record, report=False) one by one
        # What the skipped ticks' source said was told in the run that played them; the replay's own warnings stay.
        self._events = [event for event in self._events if event.get("source") == "replay"]

    def lookahead(self, room: int) -> Lookahead:
        """The next ticks (at most room) as arrays without moving, cut before the first tick a
        screen cannot judge (bot/market/replay_ahead.py); empty before the first snapshot."""
        records: list[dict] = []
        if self._first_unread is None and self._pending is not None:
            records.append(self._pending)
            ahead = self._ahead
            while len(ahead) < room - 1:
                record = next(self._records, None)
                if record is None:
                    break
                ahead.append(record)
            records.extend(islice(ahead, room - 1))
        return lookahead_of(self, records)

    @property
    def has_trade_feed(self) -> bool:
        """True when the recording holds public trades (schema version 2, a source with a trade feed)."""
        return bool(self._trades.fed)

    def has_trade_feed_for(self, exchange: str, symbol: str) -> bool:
        """Whether the market had public trades at this tick, as recorded."""
        return self._trades.has_feed(exchange, symbol)

    def recent_trades(self, exchange: str, symbol: str, since_ms: int | None = None) -> list[dict]:
        """The public trades recorded up to this tick, oldest first, at or after since_ms (as the recorded run saw)."""
        return self._trades.recent(exchange, symbol, since_ms)

    def health(self) -> dict[str, dict]:
        """Each exchange's health as recorded at the current tick."""
        return {ex: dict(value) for ex, value in self._health.items()} if self._health else super().health()

    def drain_events(self) -> list[dict]:
        """The recorded source's events at this tick, then the replay's own warnings (gaps)."""
        out, self._events = self._events, []
        return out

    def status(self) -> dict:
        """What is replayed: folder, time range, gaps."""
        return {"recording": str(self.info.path), "from": iso_utc(self.first_ts), "to": iso_utc(self.last_ts),
                "first_tick": self.first_tick, "last_tick": self.last_tick, "gaps": list(self.gaps)}

    def close(self) -> None:
        """Stop reading (the open segment file is closed with its generator) and the frame worker."""
        self._records.close()
        self._frames.close()
