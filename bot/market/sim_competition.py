"""Competition on the simulated market: other traders close fee-beating gaps after a short random time.

A group is one symbol across exchanges (buy on one, sell on another) or one triangle on one
exchange (X/USDT, Y/X, Y/USDT). It beats the fees on a tick when some exchange's bid, after its
taker fee, pays more than another's ask plus its fee, or when a cycle through the triangle
returns more than it cost after three taker fees. Each run of such ticks gets a lifetime drawn
from an exponential of mean `mean_close_seconds` (at least one tick); from then to the end of
the run, the outlier deviations are pulled back just inside the fees: across exchanges by
shrinking the symbol's deviations towards their mean, in a triangle by moving the cross.
Closing one group can open another (they share markets), so what is still fee-beating outside
an open window is closed at once, a few passes at most. Whether or not we trade, gaps close.

Everything is in log deviations from the true price on continuous quotes (mid times 1 -/+ the
half spread): rounding to the price step only widens a spread, so a closed gap stays closed.
"""
from __future__ import annotations

import math

import numpy as np

from bot.config import SimCompetitionConfig

CLOSE_MARGIN = 0.1  # a closed gap is left this share of the fees inside them
MAX_PASSES = 4  # closing passes per chunk (the first closes the runs, the rest their side effects)


