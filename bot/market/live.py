"""Talking to exchanges through ccxt: the one module of the project that imports ccxt.

Here: building ccxt clients, translating ccxt's exceptions, and ExchangeFeed, the worker thread
per exchange, which hands what it reads to a FeedSink; bot/market/live_source.py is that sink
(LiveMarket) and assembles the data into snapshots. This module does not know it.
One worker thread per exchange polls tickers, order books and closed 1-minute candles
(backfilled at start) at most every market.live.poll_seconds, within ccxt's rate limiter, so a
slow exchange never stalls the others. Every ccxt failure is translated into a
TemporaryMarketError (retried with backoff) or a PermanentMarketError; a per-exchange circuit
breaker stops hammering an exchange that keeps failing. The feed tells its sink whenever its
link may have changed state (feed_changed) and reports its link's state on request
(link_status); what is stale is the sink's judgement.
"""
from __future__ import annotations

import functools
import logging
import math
import random
import threading
import time
from typing import Callable, Mapping

import ccxt

from bot.config import ConfigError, LiveConfig
from bot.market.live_parsing import (CANDLE_CLOSE_GRACE_MS, CANDLE_MS, DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE,
                                     book_from_ccxt, closed_candles, market_from_ccxt, quotes_from_tickers,
                                     trades_from_ccxt)
from bot.market.live_sink import FeedSink
from bot.market.resilience import (CLOSED, HALF_OPEN, OPEN, CircuitBreaker, MarketError, PermanentMarketError,
                                   RetryPolicy, TemporaryMarketError, UnknownSymbolError, call_with_retry)
from bot.models import Market, Quote

log = logging.getLogger(__name__)

if (ccxt.DECIMAL_PLACES, ccxt.SIGNIFICANT_DIGITS, ccxt.TICK_SIZE) != (DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE):
    raise ImportError("this ccxt version numbers its precision modes differently; see bot/market/live_parsing.py")

CANDLE_UPDATE_LIMIT = 100  # closed candles asked for per update read
TRADES_LIMIT = 500  # public trades asked for per read (binance's default page)


class MarketConfigError(PermanentMarketError, ConfigError):
    """A permanent problem at start that only the config can fix (the CLI exits with code 2)."""


# ---- ccxt translation --------------------------------------------------------------------------
# What each ccxt exception means here, checked in order (subclasses before their parents).
# Parsing errors from a malformed answer are temporary: the next answer may be fine.
_ERROR_KINDS = (
    ((ccxt.DDoSProtection, ccxt.RateLimitExceeded), "rate limited", "rate_limited"),
    (ccxt.OnMaintenance, "under maintenance", "temporary"),
    (ccxt.RequestTimeout, "timed out", "temporary"),
    (ccxt.ExchangeNotAvailable, "exchange not available", "temporary"),
    (ccxt.InvalidNonce, "invalid nonce", "temporary"),
    (ccxt.NetworkError, "network error", "temporary"),
    (ccxt.BadResponse, "malformed answer", "temporary"),
    (ccxt.OperationFailed, "operation failed", "temporary"),
    (ccxt.BadSymbol, "unknown symbol", "symbol"),
    (ccxt.AuthenticationError, "access refused", "permanent"),
    (ccxt.NotSupported, "not supported", "permanent"),
    (ccxt.BaseError, "exchange error", "permanent"),
    ((TypeError, KeyError, ValueError, IndexError, AttributeError, ZeroDivisionError), "malformed answer", "temporary"),
)


def translate_error(exc: BaseException, exchange: str, what: str, symbol: str = "") -> MarketError:
    """The project's error for a ccxt (or parsing) exception raised while reading `what`."""
    detail = f"{type(exc).__name__}: {' '.join(str(exc).split())[:240]}"

    def message(reason: str) -> str:
        return f"{exchange} {what}: {reason} ({detail})"

    def temporary(reason: str, rate_limited: bool = False) -> TemporaryMarketError:
        return TemporaryMarketError(message(reason), exchange=exchange, reason=f"{what}: {reason}",
                                    rate_limited=rate_limited)

    def permanent(reason: str) -> PermanentMarketError:
        return PermanentMarketError(message(reason), exchange=exchange, reason=f"{what}: {reason}")

    for classes, reason, kind in _ERROR_KINDS:
        if isinstance(exc, classes):
            if kind == "symbol":
                return UnknownSymbolError(message(reason), exchange=exchange, symbol=symbol, reason=f"{what}: {reason}")
            if kind == "permanent":
                return permanent(reason)
            return temporary(reason, rate_limited=kind == "rate_limited")
    return temporary("unexpected error")


