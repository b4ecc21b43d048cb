"""StreamedState: the part of LiveMarket (bot/market/live_source.py) that applies its streams' updates.

A StreamFeed (bot/market/live_stream.py) appends to its `updates` deque from its OS thread;
_drain_streams() applies them in order, in the engine's thread (every snapshot and read
drains first), under LiveMarket's own lock. Streamed books and quotes are marked in
self._streamed so that their age limit is the streams' and a polled one never replaces them
while the stream is up. Whether a stream is up, as far as the market is concerned, is what the
drained updates said (self._stream_view), not the stream's flag now: a drop and a reconnect
between two drains is still an outage, reported down then live, in order.
The attributes used here are LiveMarket's (set in its __init__).
"""
from __future__ import annotations

import logging
from collections import deque

from bot.models import OrderBook, Quote

log = logging.getLogger(__name__)


def _print_key(trade: dict) -> tuple:
    """What makes a public trade the same print: its id, or without one its time, price and size."""
    if trade.get("id") is not None:
        return ("id", str(trade["id"]))
    return ("at", trade["timestamp"], trade["price"], trade["amount"])


class StreamedState:
    """Mixin of LiveMarket: stream updates applied, the trades tape, the per-exchange feed status."""

    def _drain_streams(self) -> None:
        """Apply what every stream appended since the last drain, in order (see live_stream.py)."""
        with self._drain_lock:
            for exchange, stream in self._streams.items():
                updates = stream.updates
                while True:
                    try:
                        kind, symbol, item = updates.popleft()
                    except IndexError:
                        break
                    if kind == "book":
                        self.stream_book(exchange, symbol, item)
                    elif kind == "quote":
                        self.stream_quote(exchange, symbol, item)
                    elif kind == "trades":
                        self.trades_received(exchange, symbol, item)
                    elif kind == "candles":
                        self.candles_closed(exchange, symbol, item)
                    elif kind == "invalid":
                        self.book_invalid(exchange, symbol, item)
                    elif kind == "log":
                        log.log(item[0], "%s", item[1])
                    elif kind == "changed":
                        self._stream_view[exchange] = item
                        self.stream_changed(exchange)  # when down, its data goes before anything newer lands

    def _stream_up(self, exchange: str) -> bool:
        return self._stream_view.get(exchange, (False, ""))[0]

    def _stream_problem(self, exchange: str) -> str:
        return self._stream_view.get(exchange, (False, "no stream"))[1]

    def stream_book(self, exchange: str, symbol: str, book: OrderBook) -> None:
        """Keep a streamed book (consistent and uncrossed when it arrives)."""
        with self._lock:
            if (exchange, symbol) in self._markets:
                self._books[exchange][symbol] = book
                self._streamed.add((exchange, symbol, "book"))

    def stream_quote(self, exchange: str, symbol: str, quote: Quote) -> None:
        """Keep a streamed ticker."""
        with self._lock:
            if (exchange, symbol) in self._markets:
                self._quotes[exchange][symbol] = quote
                self._streamed.add((exchange, symbol, "quote"))

    def book_invalid(self, exchange: str, symbol: str, reason: str) -> None:
        """Forget a book that is inconsistent: nothing is walked on it until the stream sends a good one."""
        with self._lock:
            self._books[exchange].pop(symbol, None)
            self._streamed.discard((exchange, symbol, "book"))

    def trades_received(self, exchange: str, symbol: str, trades: list[dict]) -> None:
        """Add public trades to the market's bounded tape, in time order, each print once (same id,
        or same time, price and size): REST pages and a stream may bring the same or interleaved prints."""
        if not trades:
            return
        key = (exchange, symbol)
        with self._lock:
            tape = self._trades.get(key)
            if tape is None:
                tape = self._trades[key] = deque(maxlen=self.config.live.streams.trades_kept)
            first = min(trade["timestamp"] for trade in trades)
            if len(tape) == tape.maxlen and first < tape[0]["timestamp"]:
                trades = [trade for trade in trades if trade["timestamp"] >= tape[0]["timestamp"]]
            tail = []  # the held prints from `first` on: the only ones a new print can repeat or precede
            while tape and tape[-1]["timestamp"] >= first:
                tail.append(tape.pop())
            tail.reverse()
            held = {_print_key(trade) for trade in tail}
            for trade in trades:
                print_key = _print_key(trade)
                if print_key not in held:
                    held.add(print_key)
                    tail.append(trade)
            tail.sort(key=lambda trade: trade["timestamp"])  # stable: held prints keep their order
            tape.extend(tail)

    def stream_changed(self, exchange: str) -> None:
        """The stream went up or down; when down, its books and quotes are dropped (never traded stale)."""
        stream = self._streams.get(exchange)
        if stream is not None and not self._stream_up(exchange):
            with self._lock:
                for symbol in list(self._books[exchange]):
                    if (exchange, symbol, "book") in self._streamed:
                        self._books[exchange].pop(symbol, None)
                for symbol in list(self._quotes[exchange]):
                    if (exchange, symbol, "quote") in self._streamed:
                        self._quotes[exchange].pop(symbol, None)
                self._streamed = {key for key in self._streamed if key[0] != exchange}
        self._refresh_status(exchange)

    @property
    def has_trade_feed(self) -> bool:
        """True when some exchange supplies public trades, streamed or polled over REST
        (market.live.rest_trades); has_trade_feed_for() tells one market."""
        return any(self.has_trade_feed_for(exchange, "") for exchange in self.exchanges)

    def has_trade_feed_for(self, exchange: str, symbol: str) -> bool:
        """True while the exchange's public trades reach recent_trades(): its stream is up, or its
        REST feed reads them (resting orders fill from them; without, they wait, marked stale)."""
        if self._stream_up(exchange):
            return True
        stream, feed = self._streams.get(exchange), self._feeds.get(exchange)
        if feed is None or not feed.polls_trades:
            return False
        return stream is None or stream.streams.rest_fallback  # a stream down: REST stands in if allowed

    def recent_trades(self, exchange: str, symbol: str, since_ms: int | None = None) -> list[dict]:
        """Public trades of a market held from its stream or REST poll, oldest first, at or after since_ms."""
        self._drain_streams()
        with self._lock:
            tape = list(self._trades.get((exchange, symbol), ()))
        return tape if since_ms is None else [t for t in tape if t["timestamp"] >= since_ms]

    def _feed_status(self, exchange: str, now: float) -> dict:
        """stream or REST, messages per second, last message age, reconnects (stream figures: None on REST)."""
        stream = self._streams.get(exchange)
        if stream is not None:
            up = self._stream_up(exchange)  # as drained: the same view the exchange's state comes from
            return {**stream.status(now), "feed": "stream" if up else ("rest" if stream.streams.rest_fallback else "none"),
                    "stream_up": up, "stream_problem": "" if up else self._stream_problem(exchange)}
        return {"feed": "rest", "stream_up": False, "stream_problem": "no stream for this exchange",
                "messages_per_second": None, "last_message_age_seconds": None, "messages": None,
                "reconnects": None, "resyncs": None, "malformed": None}

