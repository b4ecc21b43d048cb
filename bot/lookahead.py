"""What a stored-data source will give next, as arrays: a backtest's fast-forward reads it
(bot/fast_forward.py; the interface is docs/LOOKAHEAD_API.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from bot.models import Market


@dataclass(frozen=True, slots=True)
class MarketAhead:
    """One market over a lookahead block: its bid and ask at each tick (nan without a bar then) and,
    for each tick, the index in `closes` where the bars closed by then end (where history.closes
    would end). `closes` may start after the data's first bar (a streamed source keeps a window)."""

    bid: np.ndarray
    closed: np.ndarray
    closes: np.ndarray
    ask: np.ndarray


@dataclass(frozen=True, slots=True)
class Lookahead:
    """The ticks a stored-data source will give next (a backtest's fast-forward, bot/fast_forward.py):
    their times, which of them close a candle, and each market's prices. Read-only arrays."""

    start_tick: int
    ts: np.ndarray
    new_candle: np.ndarray
    markets: Mapping[tuple[str, str], MarketAhead]
    # The markets (fees, steps) on every tick of the block, when the source knows them constant; else None.
    traded: Mapping[tuple[str, str], Market] | None = None
    # True when the source promises that no tick of the block has news items or whale events.
    no_news: bool = False

    def __len__(self) -> int:
        return int(self.ts.shape[0])
