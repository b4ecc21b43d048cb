"""Stat-arb's fast-forward screen (StatArbStrategy.quiet_ticks): on_snapshot's per-tick z-score
tests, on a lookahead's bid and ask arrays.

A candle tick that applies or submits a cointegration round (the scheduled re-tests) is a maybe:
only stepping does that. On the other candle ticks the strategy only refreshes each pair's spread
statistics: the screen computes them as _refresh_stats does (the same closes, spread_stats) and
skipped() sets them for the stretch's candles, in order. Between candles model and statistics are
fixed and, as nothing trades in a skipped stretch, so are the positions: each tested pair either owns a held spread (its exit tests: reverted or stopped),
or has an asset held elsewhere (no decision), or may enter (entry_z <= |z| < stop_z). z is
computed element-wise as spread_zscore does, and a tick whose z comes within SCREEN_MARGIN of a
band edge counts as "maybe". A pair marked closing, or an orphan to close, acts on every tick: 0.
"""
from __future__ import annotations

import math

import numpy as np

from bot.strategies.cointegration import spread_stats

CANDLE_SECONDS = 60

SCREEN_MARGIN = 1e-6  # absolute, in z: far above the rounding of a log-spread over its std


class _Markets:
    """The part of a snapshot StatArbStrategy._held reads."""

    __slots__ = ("markets",)

    def __init__(self, markets):
        self.markets = markets


def _zscores(lookahead, state, mean: np.ndarray, std: np.ndarray, n: int) -> np.ndarray:
    """z at each tick's quote mids with each tick's statistics (nan where a quote, a price or the
    statistics are missing, as spread_zscore)."""
    ahead_y = lookahead.markets.get((state.exchange, state.candidate.y))
    ahead_x = lookahead.markets.get((state.exchange, state.candidate.x))
    if ahead_y is None or ahead_x is None:
        return np.full(n, np.nan)
    mid_y = (ahead_y.bid + ahead_y.ask) * 0.5
    mid_x = (ahead_x.bid + ahead_x.ask) * 0.5
    result = state.result
    with np.errstate(invalid="ignore", divide="ignore"):
        good = (mid_y > 0.0) & (mid_x > 0.0) & (std > 0.0)
        spread = np.log(np.where(good, mid_y, np.nan)) - result.beta * np.log(np.where(good, mid_x, np.nan)) \
            - result.alpha
        return (spread - mean) / np.where(good, std, np.nan)


def _closes(lookahead, key, j: int, count: int) -> np.ndarray | None:
    """What recent_closes(snapshot, *key, count) gives at tick j of the lookahead (None: nothing)."""
    if key not in lookahead.traded:
        return None
    ahead = lookahead.markets.get(key)
    if ahead is None:
        return None
    values = ahead.closes[:int(ahead.closed[j])][-count:]
    return values if values.shape[0] > 0 else None


STATS_KEPT = 4096  # memoised statistics (per pair and candle tick) kept across looks


def stats_at(strategy, lookahead, state, j: int) -> tuple[float, float] | None:
    """The spread statistics _refresh_stats would set at candle tick j, or None (it keeps the last).
    A function of the recorded closes and the pair's model only, so memoised across looks."""
    memo = strategy._stats_memo
    key = (state.candidate, state.exchange, state.result.beta, state.result.alpha, lookahead.start_tick + j,
           int(lookahead.markets[(state.exchange, state.candidate.y)].closed[j])
           if (state.exchange, state.candidate.y) in lookahead.markets else -1)
    if key in memo:
        return memo[key]
    if len(memo) >= STATS_KEPT:
        memo.clear()
    memo[key] = value = _stats_at(strategy, lookahead, state, j)
    return value


