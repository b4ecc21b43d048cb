"""EquityCurve: the tracker's recent equity samples, (ts, equity) oldest first, a bounded number of them
(storage.equity_history_points: what the state file and the dashboard's curve keep).

A fast-forwarded stretch (bot/fast_samples.py) adds its samples as columns (owe): a list of times and
the equity at each, or one equity for all. They become pairs only when the curve is read (points),
and only the last `maxlen` of them: on a long backtest nearly all of them are pushed out by later ones
before anything reads the curve (a state write every few wall seconds), so most are never made. What
points() returns is what appending every sample in order would have left.
"""
from __future__ import annotations

from collections import deque
from itertools import repeat


class EquityCurve:
    """The last `maxlen` equity samples; blocks owed by fast-forwarded stretches are made pairs when read."""

    __slots__ = ("_points", "_owed", "_owed_count")

    def __init__(self, maxlen: int):
        self._points: deque[tuple[float, float]] = deque(maxlen=maxlen)
        self._owed: deque[tuple[list[float], list[float] | float]] = deque()
        self._owed_count = 0  # samples in _owed

    @property
    def maxlen(self) -> int:
        """The most samples kept."""
        return self._points.maxlen

    def points(self) -> deque[tuple[float, float]]:
        """The samples, oldest first (the deque itself: appending to it is appending a sample)."""
        if self._owed:
            self._settle()
        return self._points

    def owe(self, times: list[float], equity: list[float] | float) -> None:
        """Samples at `times` (in order, after every sample so far) with equity `equity` (one per time, or
        one for all), made pairs when the curve is next read."""
        if not times:
            return
        owed = self._owed
        owed.append((times, equity))
        self._owed_count += len(times)
        maxlen = self._points.maxlen
        # A block the later owed samples push out on their own never needs making: nor does what the curve holds.
        while self._owed_count - len(owed[0][0]) >= maxlen:
            self._owed_count -= len(owed.popleft()[0])
            self._points.clear()

    def _settle(self) -> None:
        points, owed = self._points, self._owed
        while owed:
            times, equity = owed.popleft()
            points.extend(zip(times, equity) if type(equity) is list else zip(times, repeat(equity)))
        self._owed_count = 0
