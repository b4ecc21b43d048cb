"""News's fast-forward: skipping the ticks its screen calls quiet (quiet_ticks, then skipped()) and
stepping the rest gives the signals, at the same ticks, and the state that stepping every tick gives."""
from __future__ import annotations

import numpy as np

from bot.models import NewsItem, PositionView
from bot.lookahead import Lookahead, MarketAhead
from tests.builders import T0, flat_book, market, snapshot
from tests.strategies.test_news import GOOD, FakeView, strategy

SOL = "SOL/USDT"
TICKS = 5400  # 90 minutes of 1 s ticks
PRICE = 150.0


def tick_snapshot(tick: int, news=()):
    books = {("binance", SOL): flat_book(PRICE, qty=50.0)}
    return snapshot(books, markets={("binance", SOL): market("binance", SOL, amount_step=0.001)},
                    tick=tick, ts=T0 + 7.0 + tick, news=tuple(news))


def block(start: int, count: int, traded) -> Lookahead:
    """Ticks start.. of the run as a lookahead with no news (bid and ask constant: news reads none)."""
    n = min(count, TICKS - start)
    bid, ask = flat_book(PRICE, qty=50.0)[0][0][0], flat_book(PRICE, qty=50.0)[1][0][0]
    markets = {("binance", SOL): MarketAhead(np.full(n, bid), np.zeros(n, dtype=np.int64), np.empty(0),
                                            np.full(n, ask))}
    return Lookahead(start, T0 + 7.0 + np.arange(start, start + n, dtype=float), np.zeros(n, dtype=bool), markets,
                     traded=traded, no_news=True)


def state(news) -> tuple:
    return (news._next_check_ts, dict(news._held_ts), dict(news._exit_ts),
            {symbol: [h.ts for h in held] for symbol, held in news._headlines.items()})


def runs(view, headline_tick: int = 0):
    """(signal ticks and state stepping every tick, the same skipping what the screen calls quiet)."""
    item = NewsItem("n1", T0 + 7.0 + headline_tick, GOOD, "wire")
    stepped, skipping = strategy(entry_score=0.3), strategy(entry_score=0.3)
    markets = tick_snapshot(0).markets
    out = []
    for news in (stepped, skipping):
        signals, tick, skipped = [], 0, 0
        while tick < TICKS:
            if news is skipping and tick != headline_tick:
                lookahead = block(tick, 64, markets)
                if tick < headline_tick:
                    lookahead = block(tick, min(64, headline_tick - tick), markets)
                quiet = news.quiet_ticks(lookahead, view)
                if quiet > 0:
                    news.skipped(lookahead, quiet, view)
                    tick, skipped = tick + quiet, skipped + quiet
                    continue
            made = news.on_snapshot(tick_snapshot(tick, [item] if tick == headline_tick else ()), view)
            signals += [(tick, signal.kind) for signal in made]
            tick += 1
        out.append((signals, state(news), skipped))
    return out


def test_skipping_the_quiet_ticks_gives_the_entries_stepping_gives():
    (stepped, stepped_state, _), (skipping, skipping_state, skipped) = runs(FakeView(), headline_tick=30)
    # A refused entry is proposed again at each minute check while the score stands: many checks signal.
    assert len(stepped) > 5 and {kind for _, kind in stepped} == {"news_entry"}
    assert skipping == stepped and skipping_state == stepped_state
    assert skipped > TICKS // 2


def test_skipping_the_quiet_ticks_gives_the_exit_stepping_gives():
    held = PositionView("SOL", 2.0, PRICE, {"binance": 2.0}, T0 - 1800.0)  # held 30 min: exits at a check 30 min on
    view = FakeView(positions=[held])
    (stepped, stepped_state, _), (skipping, skipping_state, skipped) = runs(view, headline_tick=TICKS - 10)
    assert [kind for _, kind in stepped] == ["news_exit"] * len(stepped) and stepped
    assert skipping == stepped and skipping_state == stepped_state
    assert skipped > TICKS // 2
