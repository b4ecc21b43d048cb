"""Arbitrage's fast-forward screen (ArbitrageStrategy.quiet_ticks): the per-tick top-of-book tests
of on_snapshot, on a lookahead's bid and ask arrays.

A cross-exchange signal needs, for its symbol, some exchange's bid x (1 - fee) above another's
ask x (1 + fee); a triangular one needs one of the cycle's two top-of-book inequalities. Every
deeper level of a book is worse than its top, so a tick that passes neither test gives no signal
whatever the books hold. The screen computes the same products element-wise, in on_snapshot's
order, and flags a tick as "maybe" when a test passes or comes within SCREEN_MARGIN (relative) of
passing; a quote missing at a tick (nan) takes no part, as on_snapshot skips it.
"""
from __future__ import annotations

import numpy as np

SCREEN_MARGIN = 1e-9  # relative: a test this close to passing counts as passing


def _maybe_cross(markets, venues, n: int) -> np.ndarray:
    """Ticks where the symbol's best bid after fees reaches (within the margin) its best ask after fees."""
    best_bid = np.zeros(n)
    best_ask = np.full(n, np.inf)
    for key, buy_factor, sell_factor, _ in venues:
        ahead = markets.get(key)
        if ahead is None:
            continue
        with np.errstate(invalid="ignore"):
            best_bid = np.fmax(best_bid, ahead.bid * sell_factor)  # fmax/fmin: a nan (no quote) takes no part
            best_ask = np.fmin(best_ask, ahead.ask * buy_factor)
    return ~(best_bid < best_ask * (1.0 - SCREEN_MARGIN))


def _maybe_triangle(markets, triangle, n: int) -> np.ndarray:
    """Ticks where either direction of the cycle passes (within the margin) its top-of-book test."""
    k_xu, k_yx, k_yu, b_xu, s_xu, b_yx, s_yx, b_yu, s_yu, _ = triangle
    xu, yx, yu = markets.get(k_xu), markets.get(k_yx), markets.get(k_yu)
    if xu is None or yx is None or yu is None:
        return np.zeros(n, dtype=bool)  # a market without quotes: on_snapshot skips the cycle
    low = 1.0 - SCREEN_MARGIN
    with np.errstate(invalid="ignore"):
        forward = yu.bid * s_yu > xu.ask * b_xu * yx.ask * b_yx * low
        reverse = yx.bid * s_yx * xu.bid * s_xu > yu.ask * b_yu * low
    return forward | reverse  # nan (a quote missing) compares False: no signal, as on_snapshot


def first_maybe(strategy, lookahead) -> int:
    """The index of the first tick on which the strategy might signal; len(lookahead) when none."""
    n = len(lookahead)
    markets = lookahead.markets
    maybe = np.zeros(n, dtype=bool)
    if strategy.params.cross_exchange:
        for _symbol, venues in strategy._cross:
            maybe |= _maybe_cross(markets, venues, n)
    if strategy.params.triangular:
        for triangle in strategy._triangles:
            maybe |= _maybe_triangle(markets, triangle, n)
    hits = np.flatnonzero(maybe)
    return int(hits[0]) if hits.size else n
