"""LiveMarket: the live MarketSource, assembling snapshots from one ExchangeFeed per exchange.

No ccxt here (bot/market/live.py holds everything that talks to it): this module starts the
feeds, holds what they hand over (it is their FeedSink, bot/market/live_sink.py), decides what
is stale, reports exchange state changes and answers the read API. next_snapshot() only
assembles what the feeds delivered: it never waits on the network. Data that is old, crossed,
or from an exchange whose breaker is open is marked stale and left out of the snapshot's
quotes, never guessed at.

Status changes (live -> degraded -> down -> recovering -> live) and warnings (a symbol missing
or dropped) go to the `events` deque, which the engine drains every tick. They are recorded by
whichever thread notices (a worker, or next_snapshot()/health() when data ages out while a
worker waits on the network), never while the data lock is held; the tick path never waits
for another thread's report.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable, Mapping

import numpy as np

from bot.config import MarketConfig
from bot.market.base import MarketSource
from bot.market.live import ExchangeFeed, MarketConfigError, make_client
from bot.market.live_stream import StreamFeed, streams_supported
from bot.market.live_streamed import StreamedState
from bot.market.live_parsing import BookReader, CandleSeries, LiveHistory
from bot.market.news_feed import NewsFeedReader
from bot.market.resilience import MarketUnavailableError, PermanentMarketError
from bot.models import Candle, Market, OrderBook, Quote, Snapshot
from bot.timestamps import iso_utc

log = logging.getLogger(__name__)

CANDLES_KEPT_MIN = 1_500  # closed candles kept per market, at least (more if candle_backfill asks)
LOAD_WAIT_SECONDS = 120.0  # at start, for every exchange to load its markets or fail
FIRST_DATA_WAIT_SECONDS = 20.0  # then for every exchange's first poll
EVENTS_KEPT = 1_000  # undrained events kept; older ones are dropped
STREAM_WAIT_SECONDS = 10.0  # at start, for the streams' first books (REST serves meanwhile)
# An exchange's state as health() reports it, and the notification level of a change to it.
HEALTH_OF = {"live": "live", "degraded": "degraded", "down": "down", "recovering": "down"}
LEVEL_OF = {"live": "success", "degraded": "warning", "down": "error", "recovering": "info"}


def _age(item: Quote | OrderBook, now: float) -> float:
    """Seconds since the older of the exchange's timestamp and our receive time."""
    return now - (min(item.ts, item.received) if item.received else item.ts)


