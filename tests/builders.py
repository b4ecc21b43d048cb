"""Hand-built markets, books and snapshots for unit tests."""
from __future__ import annotations

import numpy as np

from bot.models import CandleHistory, Market, OrderBook, Quote, Snapshot, split_symbol

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def market(exchange="ex", symbol="BTC/USDT", taker_fee=0.001, amount_step=1e-5, price_step=0.01,
           min_notional=5.0) -> Market:
    base, quote = split_symbol(symbol)
    return Market(exchange, symbol, base, quote, taker_fee, taker_fee / 2, amount_step, price_step,
                  amount_step, min_notional)


class NoHistory(CandleHistory):
    def closes(self, exchange, symbol, count):
        return np.array([], dtype=float)

    def candles(self, exchange, symbol, count):
        return []


def snapshot(books: dict, markets: dict | None = None, tick: int = 0, ts: float = T0, history=None,
             stale=frozenset(), **kwargs) -> Snapshot:
    """books: {(exchange, symbol): (bids, asks)} with levels [(price, qty), ...] best first."""
    markets = dict(markets or {})
    quotes = {}
    order_books = {}
    for (exchange, symbol), (bids, asks) in books.items():
        markets.setdefault((exchange, symbol), market(exchange, symbol))
        order_books[(exchange, symbol)] = OrderBook(exchange, symbol, tuple(map(tuple, bids)), tuple(map(tuple, asks)), ts)
        bid = bids[0][0] if bids else 0.0
        ask = asks[0][0] if asks else 0.0
        quotes[(exchange, symbol)] = Quote(exchange, symbol, bid, ask, (bid + ask) / 2, bids[0][1] if bids else 0.0,
                                           asks[0][1] if asks else 0.0, ts)
    exchanges = tuple(sorted({ex for ex, _ in books}))
    symbols = tuple(sorted({sym for _, sym in books}))
    return Snapshot(tick, ts, exchanges, symbols, quotes, markets, history or NoHistory(),
                    lambda ex, sym: order_books.get((ex, sym)), stale=frozenset(stale), **kwargs)


def flat_book(mid: float, spread: float = 0.0002, levels: int = 10, qty: float = 1.0, step: float = 0.0005):
    """A symmetric book around mid: level i is mid*(1 +/- (spread/2 + i*step)) with qty*(i+1)."""
    bids = [(mid * (1 - spread / 2 - i * step), qty * (i + 1)) for i in range(levels)]
    asks = [(mid * (1 + spread / 2 + i * step), qty * (i + 1)) for i in range(levels)]
    return bids, asks
