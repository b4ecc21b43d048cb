"""GET /api/roundtrips: the round trips derived from the ledger, filtered and paged.

Filters: strategy, symbol, status (open|closed), from / to (ISO 8601 or epoch seconds, market
clock; a round trip matches when it was open at some moment of the range). Paging: limit
(1-1000, default 100) with offset (default 0) or page (1-based). A bad value, an unknown
strategy or symbol, a reversed range or a page beyond the end is a 400 naming the field.
exchange and outcome (win|loss) narrow the list further (bot/accounting/trip_summary.py).

GET /api/roundtrips/summary: the same filters (no status, no paging): overall and per-symbol
figures and the daily and weekly P&L calendar of the closed round trips (market clock, UTC).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from bot.timestamps import iso_utc, parse_iso
from bot.accounting.trip_summary import row_matches, summary, trip_matches
from bot.requests import CommandError, RoundTripsQuery, validate_request
from bot.requests_pages import RoundTripsSummaryQuery
from dashboard.parsing import parse_query

roundtrips_api = Blueprint("roundtrips_api", __name__, url_prefix="/api")


def _ctx():
    return current_app.extensions["dashboard"]


def _time(name: str, raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return parse_iso(raw)
    except ValueError:
        raise CommandError(f"{name} must be an ISO 8601 time or epoch seconds (got {raw!r})", name) from None


def _known(name: str, value: str | None, known) -> None:
    if value is not None and value not in known:
        raise CommandError(f"unknown {name} {value!r}; known: {', '.join(sorted(known))}", name)


_PAGE_PARAMETERS = ("exchange", "outcome")


def _checked_filters(ctx, query) -> tuple[float | None, float | None]:
    """Refuse unknown names and a reversed range; returns (start, end) in epoch seconds."""
    facade = ctx.facade
    _known("strategy", query.strategy, facade.strategy_names())
    _known("symbol", query.symbol, set(ctx.engine.source.symbols) | facade.performance_synced(ctx.cooperate).symbols())
    start, end = _time("from", query.start), _time("to", query.end)
    if start is not None and end is not None and end < start:
        raise CommandError(f"to ({query.end}) is before from ({query.start})", "to")
    return start, end


def _page_filters(ctx) -> tuple[str | None, str | None]:
    """exchange and outcome, taken out of the query string before RoundTripsQuery checks the rest."""
    query = validate_request(RoundTripsSummaryQuery, {k: v for k, v in request.args.items()
                                                       if k in _PAGE_PARAMETERS and v != ""})
    _known("exchange", query.exchange, set(ctx.engine.source.exchanges))
    return query.exchange, query.outcome


@roundtrips_api.get("/roundtrips/summary")
def roundtrips_summary():
    ctx = _ctx()
    query = parse_query(RoundTripsSummaryQuery)
    _known("exchange", query.exchange, set(ctx.engine.source.exchanges))
    start, end = _checked_filters(ctx, query)
    trips = [trip for trip in ctx.facade.performance_synced(ctx.cooperate).trips_of(query.strategy)
             if trip_matches(trip, query.strategy, query.symbol, query.exchange, query.outcome, start, end)]
    snapshot = ctx.engine.last_snapshot
    return jsonify({**summary(trips), "as_of": iso_utc(snapshot.ts) if snapshot else None})


@roundtrips_api.get("/roundtrips")
def roundtrips():
    ctx = _ctx()
    facade = ctx.facade
    exchange, outcome = _page_filters(ctx)
    query = validate_request(RoundTripsQuery, {k: v for k, v in request.args.items()
                                               if k not in _PAGE_PARAMETERS and v != ""})
    start, end = _checked_filters(ctx, query)
    if query.page is not None and query.offset is not None:
        raise CommandError("give page or offset, not both", "page")
    rows = facade.round_trips(ctx.cooperate, strategy=query.strategy, symbol=query.symbol, status=query.status,
                              start=start, end=end)
    if exchange is not None or outcome is not None:
        rows = [row for row in rows if row_matches(row, exchange, outcome)]
    total, limit = len(rows), query.limit
    first = (query.page - 1) * limit if query.page is not None else (query.offset or 0)
    if first >= total and first > 0:
        field = "page" if query.page is not None else "offset"
        raise CommandError(f"{field} is beyond the end: {total} round trips match, {limit} per page", field)
    return jsonify({"round_trips": rows[first:first + limit], "total": total, "limit": limit, "offset": first,
                    "page": first // limit + 1, "pages": (total + limit - 1) // limit})