@functools.cache
def known_exchange_ids() -> frozenset[str]:
    """Every exchange id this ccxt version knows (ccxt.exchanges: a list in the package, no network)."""
    return frozenset(ccxt.exchanges)


def make_client(exchange_id: str, options: Mapping) -> ccxt.Exchange:
    """A ccxt exchange built from market.exchange_options.<id>, spot markets only, checked for what we read."""
    cls = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
    if cls is None:
        raise MarketConfigError(f"market.exchanges: unknown ccxt exchange id {exchange_id!r} "
                                f"(ids are lowercase, e.g. binance, kraken, coinbase; see ccxt.exchanges)",
                                exchange=exchange_id)
    try:
        client = cls({"enableRateLimit": True, **dict(options)})
    except Exception as exc:  # noqa: BLE001 - ccxt validates options in many ways
        raise MarketConfigError(f"market.exchange_options.{exchange_id}: ccxt refused these options ({exc})",
                                exchange=exchange_id) from None
    user_options = options.get("options") if isinstance(options.get("options"), dict) else {}
    if "fetchMarkets" not in user_options:
        # Many ccxt classes also load futures and options; only spot markets are traded here.
        current = client.options.get("fetchMarkets")
        if isinstance(current, dict) and isinstance(current.get("types"), list) and "spot" in current["types"]:
            client.options["fetchMarkets"] = {**current, "types": ["spot"]}
        elif isinstance(current, list) and "spot" in current:
            client.options["fetchMarkets"] = ["spot"]
    missing = [name for name in ("fetchOrderBook", "fetchOHLCV") if not client.has.get(name)]
    if not (client.has.get("fetchTickers") or client.has.get("fetchTicker")):
        missing.append("fetchTicker")
    if missing:
        raise MarketConfigError(f"market.exchanges: {exchange_id} does not offer {', '.join(missing)} through "
                                f"ccxt, which the live market needs; choose another exchange", exchange=exchange_id)
    return client


