"""--market replay --recording DIR: a recording (bot/market/recorder.py) fed through the same engine.

Records are read one frame at a time (memory stays flat in the recording's length; a look-ahead
keeps the frames it looked at) and turned back into the snapshots the recorded run saw: the same ticks, market times, quotes in the same
order, books (decoded only when read), stale markets, markets with their fees, closed candles,
news, whales, the source's events and health. Nothing is invented: a gap (the recorder fell
behind or its disk failed, ticks missing, market time jumping more than recording.gap_ticks
ticks) is reported as a market warning and named in the description, and the replay goes on
from the next record. At the end, next_snapshot() raises SourceExhausted and the engine stops.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import fields
from pathlib import Path

from bot.config_recording import RecordingConfig
from bot.market.base import MarketSource, SourceExhausted
from bot.market.live_parsing import LiveHistory
from bot.market.recording_codec import BookBlob, candle_of, market_of, news_of, whale_of
from bot.market.recording_columns import LazyBookBlob
from bot.market.recording_format import RecordingInfo, open_recording
from bot.market.recording_trades import TRADES_KEPT, ReplayTrades
from bot.market.replay_candles import CandleTape
from bot.market.replay_ahead import lookahead_of
from bot.market.replay_frames import Frame, FramePrefetcher, LightBlock, last_record, light_block
from bot.models import NOTHING_STALE, Market, OrderBook, Quote, Snapshot, fast_constructor, new_snapshot
from bot.lookahead import Lookahead
from bot.timestamps import iso_utc

log = logging.getLogger(__name__)

_QUOTE_FIELDS = ("exchange", "symbol", "bid", "ask", "last", "bid_size", "ask_size", "ts", "change_24h_pct")


def _slow_quote_makers():
    make = fast_constructor(Quote, _QUOTE_FIELDS)
    return make, lambda exchanges, symbols, rows: [make(e, s, *v) for e, s, v in zip(exchanges, symbols, rows)]


def _quote_makers():
    """(make, make_many): Quote(exchange, symbol, bid, ask, last, bid_size, ask_size, ts, change_24h_pct), and a
    list of them from (exchanges, symbols, rows of the 7 values), at about half the cost of Quote's slot setters
    (most of a replayed tick is making its 18 quotes): a plain __init__ of a class with Quote's very slots
    stores the fields, then the object's class becomes Quote (the same layout, so Python allows it).
    Checked against Quote(...) here; the slot setters if anything differs."""
    names = tuple(f.name for f in fields(Quote))
    if names != (*_QUOTE_FIELDS, "received") or Quote.__slots__ != names:
        return _slow_quote_makers()
    received = fields(Quote)[-1].default

    class _Unfrozen:
        __slots__ = names

        def __init__(self, exchange, symbol, bid, ask, last, bid_size, ask_size, ts, change_24h_pct):
            self.exchange, self.symbol, self.bid, self.ask, self.last = exchange, symbol, bid, ask, last
            self.bid_size, self.ask_size, self.ts, self.change_24h_pct = bid_size, ask_size, ts, change_24h_pct
            self.received = received

    def make(*values):
        quote = _Unfrozen(*values)
        quote.__class__ = Quote
        return quote

    def make_many(exchanges, symbols, rows):
        quotes = [_Unfrozen(e, s, *v) for e, s, v in zip(exchanges, symbols, rows)]
        for quote in quotes:
            quote.__class__ = Quote
        return quotes

    try:
        probe = ("x", "X/Y", 1.0, 2.0, 1.5, 3.0, 4.0, 5.0, -0.0)
        made = make(*probe), make_many(probe[:1], probe[1:2], [probe[2:]])[0]
        if all(type(q) is Quote and q == Quote(*probe) and hash(q) == hash(Quote(*probe)) for q in made):
            return make, make_many
    except TypeError:
        pass
    return _slow_quote_makers()


_new_quote, _new_quotes = _quote_makers()


def _books_after(books: dict, updates, keys: tuple) -> dict:
    """A new {market: (blob, position)} from `books` and the updates [(blob, market numbers)] after it."""
    books = dict(books)
    for blob, ids in updates:
        for position, i in enumerate(ids):
            books[keys[i]] = (blob, position)
    return books


class ReplayBooks:
    """The book reader of one replayed tick: where each book is worked out, and the book decoded, on first read."""

    __slots__ = ("_base", "_updates", "_keys", "_where", "_cache")

    def __init__(self, where: dict, updates: tuple = (), keys: tuple = ()):
        self._base, self._updates, self._keys = where, updates, keys
        self._where: dict | None = None if updates else where
        self._cache: dict = {}

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        key = (exchange, symbol)
        book = self._cache.get(key)
        if book is None:
            if self._where is None:
                self._where = _books_after(self._base, self._updates, self._keys)
            where = self._where.get(key)
            if where is None:
                return None
            book = self._cache[key] = where[0].book(where[1], exchange, symbol)
        return book


class ReplayMarket(MarketSource):
    """The snapshots of a recording, in order; kind "replay"."""

    kind = "replay"
    lookahead_max = 1024  # ticks looked at ahead at most (their frames stay decoded until consumed)

    def __init__(self, info: RecordingInfo | str | Path, settings: RecordingConfig | None = None, runner=None):
        """runner (with submit(fn, *args) -> future) decompresses the next frame ahead; None: a worker thread."""
        info = info if isinstance(info, RecordingInfo) else open_recording(info)
        meta = info.meta
        super().__init__(tuple(meta["exchanges"]), tuple(meta["symbols"]))
        self.info = info
        self.settings = settings or RecordingConfig()
        self.keys = tuple(tuple(key) for key in meta["keys"])
        self.schema = int(meta["schema_version"])
        self._exchange_of = tuple(key[0] for key in self.keys)
        self._symbol_of = tuple(key[1] for key in self.keys)
        self.tick_seconds = float(meta.get("tick_seconds") or 1.0)
        self.candles_kept = int(meta.get("candles_kept") or 1500)
        self.gaps: list[dict] = []
        self._events: list[dict] = []
        self._quotes: dict[int, Quote] = {}
        self._rows: dict[int, tuple | list] = {}  # schema 3: _set_by read out, made into Quotes by the next snapshot
        # Schema 3: the ticks whose column rows set quotes since the last snapshot, [(frame, row, markets)] in
        # order (a tick that sets every quote replaces the list); turned into values only for a snapshot.
        self._set_by: list[tuple] = []
        self._order: tuple[int, ...] = ()
        self._natural_order = False  # the order is every market, in key order
        self._books: dict[tuple[str, str], tuple[BookBlob, int]] = {}  # never changed once a snapshot holds it
        self._book_updates: list[tuple] = []  # [(blob, market numbers)] since _books, applied only when read
        self._stale: frozenset = NOTHING_STALE
        self._markets: dict[tuple[str, str], Market] = {}
        self._history: LiveHistory | None = None
        self._tapes: dict[tuple[str, str], CandleTape] = {}
        self._health: dict = {}
        self._previous: tuple[int, float] | None = None
        self._trades = ReplayTrades(self.keys, int(meta.get("trades_kept") or TRADES_KEPT))
        self._frames = FramePrefetcher(info.segments, runner, self.schema)
        self._reader = self._frames.frames()
        self._window: deque[Frame] = deque()  # decoded frames from the cursor on; the cursor is row _row of the first
        self._row = 0
        self._read_error: BaseException | None = None  # met by a look-ahead; raised when the cursor gets there
        if not self._fill(1):
            self.close()
            if self._read_error is not None:
                raise self._read_error
            raise SourceExhausted(f"{info.path}: no records")
        first = self._window[0].records[0]
        self.first_tick, self.first_ts = first["t"], first["ts"]
        last = last_record(info.segments[-1], self.schema)
        self.last_tick, self.last_ts = last["t"], last["ts"]
        self._apply(self._window[0], 0, report=False)
        self._first_applied = True  # the cursor's record is applied; the first next_snapshot() returns it
        for warning in info.warnings:
            log.warning("replay: %s", warning)
            self._warn(warning, self.first_ts)

    # ---- the cursor -------------------------------------------------------------------------
    def _fill(self, count: int) -> int:
        """Decode frames until `count` records from the cursor on are held (fewer at the end); how many are."""
        held = sum(len(frame.records) for frame in self._window) - self._row
        while held < count and self._read_error is None and not (self._window and self._window[-1].error):
            try:
                frame = next(self._reader, None)
            except Exception as exc:  # noqa: BLE001 - raised when the cursor reaches it, as the plain reader would
                self._read_error = exc
                break
            if frame is None:
                break
            self._window.append(frame)
            held += len(frame.records)
        return held

    def _step(self) -> None:
        """Move the cursor past its record (raising, as the plain reader does, an error met right after it)."""
        self._row += 1
        window = self._window
        while window and self._row >= len(window[0].records):
            if window[0].error is not None:
                raise window[0].error
            window.popleft()
            self._row = 0
            if not window and not self._fill(1) and self._read_error is not None:
                error, self._read_error = self._read_error, None
                raise error

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

    def _apply(self, frame: Frame, position: int, report: bool = True) -> None:
        record = frame.records[position]
        keys = self.keys
        if report and self._previous is not None:
            self._gap(record)
        self._previous = (record["t"], record["ts"])
        keyframe = "k" in record
        if keyframe:
            self._quotes, self._books, self._rows, self._set_by, self._book_updates = {}, {}, {}, [], []
        if frame.new is not None:
            ids = frame.new_ids(position)
            if ids is frame.every:
                self._set_by = [(frame, position, ids)]
            elif ids:
                self._set_by.append((frame, position, ids))
                if len(self._set_by) > 256:  # a long look-ahead skip: keep the list short
                    self._values_set()
            for row in record.get("q", ()):  # values that are not floats, kept as recorded
                self._set_by.append((None, row[0], row[1:]))
        else:  # schema 1, 2: quote rows in the records, made into Quotes here as they always were
            quotes, exchange_of, symbol_of = self._quotes, self._exchange_of, self._symbol_of
            for row in record.get("q", ()):
                i = row[0]
                quotes[i] = _new_quote(exchange_of[i], symbol_of[i], row[1], row[2], row[3], row[4], row[5], row[6],
                                       row[7])
        if "o" in record:
            self._order = record["o"]
            self._natural_order = self._order == tuple(range(len(keys)))
        if "bk" in record:
            blob = BookBlob(record["bp"]) if frame.books is None else LazyBookBlob(frame.books, position)
            ids = record["bk"]
            if len(ids) == len(keys):  # every market's book: those before do not matter
                self._books, self._book_updates = {}, [(blob, ids)]
            else:
                self._book_updates.append((blob, ids))
                if len(self._book_updates) > 64:
                    self._books, self._book_updates = _books_after(self._books, self._book_updates, keys), []
        if "bx" in record:
            books = self._books = _books_after(self._books, self._book_updates, keys)
            self._book_updates = []
            for i in record["bx"]:
                books.pop(keys[i], None)
        if "s" in record:
            self._stale = frozenset(keys[i] for i in record["s"]) if record["s"] else NOTHING_STALE
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

    def _values_set(self) -> dict:
        """The quote values set since the last snapshot, by market (schema 3's rows read from the columns)."""
        rows = self._rows
        for frame, position, ids in self._set_by:
            if frame is None:
                rows[position] = ids
            else:
                values = frame.values[position].tolist()
                for i in ids:
                    rows[i] = values[i]
        self._set_by = []
        return rows

    def _add_candles(self, rows, reset: bool) -> None:
        if reset:
            self._tapes = {}
        added: dict[int, list] = {}
        for row in rows:
            added.setdefault(row[0], []).append(candle_of(row))
        for i, candles in added.items():
            key = self.keys[i]
            tape = self._tapes.get(key)
            if tape is None:
                tape = self._tapes[key] = CandleTape(self.candles_kept)
            tape.extend(candles)
        self._history = None

    # ---- MarketSource ------------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """The markets as recorded at the current tick (a new dict when they changed)."""
        return self._markets

    def next_snapshot(self) -> Snapshot:
        """The next recorded snapshot; SourceExhausted after the last."""
        record = self._current_record()
        keys, quotes, snapshot_quotes = self.keys, self._quotes, None
        if self._set_by or self._rows:
            exchange_of, symbol_of = self._exchange_of, self._symbol_of
            set_by = self._set_by
            if len(set_by) == 1 and set_by[0][0] is not None and set_by[0][2] is set_by[0][0].every \
                    and not self._rows:  # the usual tick
                frame, position, _ids = set_by[0]
                made = _new_quotes(exchange_of, symbol_of, frame.values[position].tolist())
                self._quotes = quotes = dict(enumerate(made))
                if self._natural_order:
                    snapshot_quotes = dict(zip(keys, made))
                self._set_by = []
            else:
                for i, v in self._values_set().items():
                    quotes[i] = _new_quote(exchange_of[i], symbol_of[i], *v)
                self._rows = {}
        if self._history is None:
            self._history = LiveHistory({key: tape.view() for key, tape in self._tapes.items()}, self._markets)
        news = tuple(news_of(row) for row in record["n"]) if "n" in record else ()
        whales = tuple(whale_of(row) for row in record["w"]) if "w" in record else ()
        return new_snapshot(record["t"], record["ts"], self.exchanges, self.symbols,
                            snapshot_quotes or {keys[i]: quotes[i] for i in self._order}, self._markets,
                            self._history,
                            ReplayBooks(self._books, tuple(self._book_updates), keys), news, whales,
                            "nc" in record, self._stale)

    def _current_record(self, report: bool = True) -> dict:
        """The record at the cursor, applied (the first one was applied at open); the cursor moves past it."""
        if not self._window:
            raise SourceExhausted(f"the recording {self.info.path} ended at tick {self.last_tick} "
                                  f"({iso_utc(self.last_ts)})")
        frame, position = self._window[0], self._row
        if self._first_applied:
            self._first_applied = False
        else:
            self._apply(frame, position, report)
        self._step()
        return frame.records[position]

    def light_block(self, count: int) -> LightBlock:
        """What the next `count` snapshots hold that a look-ahead needs (docs/LOOKAHEAD_API.md); consumes nothing."""
        if count < 0:
            raise ValueError(f"count must be >= 0 (got {count})")
        held = min(self._fill(count), count)
        spans, start = [], self._row
        for frame in self._window:
            if held <= 0:
                break
            stop = min(len(frame.records), start + held)
            spans.append((frame, start, stop))
            held -= stop - start
            start = 0
        current = {i: (quote.bid, quote.ask) for i, quote in self._quotes.items()}  # schema 1, 2 (3: its columns)
        return light_block(spans, self.keys, self._order, None if self._first_applied else self._previous,
                           self.settings.gap_ticks * self.tick_seconds, current)

    def skip(self, count: int) -> None:
        """Consume the next `count` snapshots without building them (docs/LOOKAHEAD_API.md): their changes are applied,
        their gaps reported and their events kept for the next drain_events()."""
        if count < 0:
            raise ValueError(f"count must be >= 0 (got {count})")
        held = self._fill(count)
        if held < count:
            raise ValueError(f"skip({count}): only {held} snapshots are left in the recording")
        for _ in range(count):
            self._current_record()

    def lookahead(self, room: int) -> Lookahead:
        """The next ticks (at most room) as arrays without moving (bot/fast_forward.py), cut before the
        first a screen cannot judge (bot/market/replay_ahead.py); empty before the first snapshot."""
        if self._first_applied:
            return lookahead_of(self, None)
        return lookahead_of(self, self.light_block(room))

    def seek(self, tick: int) -> None:
        """Skip records before `tick` (applying what they changed); the next snapshot is the first at or after it."""
        if tick < 0:
            raise ValueError(f"tick must be >= 0 (got {tick})")
        while self._window and self._window[0].records[self._row]["t"] < tick:
            self._current_record(report=False)
        # What the skipped ticks' source said was told in the run that played them; the replay's own warnings stay.
        self._events = [event for event in self._events if event.get("source") == "replay"]

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
        self._reader.close()
        self._frames.close()
