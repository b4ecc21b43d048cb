"""The interface every market source implements, simulated or live."""
from __future__ import annotations

from abc import ABC, abstractmethod

from bot.models import Market, Snapshot


class SourceExhausted(Exception):
    """A finite source (a replayed recording) has no more snapshots; the engine stops there."""


class MarketSource(ABC):
    """Produces one Snapshot per tick and answers ccxt-style reads.

    kind is "simulated", "live" or "replay"; description is the plain-words label the dashboard shows.
    """

    kind: str = "abstract"
    description: str = ""
    # True when recent_trades() answers from a real feed of public trades (resting orders need one;
    # without it they rest and are marked stale).
    has_trade_feed: bool = False

    def __init__(self, exchanges: tuple[str, ...], symbols: tuple[str, ...]):
        self.exchanges = tuple(exchanges)
        self.symbols = tuple(symbols)

    @property
    @abstractmethod
    def markets(self) -> dict[tuple[str, str], Market]:
        """Every (exchange, symbol) market that exists, with fees and precision."""

    @abstractmethod
    def next_snapshot(self) -> Snapshot:
        """Advance one tick and return what the market looks like now."""

    @abstractmethod
    def seek(self, tick: int) -> None:
        """Position the source so the next snapshot is for `tick` (resume after restart)."""

    def health(self) -> dict[str, dict]:
        """Per exchange: {"state": "live"|"degraded"|"down", "reason": str, "age_seconds": float}."""
        return {ex: {"state": "live", "reason": "", "age_seconds": 0.0} for ex in self.exchanges}

    def scenario_status(self) -> dict | None:
        """The stress scenario playing on this source (bot/market/scenario_market.py), or None."""
        return None

    def note_fill(self, exchange: str, symbol: str, side: str, qty: float, price: float, ts: float,
                  depth_share: float = 0.0) -> None:
        """One of our fills, for a source whose prices react to it (the simulator); a no-op here.

        depth_share: the share (0-1) of the visible depth within the slippage cap the fill took.
        """

    def has_trade_feed_for(self, exchange: str, symbol: str) -> bool:
        """Whether recent_trades() of this market answers from a real feed (the source's has_trade_feed here)."""
        return self.has_trade_feed

    def recent_trades(self, exchange: str, symbol: str, since_ms: int | None = None) -> list[dict]:
        """Public trades of a market seen on its exchange, oldest first, with timestamp >= since_ms.

        Each: {"id", "timestamp" (ms, the exchange's), "price", "amount", "side" ("buy"|"sell"|None:
        the taker's side)}. Bounded (the live source keeps market.live.streams.trades_kept per market);
        sources without a trades feed answer [] (the default here).
        """
        return []

    def drain_events(self) -> list[dict]:
        """What happened to the source since the last call (exchange state changes, warnings)."""
        return []

    def close(self) -> None:
        """Release connections and background work."""
