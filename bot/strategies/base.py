"""The small surface a strategy implements, and the read-only view it is given."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Mapping, Protocol

from bot.config import StrategyConfig
from bot.models import Signal, Snapshot


@dataclass(frozen=True, slots=True)
class PositionView:
    """A strategy's holding of one asset, aggregated over exchanges, valued in USDT."""

    asset: str
    qty: float
    avg_cost: float
    by_exchange: Mapping[str, float]
    opened_ts: float


class PortfolioView(Protocol):
    """What a strategy may read of the portfolio; it cannot change anything through it."""

    def position(self, asset: str) -> PositionView | None:
        """This strategy's position in asset, or None when flat."""

    def positions(self) -> list[PositionView]:
        """This strategy's open positions."""

    def balance(self, exchange: str, asset: str) -> float:
        """What this strategy may spend of asset on exchange: the wallet, less what other
        strategies' open positions hold there (USDT is shared; holdings are reserved)."""

    def equity(self) -> float:
        """Total portfolio equity in USDT at the current marks."""


class Strategy(ABC):
    """A trading strategy: a name, parameters, a warm-up length and on_snapshot.

    Strategies never execute, persist or emit: they return Signals and the manager decides.
    Set allows_short = True only for strategies that hold negative positions by design.
    """

    name: ClassVar[str]
    allows_short: ClassVar[bool] = False

    def __init__(self, params: StrategyConfig):
        self.params = params

    @property
    def warmup_candles(self) -> int:
        """How many closed 1-minute candles the strategy needs before it can decide."""
        return 0

    @abstractmethod
    def on_snapshot(self, snapshot: Snapshot, view: PortfolioView) -> list[Signal]:
        """Look at one tick and propose zero or more Signals."""