class Competition:
    """Closes cross-exchange gaps and triangular mispricings in a chunk of log deviations.

    markets[m] = (exchange index, base, quote); taker[e] is exchange e's taker fee.
    """

    def __init__(self, config: SimCompetitionConfig, dt: float, markets: list[tuple[int, str, str]],
                 taker: list[float]):
        self._mean_ticks = config.mean_close_seconds / dt
        index = {(e, b, q): m for m, (e, b, q) in enumerate(markets)}
        exchanges = sorted({e for e, _, _ in markets})
        symbols = sorted({(b, q) for _, b, q in markets}, key=[(b, q) for _, b, q in markets].index)
        full = [s for s in symbols if all((e, *s) in index for e in exchanges)] if len(exchanges) > 1 else []
        self._cross = np.array([[index[(e, *s)] for e in exchanges] for s in full], dtype=np.int64).reshape(-1, len(exchanges))
        fees = np.array([taker[e] for e in exchanges])
        self._sell_fee, self._buy_fee = np.log1p(-fees), np.log1p(fees)  # (exchanges,)
        triangles, tri_fee = [], []
        for e in exchanges:
            for base, quote in symbols:
                legs = (index.get((e, quote, "USDT")), index.get((e, base, quote)), index.get((e, base, "USDT")))
                if quote != "USDT" and None not in legs:
                    triangles.append(legs)
                    tri_fee.append(taker[e])
        self._tri = np.array(triangles, dtype=np.int64).reshape(-1, 3)
        f = np.array(tri_fee)
        self._tri_forward = 2.0 * np.log1p(f) - np.log1p(-f)  # fee cost of USDT -> X -> Y -> USDT
        self._tri_reverse = np.log1p(f) - 2.0 * np.log1p(-f)  # and of USDT -> Y -> X -> USDT
        self.groups = len(self._cross) + len(self._tri)
        self.reset()

    def reset(self) -> None:
        """No run carried in (before the first chunk)."""
        self._carry_age = np.full(self.groups, -1, dtype=np.int64)  # ticks a run has been open, -1 none
        self._carry_life = np.zeros(self.groups, dtype=np.int64)

    def fee_beating(self, dev: np.ndarray, half_spread: np.ndarray) -> np.ndarray:
        """(ticks, groups) True where a group beats the fees: cross-exchange groups, then triangles."""
        low, high = np.log1p(-half_spread), np.log1p(half_spread)
        out = np.zeros((len(dev), self.groups), dtype=bool)
        if len(self._cross):
            d = dev[:, self._cross]
            best_sell = (d + low[:, self._cross] + self._sell_fee).max(axis=2)
            best_buy = (d + high[:, self._cross] + self._buy_fee).min(axis=2)
            out[:, : len(self._cross)] = best_sell > best_buy
        if len(self._tri):
            mis, forward, reverse = self._tri_terms(dev, low, high)
            out[:, len(self._cross):] = (mis > forward) | (-mis > reverse)
        return out

    def _tri_terms(self, dev, low, high):
        one, cross, far = self._tri[:, 0], self._tri[:, 1], self._tri[:, 2]
        mis = dev[:, far] - dev[:, one] - dev[:, cross]  # true prices cancel round a triangle
        forward = high[:, one] + high[:, cross] - low[:, far] + self._tri_forward
        reverse = high[:, far] - low[:, one] - low[:, cross] + self._tri_reverse
        return mis, forward, reverse

    def apply(self, rng: np.random.Generator, dev: np.ndarray, half_spread: np.ndarray) -> np.ndarray:
        """The chunk's deviations after others have traded every gap whose lifetime ran out."""
        if not self.groups:
            return dev
        T = len(dev)
        lifetimes = np.maximum(1, np.ceil(rng.exponential(self._mean_ticks, (T, self.groups)))).astype(np.int64)
        raw = self.fee_beating(dev, half_spread)
        open_window = raw & ~self._expired(raw, lifetimes)
        dev = dev.copy()
        close = raw & ~open_window
        for _ in range(MAX_PASSES):
            if not close.any():
                break
            self._close(dev, half_spread, close)
            close = self.fee_beating(dev, half_spread) & ~open_window
        return dev

    def _expired(self, state: np.ndarray, lifetimes: np.ndarray) -> np.ndarray:
        """Cells of a fee-beating run past its lifetime; remembers a run still going at the chunk's end."""
        T = len(state)
        ticks = np.arange(T)[:, None]
        previous = np.vstack([self._carry_age[None, :] >= 0, state[:-1]])
        start = np.where(state & ~previous, ticks, np.iinfo(np.int64).min // 2)
        carried = state[0] & (self._carry_age >= 0)
        start[0] = np.where(carried, -self._carry_age, start[0])  # a run begun in an earlier chunk
        run_start = np.maximum.accumulate(start, axis=0)
        life = np.where(run_start >= 0, np.take_along_axis(lifetimes, np.clip(run_start, 0, T - 1), axis=0),
                        self._carry_life[None, :])
        expired = state & (ticks - run_start >= life)
        going = state[-1]
        self._carry_age = np.where(going, T - run_start[-1], -1)
        self._carry_life = np.where(going, life[-1], 0)
        return expired

    def _close(self, dev: np.ndarray, half_spread: np.ndarray, close: np.ndarray) -> None:
        """Pull the deviations of the cells in `close` back inside the fees (in place)."""
        low, high = np.log1p(-half_spread), np.log1p(half_spread)
        n_cross = len(self._cross)
        rows, groups = np.nonzero(close[:, n_cross:])
        if rows.size:
            mis, forward, reverse = (a[rows, groups] for a in self._tri_terms(dev, low, high))
            target = np.clip(mis, -reverse * (1.0 - CLOSE_MARGIN), forward * (1.0 - CLOSE_MARGIN))
            legs = self._tri[groups]
            dev[rows, legs[:, 1]] += mis - target  # the cross moves: mis = far - one - cross
        rows, groups = np.nonzero(close[:, :n_cross])
        if rows.size:
            markets = self._cross[groups]  # (cells, exchanges)
            d = dev[rows[:, None], markets]
            sell = low[rows[:, None], markets] + self._sell_fee  # what a sale keeps, beyond the deviation
            buy = high[rows[:, None], markets] + self._buy_fee
            spread = d[:, :, None] - d[:, None, :]  # a sells where b buys
            room = buy[:, None, :] - sell[:, :, None]  # how far apart a and b may be inside the fees
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(spread > 0.0, room / spread, math.inf)
            shrink = np.clip(ratio.min(axis=(1, 2)) * (1.0 - CLOSE_MARGIN), 0.0, 1.0)
            mean = d.mean(axis=1, keepdims=True)
            dev[rows[:, None], markets] = mean + shrink[:, None] * (d - mean)
