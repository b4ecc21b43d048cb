"""What margin does over a fast-forwarded stretch (bot/fast_forward.py): where it would act first.

With shorts open, each tick BooksKeeper bills the borrow fees that are due and MarginDesk calls
the shorts under maintenance. Over a stretch nothing trades, so the accruals, the collateral and
the cash pools are constant, and only the prices move. The stretch is cut before the first tick
on which a bill falls due (ts - since_ts reaches the booking interval) or a short's margin level
(collateral over qty x its exchange's mid, as shorts_below computes it) comes within a margin of
the maintenance ratio; a tick without the exchange's quote (the level would use the mark) is cut
too. Closed accruals (billed on the next tick) and margin calls in progress keep the engine
stepping (FastForward._idle).
"""
from __future__ import annotations

import numpy as np

from bot.accounting.margin_desk import short_collaterals
from bot.models import PORTFOLIO_QUOTE

LEVEL_MARGIN = 1e-9  # relative: a level this close to maintenance is a tick that is stepped
TIME_MARGIN = 1e-6  # seconds before a bill falls due


def margin_idle(books, portfolio) -> bool:
    """True when margin can only act on a schedule the stretch can be cut at (no call in progress,
    no closed accrual waiting for its bill)."""
    if books.rules is None:
        return True
    return not books.desk.calls and all(accrual.qty > 0 for accrual in portfolio.accruals.values())


def first_margin_tick(books, portfolio, lookahead, end: int) -> int:
    """The first tick index below `end` on which a borrow bill is due or a margin call may come."""
    rules = books.rules
    if rules is None or (not portfolio.accruals and not portfolio.shorts):
        return end
    ts = lookahead.ts[:end]
    hits = [end]
    for accrual in portfolio.accruals.values():
        due = np.flatnonzero(ts - accrual.since_ts >= rules.borrow_interval_seconds - TIME_MARGIN)
        if due.size:
            hits.append(int(due[0]))
    for _, asset, exchange, qty, collateral in short_collaterals(portfolio, rules):
        ahead = lookahead.markets.get((exchange, f"{asset}/{PORTFOLIO_QUOTE}"))
        if ahead is None:
            return 0  # its price is the mark: not screened
        bid, ask = ahead.bid[:end], ahead.ask[:end]
        with np.errstate(invalid="ignore", divide="ignore"):
            quoted = (bid > 0) & (ask > 0)
            value = qty * ((bid + ask) * 0.5)
            level = np.where(value > 0, collateral / value, np.inf)
            maybe = ~quoted | ~(level >= rules.maintenance_ratio * (1.0 + LEVEL_MARGIN))
        found = np.flatnonzero(maybe)
        if found.size:
            hits.append(int(found[0]))
    return min(hits)
