"""A replay's closed candles per market: appended in amortised constant time, read as frozen views.

The replay used to rebuild every market's history (a tuple of up to candles_kept candles and its
closes array) at each candle close: ~0.7 ms a close on the default market. A CandleTape appends
into a buffer twice the kept length and, when it is full, moves the last kept candles into a new
buffer; a view (what a snapshot's history reads) is a fixed range of one buffer, which later
appends never write, so later candles do not leak into it.
"""
from __future__ import annotations

import numpy as np

from bot.models import Candle


class CandleView:
    """The last closed candles of one market as one snapshot saw them (LiveHistory's series)."""

    __slots__ = ("_candles", "_start", "_end", "closes")

    def __init__(self, candles: list, closes: np.ndarray, start: int, end: int):
        self._candles, self._start, self._end = candles, start, end
        view = closes[start:end]
        view.setflags(write=False)
        self.closes = view

    @property
    def candles(self) -> tuple[Candle, ...]:
        """The candles, oldest first."""
        return tuple(self._candles[self._start:self._end])


class CandleTape:
    """One market's closed candles, at most `kept`, oldest first."""

    __slots__ = ("kept", "_candles", "_closes", "_start", "_end", "_view")

    def __init__(self, kept: int):
        self.kept = kept
        self._candles: list = []
        self._closes = np.empty(2 * kept)
        self._start = self._end = 0
        self._view: CandleView | None = None

    def extend(self, candles: list[Candle]) -> None:
        """Append closed candles (oldest first); only the last `kept` stay."""
        if not candles:
            return
        kept = self.kept
        if len(candles) >= kept:
            candles = candles[-kept:]
            self._candles, self._closes = [], np.empty(2 * kept)
            self._start = self._end = 0
        elif self._end + len(candles) > 2 * kept:  # full: the last kept, minus room for these, to a new buffer
            keep = kept - len(candles)
            old_candles, old_closes = self._candles, self._closes
            start = self._end - min(keep, self._end - self._start)
            self._candles = old_candles[start:self._end]
            self._closes = np.empty(2 * kept)
            self._closes[:self._end - start] = old_closes[start:self._end]
            self._start, self._end = 0, self._end - start
        del self._candles[self._end:]
        self._candles.extend(candles)
        end = self._end + len(candles)
        self._closes[self._end:end] = [c.close for c in candles]
        self._end = end
        self._start = max(self._start, end - kept)
        self._view = None

    def view(self) -> CandleView:
        """The candles as they stand now (the same view until the next extend)."""
        if self._view is None:
            self._view = CandleView(self._candles, self._closes, self._start, self._end)
        return self._view
