"""The round-trips page's summary: per-symbol figures and a daily and weekly P&L calendar.

It reads the round trips PerformanceFigures already built (bot/accounting/roundtrips.py) and
the figures statistics.trade_stats makes of them: nothing is derived twice. Days and weeks are
on the market clock in UTC (the clock round trips are timed on); a round trip counts on the
day and in the ISO week (Monday to Sunday) it closed. Open round trips have no day yet.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable

from bot.accounting.roundtrips import RoundTrip
from bot.accounting.statistics import per_symbol, trade_stats


def trip_matches(trip: RoundTrip, strategy: str | None = None, symbol: str | None = None,
                 exchange: str | None = None, outcome: str | None = None, start: float | None = None,
                 end: float | None = None) -> bool:
    """The filters of GET /api/roundtrips: a time range matches a round trip open at some moment
    of it; outcome (win: net P&L > 0, loss: <= 0, as trade_stats counts them) keeps closed ones."""
    if strategy is not None and trip.strategy != strategy:
        return False
    if symbol is not None and symbol not in trip.legs:
        return False
    if exchange is not None and exchange not in trip.exchanges:
        return False
    if outcome is not None and (not trip.closed or (trip.net_pnl > 0) != (outcome == "win")):
        return False
    if end is not None and trip.opened_ts > end:
        return False
    return start is None or trip.closed_ts is None or trip.closed_ts >= start


def row_matches(row: dict, exchange: str | None, outcome: str | None) -> bool:
    """exchange and outcome applied to a round trip as the API lists it (the other filters are
    PerformanceFigures.listing's)."""
    if exchange is not None and exchange not in row["exchanges"]:
        return False
    return outcome is None or (row["status"] == "closed" and (row["net_pnl"] > 0) == (outcome == "win"))


def calendar(trips: Iterable[RoundTrip]) -> dict:
    """{"days": [...], "weeks": [...]}, oldest first: net P&L, round trips, wins and losses of the
    round trips that closed in each UTC day / ISO week, with the fees they paid."""
    days: dict[str, dict] = {}
    weeks: dict[str, dict] = {}
    for trip in trips:
        if not trip.closed or trip.closed_ts is None:
            continue
        moment = datetime.fromtimestamp(trip.closed_ts, tz=timezone.utc)
        day = moment.date()
        year, week, _ = day.isocalendar()
        monday = day - timedelta(days=day.weekday())
        _add(days.setdefault(day.isoformat(), {"date": day.isoformat(), **_zero()}), trip)
        _add(weeks.setdefault(f"{year}-W{week:02d}", {"week": f"{year}-W{week:02d}", "start": monday.isoformat(),
                                                      "end": (monday + timedelta(days=6)).isoformat(), **_zero()}),
             trip)
    return {"days": [days[k] for k in sorted(days)], "weeks": [weeks[k] for k in sorted(weeks)]}


def _zero() -> dict:
    return {"net_pnl": 0.0, "fees_usdt": 0.0, "round_trips": 0, "wins": 0, "losses": 0}


def _add(bucket: dict, trip: RoundTrip) -> None:
    bucket["net_pnl"] += trip.net_pnl
    bucket["fees_usdt"] += trip.fees_usdt
    bucket["round_trips"] += 1
    bucket["wins" if trip.net_pnl > 0 else "losses"] += 1


def summary(trips: list[RoundTrip]) -> dict:
    """Overall figures, per-symbol figures ('A + B' for a pair) and the calendar of these trips."""
    return {"overall": trade_stats(trips), "symbols": per_symbol(trips), **calendar(trips)}
