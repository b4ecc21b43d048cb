"""Stat-arb's fast-forward screen (StatArbStrategy.quiet_ticks): on_snapshot's per-tick z-score
tests, on a lookahead's bid and ask arrays.

Candle ticks are never screened: on them the strategy refreshes its spread statistics, applies or
submits a cointegration round (its scheduled re-tests), which only stepping does exactly. Between
candles the model and statistics are fixed and, as nothing trades in a skipped stretch, so are
the positions: each tested pair either owns a held spread (its exit tests: reverted or stopped),
or has an asset held elsewhere (no decision), or may enter (entry_z <= |z| < stop_z). z is
computed element-wise as spread_zscore does, and a tick whose z comes within SCREEN_MARGIN of a
band edge counts as "maybe". A pair marked closing, or an orphan to close, acts on every tick: 0.
"""
from __future__ import annotations

import numpy as np

SCREEN_MARGIN = 1e-6  # absolute, in z: far above the rounding of a log-spread over its std


class _Markets:
    """The part of a snapshot StatArbStrategy._held reads."""

    __slots__ = ("markets",)

    def __init__(self, markets):
        self.markets = markets


def _zscores(lookahead, state, n: int) -> np.ndarray:
    """z at each tick's quote mids (nan where a quote or a price is missing, as spread_zscore)."""
    ahead_y = lookahead.markets.get((state.exchange, state.candidate.y))
    ahead_x = lookahead.markets.get((state.exchange, state.candidate.x))
    if ahead_y is None or ahead_x is None or not state.std > 0:
        return np.full(n, np.nan)
    mid_y = (ahead_y.bid + ahead_y.ask) * 0.5
    mid_x = (ahead_x.bid + ahead_x.ask) * 0.5
    result = state.result
    with np.errstate(invalid="ignore", divide="ignore"):
        good = (mid_y > 0.0) & (mid_x > 0.0)
        spread = np.log(np.where(good, mid_y, np.nan)) - result.beta * np.log(np.where(good, mid_x, np.nan)) \
            - result.alpha
        return (spread - state.mean) / state.std


def first_maybe(strategy, lookahead, view) -> int:
    """The index of the first tick on which the strategy might signal or change state; len when none."""
    n = len(lookahead)
    if not strategy._seen_a_snapshot or lookahead.traded is None:
        return 0
    candles = np.flatnonzero(lookahead.new_candle)
    first = int(candles[0]) if candles.size else n
    if not strategy.pairs and not strategy._orphans:
        return first
    if strategy._orphans or any(state.closing_reason for state in strategy.pairs.values()):
        return 0
    p = strategy.params
    held = strategy._held(_Markets(lookahead.traded), view)
    owners = strategy._owners(held)
    maybe = np.zeros(n, dtype=bool)
    for candidate, state in strategy.pairs.items():
        if candidate in owners:
            z = _zscores(lookahead, state, n)
            with np.errstate(invalid="ignore"):
                if held[candidate.y_asset].qty < 0:  # a short spread: exits at z <= exit_z or z >= stop_z
                    maybe |= (z <= p.exit_z + SCREEN_MARGIN) | (z >= p.stop_z - SCREEN_MARGIN)
                else:
                    maybe |= (z >= -p.exit_z - SCREEN_MARGIN) | (z <= -p.stop_z + SCREEN_MARGIN)
        elif candidate.y_asset in held or candidate.x_asset in held:
            continue  # claimed by a holding: on_snapshot passes it by
        else:
            z = np.abs(_zscores(lookahead, state, n))
            with np.errstate(invalid="ignore"):
                maybe |= (z >= p.entry_z - SCREEN_MARGIN) & (z < p.stop_z + SCREEN_MARGIN)
    hits = np.flatnonzero(maybe[:first])
    return int(hits[0]) if hits.size else first
