"""News's fast-forward screen (NewsStrategy.quiet_ticks) and its skipped-stretch bookkeeping.

On a tick without headlines the strategy acts only at its minute checks. A check decides, for
every symbol with headlines held or a position, an exit (score <= -exit_reversal_score, or the
position holding_minutes old) or an entry (score >= entry_score, and more conditions that only
make it rarer). The screen computes each check's scores as aggregate does (headlines not yet
forgotten, decayed to the check's time) and flags a check as "maybe" when a test passes or comes
within a margin of passing. A check that cannot signal still changes state: skipped() runs it
(aggregate forgets faded headlines, a held position's time is noted, the next check is set).
Only a source that promises no news item and no whale in the block (Lookahead.no_news) is screened.
"""
from __future__ import annotations

import math

from bot.models import split_symbol
from bot.strategies.common import is_dust

SCORE_MARGIN = 1e-9  # relative to the threshold (plus this, absolute)
AGE_MARGIN = 1e-6  # seconds


class _Markets:
    """The part of a snapshot is_dust reads."""

    __slots__ = ("markets",)

    def __init__(self, markets):
        self.markets = markets


def _checks(strategy, lookahead, count: int) -> list[int]:
    """The tick indexes among the first `count` at which on_snapshot runs its minute check."""
    out = []
    next_check = strategy._next_check_ts
    for j, ts in enumerate(lookahead.ts[:count].tolist()):
        if ts >= next_check:
            out.append(j)
            next_check = ts + strategy.check_seconds
    return out


def _score(strategy, symbol: str, now: float) -> float:
    """aggregate(symbol, now) without forgetting anything (the same sum, the same order)."""
    total = 0.0
    for headline in strategy._headlines.get(symbol, ()):
        if now - headline.ts < strategy._forget_seconds:
            total += headline.score * strategy._weight(headline, now)
    return total


def first_maybe(strategy, lookahead, view) -> int:
    """The index of the first minute check that could give a signal; len(lookahead) when none."""
    n = len(lookahead)
    if not lookahead.no_news or lookahead.traded is None:
        return 0
    p = strategy.params
    snapshot = _Markets(lookahead.traded)
    held_symbols = {strategy.symbol_by_asset[position.asset] for position in view.positions()
                    if position.asset in strategy.symbol_by_asset}
    for j in _checks(strategy, lookahead, n):
        now = float(lookahead.ts[j])
        for symbol in set(strategy._headlines) | held_symbols:
            score = _score(strategy, symbol, now)
            position = view.position(split_symbol(symbol)[0])
            if position is not None and position.qty > 0 and not is_dust(snapshot, position, symbol):
                if score <= -p.exit_reversal_score * (1 - SCORE_MARGIN) + SCORE_MARGIN \
                        or now - position.opened_ts >= strategy._holding_seconds - AGE_MARGIN \
                        or not math.isfinite(score):
                    return j
            elif score >= p.entry_score * (1 - SCORE_MARGIN) - SCORE_MARGIN or not math.isfinite(score):
                return j
    return n


def skipped(strategy, lookahead, count: int, view) -> None:
    """Run the minute checks of the first `count` ticks for what they change (no signal: screened)."""
    snapshot = _Markets(lookahead.traded)
    for j in _checks(strategy, lookahead, count):
        now = float(lookahead.ts[j])
        strategy._next_check_ts = now + strategy.check_seconds
        touched = set(strategy._headlines)
        touched.update(strategy.symbol_by_asset[p.asset] for p in view.positions() if p.asset in strategy.symbol_by_asset)
        for symbol in sorted(touched):
            strategy.aggregate(symbol, now)
            position = view.position(split_symbol(symbol)[0])
            if position is not None and position.qty > 0 and not is_dust(snapshot, position, symbol):
                strategy._held_ts[symbol] = now
