"""execution: how paper orders fill (slippage cap, partial fills, latency per exchange, order
time-out), the liquidity our fills take from a book, and, on the simulator, their market impact."""
from __future__ import annotations

from pydantic import Field, field_validator

from bot.config_base import ConfigModel

_Model = ConfigModel


# Order round trip to each exchange's matching engine, in ms: what a bot on a typical cloud host
# in the exchange's region sees through the public REST API. Binance (AWS Tokyo) acknowledges
# fast; Kraken and Coinbase sit behind more layers (Cloudflare, a slower order gateway) and are
# commonly reported at 100-150 ms. "default" covers every exchange not named. Estimates, not
# measurements of your host: set your own, or {default: 0} for fills on the decision snapshot.
DEFAULT_LATENCY_MS = {"binance": 50.0, "kraken": 120.0, "coinbase": 100.0, "default": 150.0}
MAX_LATENCY_MS = 60_000.0


class LiquidityConfig(_Model):
    """execution.liquidity: what our fills take from a book stays taken and refills over time."""

    # Off: every book is read as the exchange shows it (instant refill, the plain book walk).
    enabled: bool = True
    # Our take at a level comes back exponentially: half of it after this many seconds. Depth at
    # the touch of liquid spot books recovers within seconds to a minute after a sweep.
    refill_half_life_seconds: float = Field(15.0, gt=0, le=86_400)


class ImpactConfig(_Model):
    """execution.impact: on the simulator, our fills move the quotes (bot/market/sim_impact.py)."""

    enabled: bool = True
    # Move of the traded market's quotes, in bps, for a fill that takes all the visible depth
    # within the slippage cap (a fill taking 5% of it moves them 5% of this); it decays away.
    temporary_bps: float = Field(20.0, ge=0, le=10_000)
    temporary_half_life_seconds: float = Field(30.0, gt=0, le=86_400)
    # Lasting move of the asset's true price (every exchange), in bps, at the same scale.
    permanent_bps: float = Field(5.0, ge=0, le=10_000)


class ExecutionConfig(_Model):
    """execution: slippage cap, partial fills, latency, order time-out, liquidity memory, market impact."""

    max_slippage_pct: float = Field(0.5, gt=0, le=50)
    allow_partial_fills: bool = True
    # Per exchange id (and "default" for the rest): ms from the decision to the order reaching the book.
    latency_ms: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_LATENCY_MS))
    # An order whose book has not refreshed this long (market time) after its decision is a miss.
    order_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    liquidity: LiquidityConfig = Field(default_factory=LiquidityConfig)
    impact: ImpactConfig = Field(default_factory=ImpactConfig)

    @field_validator("latency_ms")
    @classmethod
    def _latencies(cls, value: dict[str, float]) -> dict[str, float]:
        for exchange, ms in value.items():
            if not exchange or exchange != exchange.lower():
                raise ValueError(f"{exchange or '(empty)'}: keys must be lowercase exchange ids or 'default'")
            if ms < 0:
                raise ValueError(f"{exchange}: must be >= 0 ms (got {ms:g})")
            if ms > MAX_LATENCY_MS:
                raise ValueError(f"{exchange}: must be <= {MAX_LATENCY_MS:g} ms (got {ms:g})")
        return value

    def latency_for(self, exchange: str) -> float:
        """The latency in ms of an exchange: its own entry, else "default", else the built-in default."""
        value = self.latency_ms.get(exchange)
        if value is None:
            value = self.latency_ms.get("default", DEFAULT_LATENCY_MS["default"])
        return value
