"""A replay's look ahead for the fast-forward (bot/fast_forward.py), from ReplayMarket.light_block.

lookahead_of turns the next snapshots' light block (docs/LOOKAHEAD_API.md: times, bid and ask of every
market, closed candles and per-tick flags, read without building a snapshot) into a Lookahead:
each tick's time, whether it closes a candle, each quoted market's bid and ask (the markets of the
current quote order, as next_snapshot's quotes have them) and its closes with how many had closed
by each tick. It stops before the first tick that carries anything a strategy's screen does not
see or the engine acts on by itself: news, whale events, source events, a health change, a gap,
or any other change (markets and fees, stale markets, the quote order, a candle history restart,
public trades, a keyframe). Those ticks are stepped.
"""
from __future__ import annotations

import numpy as np

from bot.lookahead import Lookahead, MarketAhead

CLOSE = 4  # LightBlock.candles columns: ts, open, high, low, close, volume
_NONE = np.empty(0)
_NONE.setflags(write=False)


def _empty(replay) -> Lookahead:
    nothing = np.empty(0)
    markets = {replay.keys[i]: MarketAhead(nothing, np.empty(0, dtype=np.int64), nothing, nothing)
               for i in replay._order}
    return Lookahead(0, nothing, np.empty(0, dtype=bool), markets, traded=replay._markets, no_news=True)


def lookahead_of(replay, block) -> Lookahead:
    """The Lookahead of a light block of the replay's next snapshots (None: nothing), cut before the first maybe."""
    if block is None or len(block) == 0:
        return _empty(replay)
    maybe = block.news | block.whales | block.events | block.health | block.gap | block.changed
    hits = np.flatnonzero(maybe)
    cut = int(hits[0]) if hits.size else len(block)
    if cut == 0:
        return _empty(replay)
    in_stretch = block.candle_row < cut
    rows, owners, closes_added = block.candle_row[in_stretch], block.candle_key[in_stretch], \
        block.candles[in_stretch, CLOSE]
    ticks = np.arange(cut)
    constant: dict[int, np.ndarray] = {}  # closed counts of markets without a new candle, by count (shared)
    markets = {}
    bids, asks = block.bid[:cut], block.ask[:cut]
    for i in replay._order:
        key = replay.keys[i]
        tape = replay._tapes.get(key)
        old = tape.view().closes if tape is not None else _NONE
        mine = owners == i if rows.shape[0] else None
        if mine is not None and mine.any():
            closes = np.concatenate((old, closes_added[mine]))
            closed = old.shape[0] + np.searchsorted(rows[mine], ticks, side="right")
        else:
            closes = old
            closed = constant.get(old.shape[0])
            if closed is None:
                closed = constant[old.shape[0]] = np.full(cut, old.shape[0], dtype=np.int64)
        markets[key] = MarketAhead(bids[:, i], closed, closes, asks[:, i])
    return Lookahead(int(block.tick[0]), block.ts[:cut], block.new_candle[:cut], markets,
                     traded=replay._markets, no_news=True)
