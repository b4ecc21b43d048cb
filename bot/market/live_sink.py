"""FeedSink: what an ExchangeFeed (bot/market/live.py) hands its data to.

Its own module so that the feed and the source it feeds (LiveMarket, bot/market/live_source.py)
both depend on it and neither on the other's insides: the source implements these methods,
the feed calls only these.
"""
from __future__ import annotations

from typing import Mapping, Protocol

from bot.models import Candle, Market, OrderBook, Quote


class FeedSink(Protocol):
    """Where an ExchangeFeed delivers what it reads; the live source (LiveMarket) is one.

    Called from the feed's worker thread, never while the feed holds a lock of its own.
    """

    def markets_changed(self, exchange: str, markets: Mapping[str, Market], listings: Mapping[str, Mapping]) -> None:
        """The exchange's polled markets are now these (keyed by symbol), with ccxt's raw listings."""

    def quotes_received(self, exchange: str, quotes: Mapping[str, Quote]) -> None:
        """Fresh tickers of some of the exchange's symbols."""

    def book_received(self, exchange: str, symbol: str, book: OrderBook) -> None:
        """A fresh order book of one symbol."""

    def candles_closed(self, exchange: str, symbol: str, candles: list[Candle]) -> None:
        """Newly closed 1-minute candles of one symbol, oldest first."""

    def trades_received(self, exchange: str, symbol: str, trades: list[dict]) -> None:
        """Public trades of one symbol, oldest first: {"id", "timestamp" (ms), "price", "amount", "side"}."""

    def symbol_warning(self, exchange: str, symbol: str, message: str) -> None:
        """A configured symbol is not traded on the exchange (not listed, or halted)."""

    def symbol_dropped(self, exchange: str, symbol: str, message: str) -> None:
        """The exchange stopped knowing a symbol it listed; the feed no longer polls it."""

    def feed_changed(self, exchange: str) -> None:
        """The feed's link may have changed state (markets loaded, a poll ended, the breaker moved)."""
