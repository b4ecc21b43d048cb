"""Arbitrage's fast-forward screen (quiet_ticks) against on_snapshot on many random markets: the
screen never calls a tick quiet on which on_snapshot signals, and it does call most ticks quiet."""
from __future__ import annotations

import numpy as np

from bot.accounting.portfolio import PortfolioTracker
from bot.config import ArbitrageConfig, MarketConfig
from bot.lookahead import Lookahead, MarketAhead
from bot.strategies.arbitrage import ArbitrageStrategy
from tests.builders import market, snapshot

EXCHANGES = ("a", "b", "c")
SYMBOLS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")
MIDS = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "ETH/BTC": 0.05}
FEES = {"a": 0.001, "b": 0.0015, "c": 0.002}
WALLET = {"USDT": 50_000.0, "BTC": 1.0, "ETH": 20.0}


def world(rng):
    """Books on every exchange: each market's mid strays from the fair price by up to +-0.25 %, with a
    random spread; deeper levels are worse than the top, as in any book."""
    books, markets = {}, {}
    for exchange in EXCHANGES:
        for symbol in SYMBOLS:
            mid = MIDS[symbol] * (1 + rng.uniform(-0.0025, 0.0025))
            half = mid * rng.uniform(0.00002, 0.0008)
            bids = [(mid - half - i * mid * 0.0004, 2.0 + i) for i in range(5)]
            asks = [(mid + half + i * mid * 0.0004, 2.0 + i) for i in range(5)]
            if symbol == "ETH/USDT":
                bids, asks = [(p, q * 5) for p, q in bids], [(p, q * 5) for p, q in asks]
            books[(exchange, symbol)] = (bids, asks)
            markets[(exchange, symbol)] = market(exchange, symbol, taker_fee=FEES[exchange], amount_step=1e-4,
                                                 min_notional=0.0001 if symbol == "ETH/BTC" else 5.0)
    return snapshot(books, markets=markets)


def one_tick(snap) -> Lookahead:
    """The snapshot as a one-tick lookahead (its quotes' bid and ask, no candles)."""
    markets = {key: MarketAhead(np.array([q.bid]), np.zeros(1, dtype=np.int64), np.empty(0), np.array([q.ask]))
               for key, q in snap.quotes.items()}
    return Lookahead(snap.tick, np.array([snap.ts]), np.zeros(1, dtype=bool), markets, traded=snap.markets)


def test_the_screen_never_calls_quiet_a_tick_arbitrage_signals_on():
    rng = np.random.default_rng(7)
    arbitrage = ArbitrageStrategy(ArbitrageConfig(), EXCHANGES, SYMBOLS, MarketConfig(), 0.5)
    kinds, quiet = set(), 0
    for _ in range(400):
        snap = world(rng)
        tracker = PortfolioTracker({ex: dict(WALLET) for ex in EXCHANGES})
        tracker.mark(snap)
        view = tracker.view_for("arbitrage")
        said = arbitrage.quiet_ticks(one_tick(snap), view)
        signals = arbitrage.on_snapshot(snap, view)
        kinds.update(signal.kind for signal in signals)
        assert not (said == 1 and signals), [s.reason for s in signals]
        quiet += said
    assert kinds == {"cross_exchange", "triangular"}  # both kinds signalled under the screen
    assert quiet > 40  # and it is not trivially "never quiet"


def test_the_screen_needs_the_markets():
    arbitrage = ArbitrageStrategy(ArbitrageConfig(), EXCHANGES, SYMBOLS, MarketConfig(), 0.5)
    snap = world(np.random.default_rng(1))
    lookahead = one_tick(snap)
    tracker = PortfolioTracker({ex: dict(WALLET) for ex in EXCHANGES})
    tracker.mark(snap)
    blind = Lookahead(lookahead.start_tick, lookahead.ts, lookahead.new_candle, lookahead.markets)
    assert arbitrage.quiet_ticks(blind, tracker.view_for("arbitrage")) == 0