def _stats_at(strategy, lookahead, state, j: int) -> tuple[float, float] | None:
    count = strategy.params.lookback_candles
    y = _closes(lookahead, (state.exchange, state.candidate.y), j, count)
    x = _closes(lookahead, (state.exchange, state.candidate.x), j, count)
    if y is None or x is None:
        return None
    n = min(y.shape[0], x.shape[0])
    mean, std = spread_stats(y[-n:], x[-n:], state.result.beta, state.result.alpha)
    if math.isfinite(mean) and math.isfinite(std) and std > 0:
        return mean, std
    return None


def schedule(strategy, lookahead) -> tuple[int, list[tuple[int, int, dict]]]:
    """(the first candle tick that applies or submits a cointegration round, or len; the statistics
    refreshed at each earlier candle tick: (tick index, minute, {pair: (mean, std)}))."""
    n = len(lookahead)
    pending, next_test = strategy._pending, strategy._next_test_ts
    minutes = {candidate: state.stats_minute for candidate, state in strategy.pairs.items()}
    updates = []
    for j in np.flatnonzero(lookahead.new_candle).tolist():
        ts = float(lookahead.ts[j])
        minute = int(ts // CANDLE_SECONDS)
        if pending is not None and minute > pending.minute:
            return j, updates  # a round's results are applied here
        if pending is None and (next_test is None or ts >= next_test):
            return j, updates  # a round is submitted here
        refreshed = {}
        for candidate, state in strategy.pairs.items():
            if minutes[candidate] != minute:
                values = stats_at(strategy, lookahead, state, j)
                if values is not None:
                    refreshed[candidate] = values
                    minutes[candidate] = minute
        updates.append((j, minute, refreshed))
    return n, updates


def first_maybe(strategy, lookahead, view) -> int:
    """The index of the first tick on which the strategy might signal or do what only stepping does."""
    n = len(lookahead)
    if not strategy._seen_a_snapshot or lookahead.traded is None:
        return 0
    if strategy._orphans or any(state.closing_reason for state in strategy.pairs.values()):
        return 0
    first, updates = schedule(strategy, lookahead)
    strategy._screened = (lookahead.start_tick, updates)
    if not strategy.pairs:
        return first
    p = strategy.params
    held = strategy._held(_Markets(lookahead.traded), view)
    owners = strategy._owners(held)
    maybe = np.zeros(n, dtype=bool)
    for candidate, state in strategy.pairs.items():
        if candidate not in owners and (candidate.y_asset in held or candidate.x_asset in held):
            continue  # claimed by a holding: on_snapshot passes it by
        mean, std = np.full(n, state.mean), np.full(n, state.std)
        for j, _minute, refreshed in updates:
            if candidate in refreshed:
                mean[j:], std[j:] = refreshed[candidate]
        z = _zscores(lookahead, state, mean, std, n)
        with np.errstate(invalid="ignore"):
            if candidate in owners:
                if held[candidate.y_asset].qty < 0:  # a short spread: exits at z <= exit_z or z >= stop_z
                    maybe |= (z <= p.exit_z + SCREEN_MARGIN) | (z >= p.stop_z - SCREEN_MARGIN)
                else:
                    maybe |= (z >= -p.exit_z - SCREEN_MARGIN) | (z <= -p.stop_z + SCREEN_MARGIN)
            else:
                z = np.abs(z)
                maybe |= (z >= p.entry_z - SCREEN_MARGIN) & (z < p.stop_z + SCREEN_MARGIN)
    hits = np.flatnonzero(maybe[:first])
    return int(hits[0]) if hits.size else first


def skipped(strategy, lookahead, count: int) -> None:
    """The statistics refreshed at the candle ticks of the skipped stretch, in order, as stepping sets them."""
    screened = getattr(strategy, "_screened", None)
    if screened is None or screened[0] != lookahead.start_tick:
        _first, updates = schedule(strategy, lookahead)
    else:
        updates = screened[1]
    strategy._screened = None
    for j, minute, refreshed in updates:
        if j >= count:
            break
        for candidate, (mean, std) in refreshed.items():
            state = strategy.pairs[candidate]
            state.mean, state.std, state.stats_minute = mean, std, minute
