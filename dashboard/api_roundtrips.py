"""GET /api/roundtrips: the round trips derived from the ledger, filtered and paged.

Filters: strategy, symbol, status (open|closed), from / to (ISO 8601 or epoch seconds, market
clock; a round trip matches when it was open at some moment of the range). Paging: limit
(1-1000, default 100) with offset (default 0) or page (1-based). A bad value, an unknown
strategy or symbol, a reversed range or a page beyond the end is a 400 naming the field.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from bot.models import parse_iso
from dashboard.security import json_error

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

roundtrips_api = Blueprint("roundtrips_api", __name__, url_prefix="/api")


class BadArgument(ValueError):
    """A query argument that cannot be used; field names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _ctx():
    return current_app.extensions["dashboard"]


def _whole(name: str, default: int | None, low: int, high: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise BadArgument(name, f"{name} must be a whole number {bound} (got {raw!r})")
    return value


def _time(name: str) -> float | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return parse_iso(raw)
    except ValueError:
        raise BadArgument(name, f"{name} must be an ISO 8601 time or epoch seconds (got {raw!r})") from None


def _choice(name: str, known: list[str]) -> str | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw not in known:
        raise BadArgument(name, f"unknown {name} {raw!r}; known: {', '.join(known)}")
    return raw


def _filters(facade, engine) -> dict:
    symbols = sorted(set(engine.source.symbols) | facade.performance_synced(_ctx().cooperate).symbols())
    filters = {"strategy": _choice("strategy", facade.strategy_names()), "symbol": _choice("symbol", symbols),
               "status": _choice("status", ["closed", "open"]), "start": _time("from"), "end": _time("to")}
    if filters["start"] is not None and filters["end"] is not None and filters["end"] < filters["start"]:
        raise BadArgument("to", f"to ({request.args['to']}) is before from ({request.args['from']})")
    return filters


@roundtrips_api.get("/roundtrips")
def roundtrips():
    ctx = _ctx()
    try:
        filters = _filters(ctx.facade, ctx.engine)
        limit = _whole("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        page = _whole("page", None, 1)
        offset = _whole("offset", None, 0)
        if page is not None and offset is not None:
            raise BadArgument("page", "give page or offset, not both")
    except BadArgument as exc:
        return json_error(str(exc), 400, exc.field)
    rows = ctx.facade.round_trips(ctx.cooperate, **filters)
    total = len(rows)
    start = (page - 1) * limit if page is not None else (offset or 0)
    if start >= total and start > 0:
        field = "page" if page is not None else "offset"
        return json_error(f"{field} is beyond the end: {total} round trips match, {limit} per page", 400, field)
    pages = (total + limit - 1) // limit
    return jsonify({"round_trips": rows[start:start + limit], "total": total, "limit": limit, "offset": start,
                    "page": start // limit + 1, "pages": pages})
