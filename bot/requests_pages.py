"""Query models of the round-trips summary, wallets, logs and trade-search endpoints.

Checked like every other request (bot/requests.py): a bad value is a CommandError naming the
parameter; the running bot checks names (strategy, symbol, exchange) against what it knows.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import ConfigDict, Field

from bot.log_tail import LEVELS, SOURCES
from bot.requests import MAX_QUERY_CHARS, QueryModel

_TIME = "ISO 8601 time or epoch seconds (market clock)"


class RoundTripsSummaryQuery(QueryModel):
    """GET /api/roundtrips/summary: the filters of GET /api/roundtrips, no paging."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, populate_by_name=True)

    strategy: Optional[str] = Field(None, max_length=64, description="a strategy name")
    symbol: Optional[str] = Field(None, max_length=64, description="a ccxt symbol such as BTC/USDT")
    exchange: Optional[str] = Field(None, max_length=64, description="an exchange name")
    outcome: Optional[Literal["win", "loss"]] = Field(None, description="win (net P&L > 0) or loss (<= 0)")
    start: Optional[str] = Field(None, alias="from", max_length=40, description=_TIME)
    end: Optional[str] = Field(None, alias="to", max_length=40, description=_TIME)


class LogsQuery(QueryModel):
    """GET /api/logs: which log, filters, and the page (before: a byte offset from the last answer)."""

    source: Literal[SOURCES] = Field("activity", description=f"one of {', '.join(SOURCES)}")
    level: Optional[Literal[LEVELS]] = Field(None, description=f"the lowest level shown: one of {', '.join(LEVELS)}")
    strategy: Optional[str] = Field(None, max_length=64, description="a strategy name")
    q: Optional[str] = Field(None, max_length=MAX_QUERY_CHARS, description="text to search for in the message")
    limit: int = Field(100, ge=1, le=500, description="a whole number from 1 to 500")
    before: Optional[int] = Field(None, ge=0, le=2**62, description="byte offset (older_before of the previous page)")


class TradeSearchQuery(QueryModel):
    """GET /api/journal/trades: the trade picker's search over the whole ledger."""

    q: Optional[str] = Field(None, max_length=MAX_QUERY_CHARS,
                             description="text found in the id, symbol, exchange, side or reason")
    strategy: Optional[str] = Field(None, max_length=64, description="a strategy name")
    limit: int = Field(50, ge=1, le=200, description="a whole number from 1 to 200")
