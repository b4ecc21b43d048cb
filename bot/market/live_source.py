"""LiveMarket: the live MarketSource, assembling snapshots from one ExchangeFeed per exchange.

No ccxt here (bot/market/live.py holds everything that talks to it): this module starts the
feeds, decides what is stale, reports exchange state changes and answers the read API.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from bot.config import MarketConfig
from bot.market.base import MarketSource
from bot.market.live import (CANDLES_KEPT_MIN, EVENTS_KEPT, FIRST_DATA_WAIT_SECONDS, HEALTH_OF, LEVEL_OF,
                             LOAD_WAIT_SECONDS, ExchangeFeed, MarketConfigError, make_client)
from bot.market.live_parsing import BookReader, CandleSeries, LiveHistory
from bot.market.news_feed import NewsFeedReader
from bot.market.resilience import CLOSED, MarketUnavailableError, PermanentMarketError
from bot.models import Candle, Market, OrderBook, Quote, Snapshot, iso_utc

log = logging.getLogger(__name__)


# ---- the source --------------------------------------------------------------------------------
class LiveMarket(MarketSource):
    """Public market data of real exchanges through ccxt; paper trading only (no keys, no orders).

    on_event(kind, payload) receives "market_status" (an exchange changed state) and
    "market_warning" (a symbol missing or dropped); payloads carry level and message for
    notifications. The same events are appended to self.events for whoever prefers to drain.
    """

    kind = "live"

    def __init__(self, config: MarketConfig, on_event: Callable[[str, dict], None] | None = None):
        super().__init__(tuple(config.exchanges), tuple(config.symbols))
        self.config = config
        self.on_event = on_event
        self.events: deque[dict] = deque(maxlen=EVENTS_KEPT)
        self.description = f"Live market data ({', '.join(self.exchanges)}) - paper trading"
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._announce = False
        self._started_at = time.time()
        self._tick = 0
        self._markets: dict[tuple[str, str], Market] = {}
        self._series: dict[tuple[str, str], CandleSeries] = {}
        self._candles_kept = max(config.live.candle_backfill, CANDLES_KEPT_MIN)
        self._candle_version = 0
        self._seen_candle_version = 0
        self._history: LiveHistory | None = None
        self._feeds: dict[str, ExchangeFeed] = {}
        self._news: NewsFeedReader | None = None
        for exchange in config.exchange_options:
            if exchange not in self.exchanges:
                log.warning("market.exchange_options.%s: %s is not in market.exchanges; ignored", exchange, exchange)
        try:
            for exchange in self.exchanges:  # every client first: a config error starts no thread
                client = make_client(exchange, config.exchange_options.get(exchange, {}))
                self._feeds[exchange] = ExchangeFeed(self, exchange, client)
            for feed in self._feeds.values():
                feed.thread.start()
            self._wait_all("loaded_event", LOAD_WAIT_SECONDS)
            self._check_start()
            self._wait_all("first_data", FIRST_DATA_WAIT_SECONDS)
            if config.live.news_feeds:
                self._news = NewsFeedReader(config.live.news_feeds, config.live.news_poll_seconds)
        except BaseException:
            self.close()
            raise
        self._announce = True
        for feed in self._feeds.values():
            self._refresh_status(feed, force=True)

    # ---- start-up ------------------------------------------------------------------------
    def _wait_all(self, event: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for feed in self._feeds.values():
            getattr(feed, event).wait(max(0.0, deadline - time.monotonic()))

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
            nowhere = [s for s in self.symbols if not any(s in feed.symbols for feed in loaded)]
            if nowhere:
                raise MarketConfigError(f"market.symbols: {', '.join(nowhere)} not listed as an active spot market on "
                                        f"any of market.exchanges ({', '.join(self.exchanges)})")

    # ---- called by the workers -----------------------------------------------------------
    def _set_markets(self, exchange: str, markets: dict) -> None:
        """Replace one exchange's markets (lock held); a new dict tells strategies to re-index."""
        merged = {k: v for k, v in self._markets.items() if k[0] != exchange}
        merged.update(markets)
        self._markets = {(ex, sym): merged[(ex, sym)] for ex in self.exchanges for sym in self.symbols
                         if (ex, sym) in merged}
        self._history = None

    def _store_candles(self, exchange: str, symbol: str, candles: list[Candle]) -> None:
        key = (exchange, symbol)
        with self._lock:
            old = self._series.get(key)
            merged = (old.candles if old else ()) + tuple(candles)
            merged = merged[-self._candles_kept:]
            closes = np.fromiter((c.close for c in merged), dtype=float, count=len(merged))
            closes.setflags(write=False)
            self._series[key] = CandleSeries(merged, closes)
            self._candle_version += 1
            self._history = None

    def _warn(self, exchange: str, symbol: str, message: str) -> None:
        log.warning(message)
        self._emit("market_warning", {"exchange": exchange, "symbol": symbol, "reason": message,
                                      "level": "warning", "message": message})

    def _refresh_status(self, feed: ExchangeFeed, force: bool = False, wait: bool = True) -> None:
        """Record the exchange's state and report a change, with no data lock held.

        The tick path and health() pass wait=False: if a worker is reporting right now they
        skip (it will), so a listener that takes the engine's lock can never deadlock them.
        """
        if not feed.status_lock.acquire(blocking=wait):
            return
        try:
            with self._lock:
                state, reason = feed.status(time.time(), self.config.max_quote_age_seconds)
            previous, feed.state = (None if force else feed.state), state
            if not self._announce or (state == previous and not force):
                return
            if state == "live":
                message = f"{feed.id}: live" + (" again" if previous not in (None, "live") else "")
            else:
                message = f"{feed.id}: {state} - {reason}"
            log.log(logging.INFO if state in ("live", "recovering") else logging.WARNING, "market %s (was %s)",
                    message, previous or "starting")
            self._emit("market_status", {"exchange": feed.id, "state": state, "previous": previous,
                                         "health": HEALTH_OF[state], "reason": reason, "level": LEVEL_OF[state],
                                         "message": message})
        finally:
            feed.status_lock.release()

    def _emit(self, kind: str, payload: dict) -> None:
        self.events.append({"ts": iso_utc(time.time()), "kind": kind, **payload})
        if self.on_event is not None:
            try:
                self.on_event(kind, payload)
            except Exception:  # noqa: BLE001 - a listener's bug must not kill a market worker
                log.exception("market event listener failed")

    # ---- MarketSource --------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """Every (exchange, symbol) market listed and polled, with fees and steps (shared: do not modify)."""
        return self._markets

    def next_snapshot(self) -> Snapshot:
        """The latest data every worker holds; stale pairs are left out of quotes and books."""
        now = time.time()
        max_age = self.config.max_quote_age_seconds
        max_book_age = self.config.max_book_age_seconds
        quotes: dict[tuple[str, str], Quote] = {}
        books: dict[tuple[str, str], OrderBook] = {}
        stale = set()
        with self._lock:
            for feed in self._feeds.values():
                down = feed.breaker.state != CLOSED
                for symbol in feed.symbols:
                    key = (feed.id, symbol)
                    quote, book = feed.quotes.get(symbol), feed.books.get(symbol)
                    if (down or quote is None or book is None or now - quote.ts > max_age or now - book.ts > max_book_age
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
        for feed in self._feeds.values():
            self._refresh_status(feed, wait=False)  # catches data going stale while a worker waits on I/O
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
        """Per exchange: state live|degraded|down (recovering counts as down), reason, age of its newest quote."""
        now = time.time()
        out = {}
        with self._lock:
            for exchange, feed in self._feeds.items():
                state, reason = feed.status(now, self.config.max_quote_age_seconds)
                out[exchange] = {"state": HEALTH_OF[state], "reason": reason if state != "recovering"
                                 else f"recovering: {reason}", "age_seconds": round(feed.age_seconds(now), 3)}
        for feed in self._feeds.values():
            self._refresh_status(feed, wait=False)
        return out

    # ---- ccxt-shaped reads of the held data (the simulator offers the same; no network) -------
    def _held(self, exchange: str, symbol: str) -> ExchangeFeed:
        if (exchange, symbol) not in self._markets:
            raise KeyError(f"no live market {symbol!r} on {exchange!r}")
        return self._feeds[exchange]

    def fetch_ticker(self, exchange: str, symbol: str) -> dict:
        """The latest ticker held for a market, ccxt-shaped (its timestamp tells its age)."""
        with self._lock:
            quote = self._held(exchange, symbol).quotes.get(symbol)
        if quote is None:
            raise LookupError(f"no ticker yet for {symbol} on {exchange}")
        return {"symbol": symbol, "timestamp": int(round(quote.ts * 1000)), "datetime": iso_utc(quote.ts),
                "bid": quote.bid, "ask": quote.ask, "last": quote.last, "close": quote.last,
                "bidVolume": quote.bid_size, "askVolume": quote.ask_size, "percentage": quote.change_24h_pct,
                "info": {}}

    def fetch_order_book(self, exchange: str, symbol: str, limit: int | None = None) -> dict:
        """The latest order book held for a market, ccxt-shaped, best levels first."""
        with self._lock:
            book = self._held(exchange, symbol).books.get(symbol)
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
            self._held(exchange, symbol)
            series = self._series.get((exchange, symbol))
        bars = [[int(round(c.ts * 1000)), c.open, c.high, c.low, c.close, c.volume]
                for c in (series.candles if series else ())]
        if since is not None:
            bars = [bar for bar in bars if bar[0] >= since]
            return bars if limit is None else bars[:limit]
        return bars if limit is None else bars[-limit:] if limit > 0 else []

    def load_markets(self, exchange: str) -> dict[str, dict]:
        """ccxt's markets (as loaded at start) of one exchange's polled symbols, keyed by symbol."""
        feed = self._feeds[exchange]
        with self._lock:
            return {symbol: feed._ccxt_markets[symbol] for symbol in feed.symbols}

    def drain_events(self) -> list[dict]:
        """Events recorded since the last drain, oldest first."""
        out = []
        while True:
            try:
                out.append(self.events.popleft())
            except IndexError:
                return out

    def close(self) -> None:
        """Stop the workers (they wait on an Event, so this is prompt) and release connections."""
        self._stop.set()
        # A worker may be inside one request: wait at most one ccxt time-out for all of them together.
        longest_ms = max((feed.client.timeout for feed in self._feeds.values()), default=0)
        deadline = time.monotonic() + min(15.0, longest_ms / 1000.0 + 1.0)
        for feed in self._feeds.values():
            if feed.thread.is_alive() and feed.thread is not threading.current_thread():
                feed.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for feed in self._feeds.values():
            feed.client.close()
        if self._news is not None:
            self._news.close()
