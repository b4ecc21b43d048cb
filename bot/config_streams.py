"""market.live.streams: how the live market reads exchange WebSocket streams (ccxt.pro).

Streams are tried first for every exchange ccxt.pro supports; REST polling (market.live) stays
the fallback per exchange and the candle backfill at start (bot/market/live_stream.py).
"""
from __future__ import annotations

from pydantic import Field

from bot.config_base import ConfigModel


class StreamsConfig(ConfigModel):
    """Stream settings; the age limits apply to the exchange's timestamp and to our receive time."""

    enabled: bool = True
    # Books and quotes from a stream older than this are stale (left out of the snapshot).
    max_book_age_seconds: float = Field(2.0, gt=0, le=3600)
    max_quote_age_seconds: float = Field(5.0, gt=0, le=3600)
    # No message at all for this long: the connection counts as silent and is reopened.
    silence_seconds: float = Field(2.0, gt=0, le=3600)
    # Poll REST while an exchange's stream is down (False: the exchange is down until it is back).
    rest_fallback: bool = True
    reconnect_base_seconds: float = Field(0.5, gt=0, le=600)
    reconnect_max_seconds: float = Field(30.0, gt=0, le=3600)
    trades_kept: int = Field(2_000, ge=10, le=1_000_000)  # public trades kept per market
