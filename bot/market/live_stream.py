"""Exchange WebSocket streams through ccxt.pro: the one module that imports ccxt.pro (live.py has ccxt).

StreamFeed runs one asyncio event loop per exchange in a real OS thread (the original threading
module when eventlet has patched it: run_bot.py patches it for the dashboard, and an asyncio loop
inside a green thread would stall every dashboard client; bot/market/live_threads.py has the
thread, the loop and the message counters). It watches, per symbol, the order
book (ccxt applies the exchange's incremental updates and resynchronises on a sequence gap),
the ticker, public trades and 1-minute candles, and appends each update to its `updates` deque
(append and popleft are atomic; no lock is shared with the eventlet side, whose green locks
cannot be waited on from another OS thread). LiveMarket drains the deque in the engine's
thread when it builds a snapshot or answers a read, so each snapshot has the freshest state.

Faults: a sequence gap (ccxt raises ChecksumError or InvalidNonce and forgets the book) or a
book that crosses after an update invalidates the book at once (an "invalid" update), and the next watch
takes a fresh snapshot and replays the buffered updates; malformed frames are counted, logged
once per burst and dropped; a connection that drops, errors or stays silent for
streams.silence_seconds is torn down (every book of the exchange invalidated) and reopened with
exponential backoff and jitter. While it is down the exchange's REST feed polls again if
streams.rest_fallback allows (ExchangeFeed asks covered()).
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from collections import deque
from typing import Mapping

import ccxt.pro as ccxtpro
from ccxt.base.errors import BadSymbol, ChecksumError, InvalidNonce, NetworkError

from bot.config import LiveConfig
from bot.market.live_parsing import book_from_ccxt, quote_from_ticker
from bot.market.live_threads import StreamStats, new_event_loop, os_threading
from bot.models import Candle

log = logging.getLogger(__name__)

WATCHDOG_SECONDS = 0.1  # how often silence is checked
MALFORMED_LOG_SECONDS = 30.0  # malformed frames are logged once per burst of this length


def reconnect_delay(attempt: int, base: float, cap: float, random) -> float:
    """Seconds before reconnect number attempt + 1: base doubling per attempt up to cap, equal jitter."""
    return min(cap, base * 2 ** attempt) * (0.5 + 0.5 * random())


def streams_supported(exchange_id: str, options: Mapping) -> str:
    """"" when the exchange can stream here, else why not (logged by the caller; REST serves it).

    ccxt.pro must have order book, ticker and trade streams; and options that point the REST
    API elsewhere (urls.api) must point the streams too (urls.api.ws), or the two would read
    different servers.
    """
    cls = getattr(ccxtpro, exchange_id, None) if exchange_id in ccxtpro.exchanges else None
    if cls is None:
        return "ccxt.pro has no streams for it"
    has = cls().has
    missing = [name for name in ("watchOrderBook", "watchTicker", "watchTrades") if not has.get(name)]
    if missing:
        return f"ccxt.pro does not offer {', '.join(missing)} for it"
    api = (options.get("urls") or {}).get("api") if isinstance(options.get("urls"), Mapping) else None
    if isinstance(api, Mapping) and "ws" not in api:
        return "market.exchange_options sets urls.api without urls.api.ws"
    return ""


# What StreamFeed.updates holds, oldest first: (kind, symbol, item) with kind
#   "book"    a consistent, uncrossed OrderBook just updated by the stream
#   "quote"   a Quote from the ticker stream
#   "trades"  new public trades, oldest first: {"id", "timestamp" (ms), "price", "amount", "side"}
#   "candles" newly closed 1-minute Candles, oldest first
#   "invalid" the book is inconsistent (gap, crossed, malformed; item: why): never walk it
#             until the next "book"
#   "log"     a log record (item: (level, message)) to be logged by whoever drains
#   "changed" the stream went up or down (symbol None; item: (up, problem) as it was then, so an
#             outage over before the next drain is still seen, in order); when down every book
#             and quote of the exchange from the stream is invalid
UPDATES_KEPT = 200_000  # undrained updates kept (the engine drains every tick); older ones are dropped


class _Silent(Exception):
    """The connection sent nothing for too long."""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"silent: {text}" if isinstance(exc, _Silent) else f"{type(exc).__name__}: {text}"


def make_stream_client(exchange_id: str, options: Mapping):
    """A ccxt.pro exchange built from market.exchange_options.<id> whose handlers count every frame.

    A malformed frame (not JSON, or one the handler chokes on) is counted and dropped, where ccxt
    would let the exception stop the connection's receive loop without closing it.
    """
    base = getattr(ccxtpro, exchange_id)

    class Counted(base):
        stats = None  # a StreamStats, set below

        def handle_message(self, client, message):
            now = time.time()
            self.stats.count(now)
            if not isinstance(message, (dict, list)):
                self.note_malformed(f"a frame that is not JSON ({str(message)[:60]!r})")
                return
            try:
                super().handle_message(client, message)
            except Exception as exc:  # noqa: BLE001 - a bad frame must not stop the stream
                self.note_malformed(f"{type(exc).__name__}: {exc}"[:200])

        def client(self, url):
            ws = super().client(url)
            if not getattr(ws, "counted_by_bot", False):
                decode = ws.handle_text_or_binary_message

                def guarded(data, decode=decode):
                    try:
                        decode(data)
                    except ValueError:  # orjson / json decode errors
                        self.stats.count(time.time())
                        self.note_malformed(f"a frame that is not JSON ({str(data)[:60]!r})")
                ws.handle_text_or_binary_message = guarded
                ws.counted_by_bot = True
            return ws

        def note_malformed(self, what: str) -> None:
            stats = self.stats
            with stats.lock:
                stats.malformed += 1
                now = time.time()
                first = now - getattr(self, "_malformed_logged", 0.0) > MALFORMED_LOG_SECONDS
                if first:
                    self._malformed_logged = now
            if first:
                self.log_later(logging.WARNING, "%s stream: malformed frame dropped (%s); further ones for %gs are "
                               "counted only", self.id, what, MALFORMED_LOG_SECONDS)

    client = Counted({"enableRateLimit": True, **dict(options)})
    client.stats = StreamStats()
    client.log_later = log.log  # StreamFeed routes it through its updates (see _log)
    user_options = options.get("options") if isinstance(options.get("options"), dict) else {}
    if "fetchMarkets" not in user_options:
        current = client.options.get("fetchMarkets")
        if isinstance(current, dict) and isinstance(current.get("types"), list) and "spot" in current["types"]:
            client.options["fetchMarkets"] = {**current, "types": ["spot"]}
    return client


class StreamFeed:
    """One exchange's streams in an OS thread with its own asyncio loop, appending to `updates`."""

    def __init__(self, exchange: str, options: Mapping, symbols: tuple[str, ...], settings: LiveConfig):
        self.id, self.settings = exchange, settings
        self.updates: deque[tuple] = deque(maxlen=UPDATES_KEPT)
        self.streams = settings.streams
        self.options = dict(options)
        self._wanted = tuple(symbols)
        self.client = make_stream_client(exchange, self.options)
        self.stats: StreamStats = self.client.stats
        self.client.log_later = self._log
        self.up = False
        self.problem = "connecting"
        real = os_threading()
        self.up_event = real.Event()  # set once the stream delivered its first books
        self.outages = 0
        self._stop = real.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._rng = random.Random()
        self._closed_ms: dict[str, int] = {}
        self._open_candle: dict[str, list] = {}  # symbol -> the streamed candle not closed yet
        self._booked: set[str] = set()
        self._connected_at = 0.0
        self.thread = real.Thread(target=self._thread_main, name=f"stream-{exchange}", daemon=True)

    # ---- life ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the OS thread and its event loop."""
        self.thread.start()

    def stop(self) -> None:
        """Ask the loop to stop: every watch is cancelled and the connections closed."""
        self._stop.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass

    def join(self, timeout: float) -> None:
        """Wait at most `timeout` seconds for the thread to end."""
        if self.thread.is_alive():
            self.thread.join(max(0.0, timeout))

    def covered(self) -> bool:
        """May the REST feed leave tickers and books to the stream? (up, or no REST fallback wanted)."""
        return self.up or not self.streams.rest_fallback

    def status(self, now: float) -> dict:
        """The figures /api/status shows: feed, messages per second, last message age, reconnects."""
        stats = self.stats
        with stats.lock:
            last, messages, malformed = stats.last_message_at, stats.messages, stats.malformed
            resyncs, reconnects = stats.resyncs, stats.reconnects
        return {"feed": "stream" if self.up else ("rest" if self.streams.rest_fallback else "none"),
                "stream_up": self.up, "stream_problem": "" if self.up else self.problem,
                "messages_per_second": round(stats.rate(now), 2),
                "last_message_age_seconds": round(now - last, 3) if last else None,
                "messages": messages, "reconnects": reconnects, "resyncs": resyncs, "malformed": malformed}

    def _log(self, level: int, message: str, *args) -> None:
        """Log from the engine's side: logging's handler locks are green under eventlet, and a
        green lock waited on from this OS thread breaks the hub, so the record waits in updates."""
        self.updates.append(("log", None, (level, message % args if args else message)))

    # ---- the loop ------------------------------------------------------------------------
    def _thread_main(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        try:
            asyncio.set_event_loop(loop)
            self._wake = asyncio.Event()
            if self._stop.is_set():
                return
            loop.run_until_complete(self._main())
        except Exception:  # noqa: BLE001 - logged; the exchange stays on REST
            self._log(logging.ERROR, "%s stream thread ended on an error:\n%s", self.id, traceback.format_exc())
        finally:
            try:
                loop.run_until_complete(self._close_client())
            except Exception:  # noqa: BLE001
                pass
            loop.close()

    async def _close_client(self) -> None:
        try:
            await self.client.close()
        except Exception:  # noqa: BLE001 - the connection may be half gone already
            pass

    async def _main(self) -> None:
        attempt = 0
        markets = None
        while not self._stop.is_set():
            started = time.time()
            reason = await self._session(markets)
            markets = self.client.markets or markets
            if self._stop.is_set():
                return
            self._set_down(reason)
            if time.time() - started > 30.0 and self.stats.last_message_at > started:
                attempt = 0  # it ran well for a while: start the backoff again from its base
            delay = reconnect_delay(attempt, self.streams.reconnect_base_seconds, self.streams.reconnect_max_seconds,
                                    self._rng.random)
            attempt += 1
            self._log(logging.INFO, "%s stream reconnects in %.2fs (attempt %d): %s", self.id, delay, attempt, reason)
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
            if self._stop.is_set():
                return
            with self.stats.lock:
                self.stats.reconnects += 1
            await self._close_client()
            self.client = make_stream_client(self.id, self.options)
            self.client.stats = self.stats
            self.client.log_later = self._log
            if markets:
                self.client.set_markets(markets)

    async def _session(self, markets) -> str:
        """Watch everything until something breaks; returns why."""
        tasks = []
        try:
            if not self.client.markets:
                await self.client.load_markets()
            symbols = [s for s in self._wanted if s in self.client.markets]
            self._connected_at = time.time()
            tasks = [asyncio.ensure_future(coro) for symbol in symbols
                     for coro in (self._watch_book(symbol), self._watch_ticker(symbol), self._watch_trades(symbol),
                                  self._watch_candles(symbol))]
            tasks.append(asyncio.ensure_future(self._watchdog()))
            tasks.append(asyncio.ensure_future(self._wake.wait()))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    return _reason(task.exception())
            return "stopping"
        except Exception as exc:  # noqa: BLE001 - every failure leads to a reconnect
            return _reason(exc)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _watchdog(self) -> None:
        limit = self.streams.silence_seconds
        while True:
            await asyncio.sleep(WATCHDOG_SECONDS)
            last = max(self.stats.last_message_at, self._connected_at)
            if time.time() - last > limit:
                raise _Silent(f"no message for {time.time() - last:.1f}s (limit {limit:g}s)")

    def _set_up(self) -> None:
        if not self.up:
            self.up = True
            self.problem = ""
            self._log(logging.INFO, "%s stream up", self.id)
            self.updates.append(("changed", None, (True, "")))

    def _set_down(self, reason: str) -> None:
        self._booked.clear()
        self._open_candle.clear()  # its last updates may be lost: a minute missing, never one half seen
        was_up, self.up, self.problem = self.up, False, reason
        if was_up:
            self.outages += 1
            self._log(logging.WARNING, "%s stream down: %s", self.id, reason)
        self.updates.append(("changed", None, (False, reason)))

    # ---- the watches ---------------------------------------------------------------------
    async def _watch_book(self, symbol: str) -> None:
        depth = self.settings.order_book_depth
        client = self.client
        while True:
            try:
                raw = await client.watch_order_book(symbol, depth)
            except (ChecksumError, InvalidNonce) as exc:  # a sequence gap: ccxt forgot the book
                self._resync(symbol, f"sequence gap ({type(exc).__name__})")
                continue
            except BadSymbol:
                raise
            except NetworkError:
                raise
            received = time.time()
            try:
                book = book_from_ccxt(self.id, symbol, raw, received, depth)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                self._resync(symbol, f"malformed book ({exc})", forget=True)
                continue
            if book.crossed:
                self._resync(symbol, f"crossed after an update (bid {book.bids[0][0]} >= ask {book.asks[0][0]})",
                             forget=True)
                continue
            self.updates.append(("book", symbol, book))
            self._booked.add(symbol)
            if not self.up and self._booked >= set(s for s in self._wanted if s in client.markets):
                self._set_up()
                self.up_event.set()

    def _resync(self, symbol: str, reason: str, forget: bool = False) -> None:
        """Invalidate the book now; with forget, make ccxt drop it so the next watch re-snapshots."""
        with self.stats.lock:
            self.stats.resyncs += 1
        self._log(logging.INFO, "%s %s book resynchronised: %s", self.id, symbol, reason)
        self.updates.append(("invalid", symbol, reason))
        if forget:  # what ccxt itself does on a gap: drop the book and its subscription
            self.client.orderbooks.pop(symbol, None)
            for ws in list((self.client.clients or {}).values()):
                for key in [k for k in ws.subscriptions if k == f"orderbook::{symbol}"]:
                    del ws.subscriptions[key]

    async def _watch_ticker(self, symbol: str) -> None:
        params = {"name": "ticker"} if self.id.startswith("binance") else {}
        while True:
            ticker = await self.client.watch_ticker(symbol, params)
            try:
                quote = quote_from_ticker(self.id, symbol, ticker, time.time())
            except (ValueError, TypeError) as exc:
                self.client.note_malformed(f"ticker {symbol}: {exc}")
                continue
            if quote is not None:
                self.updates.append(("quote", symbol, quote))

    async def _watch_trades(self, symbol: str) -> None:
        while True:
            trades = await self.client.watch_trades(symbol)
            out = [{"id": t.get("id"), "timestamp": int(t["timestamp"]), "price": float(t["price"]),
                    "amount": float(t["amount"]), "side": t.get("side")}
                   for t in trades if t.get("timestamp") and t.get("price") and t.get("amount")]
            if out:
                self.updates.append(("trades", symbol, out))

    async def _watch_candles(self, symbol: str) -> None:
        if not self.client.has.get("watchOHLCV"):
            return
        while True:
            # ccxt answers only the rows updated since the last call: a minute's last update may come
            # alone, and the next minute's first row in a later answer. So the open candle is kept
            # here, with its latest values, and is closed when a row of a later minute arrives.
            rows = await self.client.watch_ohlcv(symbol, "1m")
            closed = []
            open_row = self._open_candle.get(symbol)
            for row in sorted(rows or (), key=lambda r: r[0]):
                if open_row is not None and int(row[0]) > int(open_row[0]):
                    closed.append(open_row)
                if open_row is None or int(row[0]) >= int(open_row[0]):
                    open_row = list(row)
            if open_row is not None:
                self._open_candle[symbol] = open_row
            closed = [r for r in closed if int(r[0]) > self._closed_ms.get(symbol, -1)]
            if closed:
                self._closed_ms[symbol] = int(closed[-1][0])
                self.updates.append(("candles", symbol, [Candle(r[0] / 1000.0, float(r[1]), float(r[2]),
                                                                  float(r[3]), float(r[4]), float(r[5] or 0.0))
                                                           for r in closed]))
