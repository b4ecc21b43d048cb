"""Momentum's fast-forward screen (MomentumStrategy.quiet_ticks): which of a lookahead's ticks could
give a signal, vectorised and conservative.

A closed-candle reading could cross up (held: or trend down) where trend_maybe says so, from the
windowed EMAs' fixed linear filter (bot/strategies/indicators.py window_emas_at: equal to the
decision's EMAs only to rounding, hence SCREEN_MARGIN); a held position's stop or take-profit could
trigger where a tick's bid comes within SCREEN_MARGIN of the levels at that tick's 1-minute
volatility. Unknowns count as maybe. The ticks flagged run through on_snapshot, which alone decides.

Both screens keep a memo over a chunk of ends (SCREEN_CHUNK) of one read-only closes array (a
candle backtest's window swaps in a new, read-only one when it reads a batch;
bot/market/candle_window.py): a look is then an index lookup.
"""
from __future__ import annotations

import numpy as np

from bot.config import MomentumConfig
from bot.strategies.indicators import rolling_log_volatility, window_emas_at

# Anything this close (relative) to a trigger counts as "maybe".
SCREEN_MARGIN = 1e-9
# The masks are worked out for this many candle ends at once and kept while the closes array they index
# stays the same object: a look is then an index lookup.
SCREEN_CHUNK = 2048