# ---- the source --------------------------------------------------------------------------------
class LiveMarket(StreamedState, MarketSource):
    """Public market data of real exchanges through ccxt; paper trading only (no keys, no orders).

    Events are dicts appended to self.events (drain them with drain_events()): "market_status"
    (an exchange changed state) and "market_warning" (a symbol missing or dropped), with level
    and message for notifications.
    """

    kind = "live"

    def __init__(self, config: MarketConfig):
        super().__init__(tuple(config.exchanges), tuple(config.symbols))
        self.config = config
        self.events: deque[dict] = deque(maxlen=EVENTS_KEPT)
        self.description = f"Live market data ({', '.join(self.exchanges)}) - paper trading"
        self._lock = threading.RLock()
        self._announce = False
        self._started_at = time.time()
        self._tick = 0
        self._markets: dict[tuple[str, str], Market] = {}
        self._listings: dict[str, dict[str, Mapping]] = {exchange: {} for exchange in self.exchanges}
        self._quotes: dict[str, dict[str, Quote]] = {exchange: {} for exchange in self.exchanges}
        self._books: dict[str, dict[str, OrderBook]] = {exchange: {} for exchange in self.exchanges}
        self._series: dict[tuple[str, str], CandleSeries] = {}
        self._candles_kept = max(config.live.candle_backfill, CANDLES_KEPT_MIN)
        self._candle_version = 0
        self._seen_candle_version = 0
        self._history: LiveHistory | None = None
        self._reported: dict[str, str | None] = {exchange: None for exchange in self.exchanges}
        self._report_locks = {exchange: threading.Lock() for exchange in self.exchanges}
        self._feeds: dict[str, ExchangeFeed] = {}
        self._streams: dict[str, StreamFeed] = {}
        self._streamed: set[tuple[str, str, str]] = set()  # (exchange, symbol, "book"|"quote") from a stream
        self._stream_view: dict[str, tuple[bool, str]] = {}  # exchange -> (up, problem) as last drained
        self._trades: dict[tuple[str, str], deque] = {}
        self._drain_lock = threading.Lock()
        self._news: NewsFeedReader | None = None
        for exchange in config.exchange_options:
            if exchange not in self.exchanges:
                log.warning("market.exchange_options.%s: %s is not in market.exchanges; ignored", exchange, exchange)
        try:
            for exchange in self.exchanges:  # every client first: a config error starts no thread
                client = make_client(exchange, config.exchange_options.get(exchange, {}))
                self._feeds[exchange] = ExchangeFeed(exchange, client, self.symbols, config.live, self)
                options = config.exchange_options.get(exchange, {})
                why_not = streams_supported(exchange, options) if config.live.streams.enabled else "streams disabled"
                if why_not:
                    log.info("%s: REST polling only (%s)", exchange, why_not)
                else:
                    stream = StreamFeed(exchange, options, self.symbols, config.live)
                    self._streams[exchange] = stream
                    self._stream_view[exchange] = (False, stream.problem)
                    self._feeds[exchange].stream_covers = stream.covered
            for feed in self._feeds.values():
                feed.start()
            self._wait_all(lambda feed: feed.loaded_event, LOAD_WAIT_SECONDS)
            self._check_start()
            for stream in self._streams.values():
                stream.start()
            self._wait_all(lambda feed: feed.first_data, FIRST_DATA_WAIT_SECONDS)
            deadline = time.monotonic() + STREAM_WAIT_SECONDS
            for stream in self._streams.values():
                stream.up_event.wait(max(0.0, deadline - time.monotonic()))
            if config.live.news_feeds:
                self._news = NewsFeedReader(config.live.news_feeds, config.live.news_poll_seconds)
        except BaseException:
            self.close()
            raise
        self._drain_streams()  # the streams' first books and their "up", before the first report
        self._announce = True
        for exchange in self.exchanges:
            self._refresh_status(exchange, force=True)

    # ---- start-up ------------------------------------------------------------------------
    def _wait_all(self, event_of: Callable[[ExchangeFeed], threading.Event], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for feed in self._feeds.values():
            event_of(feed).wait(max(0.0, deadline - time.monotonic()))

    def _check_start(self) -> None:
        feeds = list(self._feeds.values())
        for feed in feeds:
            if not feed.loaded and isinstance(feed.load_error, PermanentMarketError):
                raise MarketConfigError(f"market.exchanges: {feed.id}: cannot load its markets "
                                        f"({feed.load_error.reason}); check market.exchange_options.{feed.id}",
                                        exchange=feed.id)
        loaded = [feed for feed in feeds if feed.loaded]
        if not loaded:
            reasons = "; ".join(f"{f.id}: {f.load_error.reason if f.load_error else 'no answer'}" for f in feeds)
            raise MarketUnavailableError(f"market.exchanges: could not load markets from any exchange ({reasons})")
        if len(loaded) == len(feeds):
            with self._lock:
                nowhere = [s for s in self.symbols if not any((ex, s) in self._markets for ex in self.exchanges)]
            if nowhere:
                raise MarketConfigError(f"market.symbols: {', '.join(nowhere)} not listed as an active spot market on "
                                        f"any of market.exchanges ({', '.join(self.exchanges)})")

    # ---- the feeds' sink (called by their worker threads) ---------------------------------
    def markets_changed(self, exchange: str, markets: Mapping[str, Market], listings: Mapping[str, Mapping]) -> None:
        """Replace one exchange's markets; a new dict tells strategies to re-index."""
        with self._lock:
            self._listings[exchange] = dict(listings)
            self._replace_markets(exchange, {(exchange, symbol): market for symbol, market in markets.items()})

    def _replace_markets(self, exchange: str, markets: dict[tuple[str, str], Market]) -> None:
        merged = {k: v for k, v in self._markets.items() if k[0] != exchange}
        merged.update(markets)
        self._markets = {(ex, sym): merged[(ex, sym)] for ex in self.exchanges for sym in self.symbols
                         if (ex, sym) in merged}
        self._history = None

    def quotes_received(self, exchange: str, quotes: Mapping[str, Quote]) -> None:
        """Keep the newest tickers of an exchange (a polled one never replaces a streamed one while it streams)."""
        streaming = self._stream_up(exchange)
        with self._lock:
            for symbol, quote in quotes.items():
                if streaming and (exchange, symbol, "quote") in self._streamed:
                    continue
                self._quotes[exchange][symbol] = quote
                self._streamed.discard((exchange, symbol, "quote"))

    def book_received(self, exchange: str, symbol: str, book: OrderBook) -> None:
        """Keep the newest order book of a market (a polled one never replaces a streamed one while it streams)."""
        streaming = self._stream_up(exchange)
        with self._lock:
            if streaming and (exchange, symbol, "book") in self._streamed:
                return
            self._books[exchange][symbol] = book
            self._streamed.discard((exchange, symbol, "book"))

    def candles_closed(self, exchange: str, symbol: str, candles: list[Candle]) -> None:
        """Append closed candles to a market's series, keeping the newest ones."""
        key = (exchange, symbol)
        with self._lock:
            old = self._series.get(key)
            newest = old.candles[-1].ts if old and old.candles else -1.0
            fresh = tuple(c for c in candles if c.ts > newest)  # REST and the stream may both close one
            if not fresh:
                return
            merged = (old.candles if old else ()) + fresh
            merged = merged[-self._candles_kept:]
            closes = np.fromiter((c.close for c in merged), dtype=float, count=len(merged))
            closes.setflags(write=False)
            self._series[key] = CandleSeries(merged, closes)
            self._candle_version += 1
            self._history = None

    def symbol_warning(self, exchange: str, symbol: str, message: str) -> None:
        """Log and record a "market_warning" event."""
        log.warning(message)
        self._emit("market_warning", {"exchange": exchange, "symbol": symbol, "reason": message,
                                      "level": "warning", "message": message})

    def symbol_dropped(self, exchange: str, symbol: str, message: str) -> None:
        """Forget a market the exchange no longer knows, then warn."""
        with self._lock:
            self._quotes[exchange].pop(symbol, None)
            self._books[exchange].pop(symbol, None)
            self._listings[exchange].pop(symbol, None)
            self._replace_markets(exchange, {k: v for k, v in self._markets.items()
                                             if k[0] == exchange and k[1] != symbol})
        self.symbol_warning(exchange, symbol, message)

    def feed_changed(self, exchange: str) -> None:
        """Record the exchange's state now and report a change (a worker may wait for another's report)."""
        self._refresh_status(exchange)

    # ---- exchange state ------------------------------------------------------------------
    def _status(self, exchange: str, now: float) -> tuple[str, str]:
        """(live|degraded|down|recovering, reason): the feed's link first, then its data. Lock held."""
        link = self._feeds[exchange].link_status()
        if link is not None:
            return link
        if exchange in self._streams and not self._stream_up(exchange):
            problem = self._stream_problem(exchange)
            if self.config.live.streams.rest_fallback:
                return "degraded", f"stream down ({problem}); polling REST meanwhile"
            return "down", f"stream down ({problem}); no REST fallback (market.live.streams.rest_fallback)"
        quotes, books = self._quotes[exchange], self._books[exchange]
        if not quotes or not books:
            return "degraded", "waiting for first data"
        problems = []
        for ex, symbol in self._markets:
            if ex != exchange:
                continue
            quote, book = quotes.get(symbol), books.get(symbol)
            if quote is not None and _age(quote, now) > self._limit(exchange, symbol, "quote"):
                problems.append(f"{symbol} quote {_age(quote, now):.1f}s old")
            elif (quote is not None and quote.bid >= quote.ask) or (book is not None and book.crossed):
                problems.append(f"{symbol} crossed book")
        if problems:
            return "degraded", "stale: " + "; ".join(problems)
        return "live", ""

    def _limit(self, exchange: str, symbol: str, kind: str) -> float:
        """The age limit of a held quote or book: the stream's when it came from one. Lock held."""
        if (exchange, symbol, kind) in self._streamed:
            streams = self.config.live.streams
            return streams.max_quote_age_seconds if kind == "quote" else streams.max_book_age_seconds
        return self.config.max_quote_age_seconds if kind == "quote" else self.config.max_book_age_seconds

    def _age_seconds(self, exchange: str, now: float) -> float:
        newest = max((quote.ts for quote in self._quotes[exchange].values()), default=self._started_at)
        return max(0.0, now - newest)

    def _refresh_status(self, exchange: str, force: bool = False, wait: bool = True) -> None:
        """Record the exchange's state and report a change, with no data lock held.

        The tick path and health() pass wait=False: if a worker is reporting right now they
        skip (it will), so a listener that takes the engine's lock can never deadlock them.
        """
        report_lock = self._report_locks[exchange]
        if not report_lock.acquire(blocking=wait):
            return
        try:
            with self._lock:
                state, reason = self._status(exchange, time.time())
            previous = None if force else self._reported[exchange]
            self._reported[exchange] = state
            if not self._announce or (state == previous and not force):
                return
            if state == "live":
                message = f"{exchange}: live" + (" again" if previous not in (None, "live") else "")
            else:
                message = f"{exchange}: {state} - {reason}"
            log.log(logging.INFO if state in ("live", "recovering") else logging.WARNING, "market %s (was %s)",
                    message, previous or "starting")
            self._emit("market_status", {"exchange": exchange, "state": state, "previous": previous,
                                         "health": HEALTH_OF[state], "reason": reason, "level": LEVEL_OF[state],
                                         "message": message})
        finally:
            report_lock.release()

    def _emit(self, kind: str, payload: dict) -> None:
        self.events.append({"ts": iso_utc(time.time()), "kind": kind, **payload})

    # ---- MarketSource --------------------------------------------------------------------
    @property
    def candles_kept(self) -> int:
        """Closed candles kept per market (older ones drop out): what a recording of this source keeps too."""
        return self._candles_kept

    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """Every (exchange, symbol) market listed and polled, with fees and steps (shared: do not modify)."""
        return self._markets

    def next_snapshot(self) -> Snapshot:
        """The latest data every worker holds; stale pairs are left out of quotes and books."""
        self._drain_streams()
        now = time.time()
        quotes: dict[tuple[str, str], Quote] = {}
        books: dict[tuple[str, str], OrderBook] = {}
        stale = set()
        connected = {exchange: feed.connected for exchange, feed in self._feeds.items()}
        with self._lock:
            for key in self._markets:
                exchange, symbol = key
                quote, book = self._quotes[exchange].get(symbol), self._books[exchange].get(symbol)
                if (not connected[exchange] or quote is None or book is None
                        or _age(quote, now) > self._limit(exchange, symbol, "quote")
                        or _age(book, now) > self._limit(exchange, symbol, "book")
                        or quote.bid >= quote.ask or book.crossed):
                    stale.add(key)
                else:
                    quotes[key] = quote
                    books[key] = book
            new_candle = self._candle_version != self._seen_candle_version
            self._seen_candle_version = self._candle_version
            if self._history is None:
                self._history = LiveHistory(dict(self._series), self._markets)
            history, markets = self._history, self._markets
            tick, self._tick = self._tick, self._tick + 1
        for exchange in self.exchanges:
            self._refresh_status(exchange, wait=False)  # catches data going stale while a worker waits on I/O
        news = self._news.drain() if self._news is not None else ()
        return Snapshot(tick, now, self.exchanges, self.symbols, quotes, markets, history, BookReader(books),
                        news, (), new_candle, frozenset(stale))

    def seek(self, tick: int) -> None:
        """The next snapshot is numbered `tick` (live data cannot be replayed; only the counter moves)."""
        if tick < 0:
            raise ValueError(f"tick must be >= 0 (got {tick})")
        with self._lock:
            self._tick = tick

    def health(self) -> dict[str, dict]:
        """Per exchange: state live|degraded|down (recovering counts as down), reason, age of its newest quote,
        and its feed: stream or REST, messages per second, last message age, reconnects, resyncs, malformed."""
        self._drain_streams()
        now = time.time()
        out = {}
        with self._lock:
            for exchange in self.exchanges:
                state, reason = self._status(exchange, now)
                out[exchange] = {"state": HEALTH_OF[state],
                                 "reason": reason if state != "recovering" else f"recovering: {reason}",
                                 "age_seconds": round(self._age_seconds(exchange, now), 3),
                                 **self._feed_status(exchange, now)}
        for exchange in self.exchanges:
            self._refresh_status(exchange, wait=False)
        return out

    # ---- ccxt-shaped reads of the held data (the simulator offers the same; no network) -------
    def _check_held(self, exchange: str, symbol: str) -> None:
        if (exchange, symbol) not in self._markets:
            raise KeyError(f"no live market {symbol!r} on {exchange!r}")

    def fetch_ticker(self, exchange: str, symbol: str) -> dict:
        """The latest ticker held for a market, ccxt-shaped (its timestamp tells its age)."""
        with self._lock:
            self._check_held(exchange, symbol)
            quote = self._quotes[exchange].get(symbol)
        if quote is None:
            raise LookupError(f"no ticker yet for {symbol} on {exchange}")
        return {"symbol": symbol, "timestamp": int(round(quote.ts * 1000)), "datetime": iso_utc(quote.ts),
                "bid": quote.bid, "ask": quote.ask, "last": quote.last, "close": quote.last,
                "bidVolume": quote.bid_size, "askVolume": quote.ask_size, "percentage": quote.change_24h_pct,
                "info": {}}

    def fetch_order_book(self, exchange: str, symbol: str, limit: int | None = None) -> dict:
        """The latest order book held for a market, ccxt-shaped, best levels first."""
        with self._lock:
            self._check_held(exchange, symbol)
            book = self._books[exchange].get(symbol)
        if book is None:
            raise LookupError(f"no order book yet for {symbol} on {exchange}")
        return {"symbol": symbol, "bids": [list(level) for level in book.bids[:limit]],
                "asks": [list(level) for level in book.asks[:limit]], "timestamp": int(round(book.ts * 1000)),
                "datetime": iso_utc(book.ts), "nonce": None}

    def fetch_ohlcv(self, exchange: str, symbol: str, timeframe: str = "1m", since: int | None = None,
                    limit: int | None = None) -> list[list]:
        """Closed 1-minute candles held for a market, ccxt-shaped, oldest first."""
        if timeframe != "1m":
            raise ValueError(f"the live market keeps 1m candles only (got timeframe {timeframe!r})")
        with self._lock:
            self._check_held(exchange, symbol)
            series = self._series.get((exchange, symbol))
        bars = [[int(round(c.ts * 1000)), c.open, c.high, c.low, c.close, c.volume]
                for c in (series.candles if series else ())]
        if since is not None:
            bars = [bar for bar in bars if bar[0] >= since]
            return bars if limit is None else bars[:limit]
        return bars if limit is None else bars[-limit:] if limit > 0 else []

    def load_markets(self, exchange: str) -> dict[str, dict]:
        """ccxt's markets (as loaded at start) of one exchange's polled symbols, keyed by symbol."""
        with self._lock:
            return dict(self._listings[exchange])

    def drain_events(self) -> list[dict]:
        """Events recorded since the last drain, oldest first (the streams' updates applied first)."""
        self._drain_streams()
        out = []
        while True:
            try:
                out.append(self.events.popleft())
            except IndexError:
                return out

    def close(self) -> None:
        """Stop the workers (they wait on an Event, so this is prompt) and release connections."""
        for stream in self._streams.values():
            stream.stop()
        for feed in self._feeds.values():
            feed.stop()
        # A worker may be inside one request: wait at most one ccxt time-out for all of them together.
        longest = max((feed.request_timeout_seconds for feed in self._feeds.values()), default=0.0)
        deadline = time.monotonic() + min(15.0, longest + 1.0)
        for feed in self._feeds.values():
            feed.join(deadline - time.monotonic())
        for feed in self._feeds.values():
            feed.close()
        for stream in self._streams.values():
            stream.join(max(0.5, deadline - time.monotonic()))
        if self._news is not None:
            self._news.close()
