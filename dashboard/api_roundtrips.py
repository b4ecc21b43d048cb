"""GET /api/roundtrips: the round trips derived from the ledger, filtered and paged.

Filters: strategy, symbol, status (open|closed), from / to (ISO 8601 or epoch seconds, market
clock; a round trip matches when it was open at some moment of the range). Paging: limit
(1-1000, default 100) with offset (default 0) or page (1-based). A bad value, an unknown
strategy or symbol, a reversed range or a page beyond the end is a 400 naming the field.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from bot.models import parse_iso
from bot.requests import CommandError, RoundTripsQuery
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


@roundtrips_api.get("/roundtrips")
def roundtrips():
    ctx = _ctx()
    facade = ctx.facade
    query = parse_query(RoundTripsQuery)
    _known("strategy", query.strategy, facade.strategy_names())
    _known("symbol", query.symbol, set(ctx.engine.source.symbols) | facade.performance_synced(ctx.cooperate).symbols())
    start, end = _time("from", query.start), _time("to", query.end)
    if start is not None and end is not None and end < start:
        raise CommandError(f"to ({query.end}) is before from ({query.start})", "to")
    if query.page is not None and query.offset is not None:
        raise CommandError("give page or offset, not both", "page")
    rows = facade.round_trips(ctx.cooperate, strategy=query.strategy, symbol=query.symbol, status=query.status,
                              start=start, end=end)
    total, limit = len(rows), query.limit
    first = (query.page - 1) * limit if query.page is not None else (query.offset or 0)
    if first >= total and first > 0:
        field = "page" if query.page is not None else "offset"
        raise CommandError(f"{field} is beyond the end: {total} round trips match, {limit} per page", field)
    return jsonify({"round_trips": rows[first:first + limit], "total": total, "limit": limit, "offset": first,
                    "page": first // limit + 1, "pages": (total + limit - 1) // limit})