def trend_maybe(closes: np.ndarray, ends: np.ndarray, fast: int, slow: int, window: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """quiet_ticks' trend screen for the readings whose history ends at each end (an index into closes):
    (could cross up, could be below: the trend exit), conservative (SCREEN_MARGIN; undefined = maybe)."""
    (fast_now, fast_prev), (slow_now, slow_prev) = window_emas_at(closes, ends, (fast, slow), window)
    tol = SCREEN_MARGIN * (np.abs(fast_now) + np.abs(slow_now))
    maybe = ~(np.isfinite(fast_now) & np.isfinite(slow_now) & np.isfinite(fast_prev) & np.isfinite(slow_prev))
    maybe |= (fast_prev - slow_prev <= tol) & (fast_now - slow_now > -tol)  # could cross up
    return maybe, fast_now - slow_now < tol


def _renewed(memo: tuple | None, closes: np.ndarray) -> bool:
    """True when a memo was made (or noted, without a chunk) for another closes array than this one: the
    source renews its arrays, and a chunk made now would likely be dropped at the next look."""
    return memo is not None and memo[0] is not closes


def _immutable(array: np.ndarray) -> bool:
    """True when array and every array it is a view of are read-only: its values stay what they are
    (read-only is the promise bot/market/candle_window.py's arrays make; a view of writable memory can change)."""
    while isinstance(array, np.ndarray):
        if array.flags.writeable:
            return False
        array = array.base
    return array is None


class MomentumScreen:
    """One momentum strategy's screen and its memos: the trend masks and the 1-minute volatility, per
    market (exchange, symbol)."""

    def __init__(self, params: MomentumConfig, window: int, horizon_factor: float):
        self._params = params
        self._window = window  # closes a decision reads (MomentumStrategy.warmup_candles)
        self._horizon_factor = horizon_factor  # sqrt(slow): 1-minute volatility to the slow EMA's horizon
        # (exchange, symbol) -> (closes, entry maybe, held maybe, lo, top): the trend masks over the ends
        # lo..top-1 of one read-only closes array (first_trend_tick); masks None: the array was new at the
        # last look and answered without a chunk (_renewed).
        self._screens: dict[tuple[str, str], tuple] = {}
        # (exchange, symbol) -> (closes, volatility at each end, lo, top): the stop / take-profit screen's
        # memo of the 1-minute volatility, the same way (first_level_tick).
        self._level_memo: dict[tuple[str, str], tuple] = {}

    def first_trend_tick(self, key: tuple[str, str], ahead, new_candle: np.ndarray, held: bool) -> int:
        """The first candle tick whose reading could cross up (held: or be trending down), len when none.

        trend_maybe over the candle ticks' history ends, or a lookup in its memo: the masks over a
        chunk of ends lo..top-1 (SCREEN_CHUNK) of one read-only closes array, held as arrays over
        every end 0..top with True ("maybe") before lo and at top. A look clips its ends into that
        range, so an end the chunk does not cover reads "maybe": when the first maybe is such an
        end, the look is worked out again (the chunk moved to cover it, or without the memo).
        """
        closes, closed = ahead.closes, ahead.closed
        screen = self._screens.get(key)
        if screen is not None and screen[0] is closes and screen[1] is not None:
            maybe = screen[2 if held else 1].take(closed, mode="clip")
            maybe &= new_candle
            hit = int(maybe.argmax())
            if not maybe[hit]:
                return int(maybe.shape[0])
            if screen[3] <= int(closed[hit]) < screen[4]:
                return hit
        candle_ticks = new_candle.nonzero()[0]
        if not candle_ticks.size:
            return int(new_candle.shape[0])
        ends = closed[candle_ticks]
        maybe = self._trend_maybe(key, closes, ends, held)
        hit = int(maybe.argmax())
        return int(candle_ticks[hit]) if maybe[hit] else int(new_candle.shape[0])

    def _trend_maybe(self, key: tuple[str, str], closes: np.ndarray, ends: np.ndarray, held: bool) -> np.ndarray:
        """For each end (an index into closes where a candle tick's history ends): could the reading
        there cross up (held: or be trending down)? From the memo (first_trend_tick), made for a chunk
        of ends from the lowest on when closes is read-only and the ends lie in it; else computed."""
        p = self._params
        lo, hi = int(ends.min()), int(ends.max())
        screen = self._screens.get(key)
        if lo < 0 or hi > closes.shape[0] or not _immutable(closes) or _renewed(screen, closes):
            # No memo, or closes is another array than at the last look (a replay makes one per look, a
            # backtest one per batch read): the plain path's answer for these ends alone. A chunk is made
            # when a look sees the same array again (_renewed keeps the array for that).
            if _renewed(screen, closes):
                self._screens[key] = (closes, None, None, 0, 0)
            entry, below = trend_maybe(closes, ends, p.fast, p.slow, self._window)
            return entry | below if held else entry
        if screen is None or screen[1] is None or lo < screen[3] or hi >= screen[4]:
            top = min(closes.shape[0] + 1, max(hi + 1, lo + SCREEN_CHUNK))
            entry, below = trend_maybe(closes, np.arange(lo, top), p.fast, p.slow, self._window)
            masks = []
            for mask in (entry, entry | below):
                every = np.ones(top + 1, dtype=bool)
                every[lo:top] = mask
                every.flags.writeable = False
                masks.append(every)
            screen = self._screens[key] = (closes, masks[0], masks[1], lo, top)
        return screen[2 if held else 1][ends]

    def first_level_tick(self, key: tuple[str, str], ahead, avg_cost: float) -> int:
        """The first tick whose bid could reach the stop or the take-profit (len when none).

        The 1-minute volatility at each tick's history end is rolling_log_volatility's, from a memo
        over a chunk of ends of one read-only closes array as the trend masks' (first_trend_tick),
        nan outside the chunk: a tick with a bid whose end it does not cover reads "maybe", and when
        the first maybe is such a tick the look is worked out again. (A tick without a bid is never
        a maybe, whatever the volatility.)
        """
        closes, closed = ahead.closes, ahead.closed
        if not closed.shape[0]:
            return 0
        memo = self._level_memo.get(key)
        if memo is not None and memo[0] is closes and memo[1] is not None:
            hit = self._first_level_hit(memo[1].take(closed, mode="clip"), ahead.bid, avg_cost)
            if hit == closed.shape[0] or memo[2] <= int(closed[hit]) < memo[3]:
                return hit
        lo, hi = int(closed.min()), int(closed.max())
        if lo < 0 or hi > closes.shape[0] or not _immutable(closes) or _renewed(memo, closes):
            # No memo, or another closes array than at the last look: these ends alone (_trend_maybe's way).
            if _renewed(memo, closes):
                self._level_memo[key] = (closes, None, 0, 0)
            volatility = rolling_log_volatility(closes, closed, self._params.volatility_period)
        else:
            if memo is None or memo[1] is None or lo < memo[2] or hi >= memo[3]:
                top = min(closes.shape[0] + 1, max(hi + 1, lo + SCREEN_CHUNK))
                every = np.full(top + 1, np.nan)
                every[lo:top] = rolling_log_volatility(closes, np.arange(lo, top), self._params.volatility_period)
                every.flags.writeable = False
                memo = self._level_memo[key] = (closes, every, lo, top)
            volatility = memo[1][closed]
        return self._first_level_hit(volatility, ahead.bid, avg_cost)

    def _first_level_hit(self, volatility: np.ndarray, bid: np.ndarray, avg_cost: float) -> int:
        """The first tick whose bid could reach the stop or the take-profit around avg_cost at that
        tick's 1-minute volatility (nan: unknown, a maybe where there is a bid); len when none."""
        horizon = volatility * self._horizon_factor
        stop = np.maximum(0.0, avg_cost * (1.0 - self._params.stop_volatility_mult * horizon))
        target = avg_cost * (1.0 + self._params.take_profit_volatility_mult * horizon)
        tol = SCREEN_MARGIN * avg_cost
        with np.errstate(invalid="ignore"):
            maybe = (bid <= stop + tol) | (bid >= target - tol) | (np.isfinite(bid) & ~np.isfinite(horizon))
        hit = int(maybe.argmax())
        return hit if maybe[hit] else int(bid.shape[0])