# ---- one exchange ------------------------------------------------------------------------------
class ExchangeFeed:
    """One exchange: its ccxt client and the worker thread that polls it into a FeedSink.

    The feed keeps only what polling needs; the data it reads goes to the sink. It owns its
    stop event, so stop() ends its waits and backoffs at once.
    """

    def __init__(self, exchange: str, client: ccxt.Exchange, symbols: tuple[str, ...], settings: LiveConfig,
                 sink: FeedSink):
        self.id, self.client, self.sink, self.settings = exchange, client, sink, settings
        self.policy = RetryPolicy(settings.retry_attempts, settings.backoff_base_seconds, settings.backoff_max_seconds,
                                  settings.rate_limit_backoff_seconds)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_seconds,
                                      on_transition=self._on_breaker)
        self.loaded = False
        self.load_error: MarketError | None = None
        self.last_error = ""
        self.loaded_event = threading.Event()
        self.first_data = threading.Event()
        self._wanted = symbols
        self._symbols: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._ccxt_markets: dict = {}
        self._priced_steps = False
        self._tickers_at = -math.inf
        self._last_closed_ms: dict[str, int] = {}
        # Public trades over REST (market.live.rest_trades): the newest trade time read per symbol,
        # asked for again (since is inclusive); the sink drops the prints it already holds.
        self._trades_since: dict[str, int] = {}
        self._rest_trades = settings.rest_trades and bool(client.has.get("fetchTrades"))
        self.trade_errors = 0
        self.trades_error = ""
        self._rng = random.Random()
        # Set by the live source when a stream (bot/market/live_stream.py) serves this exchange:
        # while it returns True, polls read candles only and leave tickers and books to the stream.
        self.stream_covers: Callable[[], bool] | None = None
        self.thread = threading.Thread(target=self._run, name=f"live-{exchange}", daemon=True)

    # ---- life ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread: load markets, then poll until stop()."""
        self.thread.start()

    def stop(self) -> None:
        """Ask the worker to stop; it waits on this feed's event, so even a backoff ends at once."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait at most `timeout` seconds for the worker to end (it may be inside one request)."""
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=max(0.0, timeout))

    def close(self) -> None:
        """Release the client's connections (after stop and join)."""
        self.client.close()

    @property
    def request_timeout_seconds(self) -> float:
        """The longest one ccxt request of this feed may take."""
        return self.client.timeout / 1000.0

    @property
    def connected(self) -> bool:
        """False while the breaker is open or probing: such an exchange's data is not served."""
        return self.breaker.state == CLOSED

    # ---- the worker ----------------------------------------------------------------------
    def _run(self) -> None:
        stop = self._stop
        try:
            while not stop.is_set() and not self.loaded:
                if self.breaker.allow():
                    self._try_load()
                if isinstance(self.load_error, PermanentMarketError) and not self.loaded:
                    return
                if not self.loaded:
                    stop.wait(max(self.settings.poll_seconds, self.breaker.seconds_until_probe()))
            while not stop.is_set():
                if not self.breaker.allow():
                    stop.wait(max(0.02, self.breaker.seconds_until_probe()))
                    continue
                started = time.monotonic()
                self._cycle()
                if stop.is_set():
                    break
                self.first_data.set()
                self.sink.feed_changed(self.id)
                stop.wait(max(0.0, self.settings.poll_seconds - (time.monotonic() - started)))
        finally:
            self.loaded_event.set()
            self.first_data.set()

    def _cycle(self) -> None:
        """One poll, its outcome told to the breaker."""
        try:
            self._poll_cycle()
        except MarketError as exc:
            if self._stop.is_set():
                return
            self.last_error = exc.reason
            log.info("%s poll failed: %s", self.id, exc)
            self.breaker.record_failure(exc.reason)
        except Exception as exc:  # noqa: BLE001 - a bug here must not stop the exchange's data for good
            log.exception("%s poll failed unexpectedly", self.id)
            self.last_error = f"unexpected error: {type(exc).__name__}: {exc}"
            self.breaker.record_failure(self.last_error)
        else:
            self.last_error = ""
            self.breaker.record_success()

    def _try_load(self) -> None:
        try:
            markets = self._read("load markets", lambda: self.client.load_markets())
            self._use_markets(markets)
        except MarketError as exc:
            self.load_error = exc
            log.warning("%s: cannot load markets: %s", self.id, exc)
            self.breaker.record_failure(f"cannot load markets: {exc.reason}")
        else:
            self.load_error = None
            self.breaker.record_success()
        self.loaded_event.set()
        if self.load_error is not None:
            self.first_data.set()
        self.sink.feed_changed(self.id)

    def _use_markets(self, markets: Mapping) -> None:
        listed = []
        for symbol in self._wanted:
            market = markets.get(symbol) if isinstance(markets, Mapping) else None
            if market is None or market.get("spot") is False:
                self.sink.symbol_warning(self.id, symbol,
                                         f"{symbol} is not listed on {self.id}; trading it on the other exchanges")
            elif market.get("active") is False:
                self.sink.symbol_warning(self.id, symbol,
                                         f"{symbol} is listed on {self.id} but not active (trading halted)")
            else:
                listed.append(symbol)
        self._ccxt_markets = {symbol: markets[symbol] for symbol in listed}
        built = self._build_markets({})
        self._symbols = tuple(listed)
        self.sink.markets_changed(self.id, built, dict(self._ccxt_markets))
        self.loaded = True

    def _build_markets(self, prices: Mapping[str, float]) -> dict[str, Market]:
        fees = (getattr(self.client, "fees", None) or {}).get("trading") or {}
        try:
            return {symbol: market_from_ccxt(
                        self.id, market, self.client.precisionMode, reference_price=prices.get(symbol),
                        default_taker=fees.get("taker"), default_maker=fees.get("maker"))
                    for symbol, market in self._ccxt_markets.items()}
        except (TypeError, ValueError, KeyError) as exc:
            raise translate_error(exc, self.id, "load markets") from exc

    def _poll_cycle(self) -> None:
        covered = self.stream_covers is not None and self.stream_covers()
        if not covered:
            self._refresh_tickers()
            for symbol in self._symbols:
                self._check_stop()
                self._refresh_tickers_if_due()
                self._per_symbol(symbol, self._refresh_book)
                if self._rest_trades:
                    self._per_symbol(symbol, self._refresh_trades)
        self.first_data.set()
        now_ms = time.time() * 1000.0
        for symbol in self._symbols:
            last = self._last_closed_ms.get(symbol)
            if last is None or now_ms >= last + 2 * CANDLE_MS + CANDLE_CLOSE_GRACE_MS:
                self._check_stop()
                if not covered:
                    self._refresh_tickers_if_due()
                self._per_symbol(symbol, self._refresh_candles)

    def _per_symbol(self, symbol: str, read: Callable[[str], None]) -> None:
        if symbol not in self._symbols:
            return
        try:
            read(symbol)
        except UnknownSymbolError as exc:
            self._drop(symbol, exc)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise TemporaryMarketError("stopping", exchange=self.id, reason="stopping")

    def _read(self, what: str, call: Callable[[], object], symbol: str = "") -> object:
        """call() (a ccxt read plus its parsing) with errors translated and temporary ones retried."""
        def attempt():
            try:
                return call()
            except MarketError:
                raise
            except Exception as exc:  # noqa: BLE001 - ccxt and parsers raise many kinds
                raise translate_error(exc, self.id, what, symbol) from exc

        def on_retry(exc: TemporaryMarketError, number: int, delay: float) -> None:
            log.info("%s; retry %d/%d in %.2fs", exc, number, self.policy.retries, delay)

        return call_with_retry(attempt, self.policy, sleep=self._stop.wait, random=self._rng.random,
                               on_retry=on_retry)

    def _refresh_tickers_if_due(self) -> None:
        if time.monotonic() - self._tickers_at >= self.settings.poll_seconds:
            self._refresh_tickers()

    def _refresh_tickers(self) -> None:
        symbols = list(self._symbols)
        if not symbols:
            return
        self._tickers_at = time.monotonic()
        if self.client.has.get("fetchTickers"):
            try:
                quotes = self._read("tickers", lambda: quotes_from_tickers(
                    self.id, self.client.fetch_tickers(symbols), symbols, time.time()))
            except UnknownSymbolError:
                quotes = self._tickers_one_by_one(symbols)  # find out which symbol it was
        else:
            quotes = self._tickers_one_by_one(symbols)
        self.sink.quotes_received(self.id, quotes)
        if self.client.precisionMode == ccxt.SIGNIFICANT_DIGITS and not self._priced_steps and quotes:
            # Significant-digit precision needs a price to become a step size.
            self._priced_steps = True
            built = self._build_markets({symbol: quote.mid for symbol, quote in quotes.items()})
            self.sink.markets_changed(self.id, built, dict(self._ccxt_markets))

    def _tickers_one_by_one(self, symbols: list[str]) -> dict[str, Quote]:
        quotes = {}
        for symbol in symbols:
            try:
                quotes.update(self._read(f"ticker {symbol}", lambda s=symbol: quotes_from_tickers(
                    self.id, {s: self.client.fetch_ticker(s)}, [s], time.time()), symbol))
            except UnknownSymbolError as exc:
                self._drop(symbol, exc)
        return quotes

    def _refresh_book(self, symbol: str) -> None:
        depth = self.settings.order_book_depth
        book = self._read(f"order book {symbol}", lambda: book_from_ccxt(
            self.id, symbol, self.client.fetch_order_book(symbol, depth), time.time(), depth), symbol)
        self.sink.book_received(self.id, symbol, book)

    def _refresh_candles(self, symbol: str) -> None:
        last = self._last_closed_ms.get(symbol)
        if last is None:
            def call():
                rows = self.client.fetch_ohlcv(symbol, "1m", None, self.settings.candle_backfill)
                return closed_candles(rows, time.time() * 1000.0, None)
        else:
            def call():
                rows = self.client.fetch_ohlcv(symbol, "1m", last + CANDLE_MS, CANDLE_UPDATE_LIMIT)
                return closed_candles(rows, time.time() * 1000.0, last)
        candles = self._read(f"candles {symbol}", call, symbol)
        if candles:
            self._last_closed_ms[symbol] = int(round(candles[-1].ts * 1000))
            self.sink.candles_closed(self.id, symbol, candles)
        elif last is None:  # no closed candle yet: look again next minute
            self._last_closed_ms[symbol] = int(time.time() * 1000) - 2 * CANDLE_MS

    @property
    def polls_trades(self) -> bool:
        """True while this feed reads public trades over REST (on, supported, not refused for good)."""
        return self._rest_trades

    def _refresh_trades(self, symbol: str) -> None:
        """Public trades since the newest one read; a failure here is counted and logged, never the
        poll's (quotes and books keep flowing), and a permanent one stops the reads for this feed."""
        since = self._trades_since.get(symbol)

        try:
            trades = self._read(f"trades {symbol}", lambda: trades_from_ccxt(
                self.client.fetch_trades(symbol, since, TRADES_LIMIT)), symbol)
        except MarketError as exc:
            if self._stop.is_set():
                raise
            self.trade_errors += 1
            first, self.trades_error = not self.trades_error, exc.reason
            if isinstance(exc, PermanentMarketError) and not isinstance(exc, UnknownSymbolError):
                self._rest_trades = False
                log.warning("%s: public trades unavailable over REST, no longer read (%s); resting orders "
                            "there wait, marked stale", self.id, exc)
            else:  # once per run of failures (each poll would repeat it); the count tells the rest
                log.log(logging.INFO if first else logging.DEBUG, "%s trades read failed (%d so far): %s",
                        self.id, self.trade_errors, exc)
            return
        if self.trades_error:
            log.info("%s trades read again after %s", self.id, self.trades_error)
        self.trades_error = ""
        if trades:
            trades.sort(key=lambda t: t["timestamp"])
            self._trades_since[symbol] = trades[-1]["timestamp"]
            self.sink.trades_received(self.id, symbol, trades)

    def _drop(self, symbol: str, exc: MarketError) -> None:
        self._symbols = tuple(s for s in self._symbols if s != symbol)
        self._ccxt_markets.pop(symbol, None)
        self.sink.symbol_dropped(self.id, symbol, f"{self.id} no longer knows {symbol}; dropped it ({exc.reason})")

    def _on_breaker(self, old: str, new: str, reason: str) -> None:
        log.log(logging.WARNING if new == OPEN else logging.INFO, "%s circuit breaker %s -> %s: %s",
                self.id, old, new, reason)
        self.sink.feed_changed(self.id)

    # ---- status --------------------------------------------------------------------------
    def link_status(self) -> tuple[str, str] | None:
        """(degraded|down|recovering, reason) while loading or polling is failing; None while polls succeed."""
        if not self.loaded:
            if self.load_error is not None:
                return "down", f"cannot load markets: {self.load_error.reason}"
            return "degraded", "loading markets"
        breaker = self.breaker
        if breaker.state == OPEN:
            return "down", (f"circuit open after {breaker.failure_threshold} failed polls ({breaker.last_failure}); "
                            f"next probe in {breaker.seconds_until_probe():.1f}s")
        if breaker.state == HALF_OPEN:
            return "recovering", f"probing after {breaker.cooldown_seconds:g}s cooldown ({breaker.last_failure})"
        if self.last_error:
            failures = breaker.consecutive_failures
            return "degraded", f"{self.last_error} ({failures} failed poll{'s' if failures != 1 else ''}, retrying)"
        return None
