"""The small surface a strategy implements (the views it is given live in bot.models)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from bot.config import StrategyConfig
from bot.models import PortfolioView, Signal, Snapshot
from bot.lookahead import Lookahead


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

    def quiet_ticks(self, lookahead: Lookahead, view: PortfolioView) -> int:
        """How many of the lookahead's ticks certainly give no signal and change nothing a later
        decision reads (a backtest skips them, bot/fast_forward.py); 0, never skip, unless overridden."""
        return 0

    def skipped(self, lookahead: Lookahead, count: int, view: PortfolioView) -> None:
        """The first `count` ticks of lookahead, which quiet_ticks called quiet, were skipped in bulk:
        bring state kept on a schedule (checks due on those ticks) to where stepping them would."""

    @abstractmethod
    def on_snapshot(self, snapshot: Snapshot, view: PortfolioView) -> list[Signal]:
        """Look at one tick and propose zero or more Signals."""
