"""True prices of the simulated market: heavy tails, long-memory volatility, a market factor,
intraday seasonality, calm/normal/volatile spells, trends and jumps.

Per tick, coin i's log return is
    drift + sigma_i * v_i(t) * (b_i * z_market + sqrt(1 - b_i^2) * z_i) + jump_i
with unit-variance Student-t draws z, the market loading b_i, and the volatility multiplier
    v_i(t) = season(t) * spell(t) * exp(sum_k h_ik(t) - sum_k s_k^2)
that sums AR(1) log-volatility components h_k of minutes, hours and a day (a HAR-like long
memory; the shift keeps E[v^2] = 1 within a normal spell at the day's mean activity). Jumps
arrive at a rate that follows the volatility multiplier, market-wide (every coin moves by its
loading) or on one coin, sized in the coin's 1-minute standard deviations times the square
root of its volatility multiplier. The drift
holds the coin's trend spell, a faint anchor to its start price and the news. A cointegrated
follower is its leader's log price times beta plus a mean-reverting AR(1) spread.

Each chunk draws from the generator it is given, in a fixed order, and leaves its state for
the next: same seed and chunk index, same paths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from bot.config import SimulatorConfig

REGIMES = ("calm", "normal", "volatile")  # market-wide spells, index = state
NORMAL_TO_CALM = 0.5  # a normal spell hands over to calm with this probability, else to volatile
# Drift of a trend spell in the coin's current 1-minute standard deviations per minute: an hour's
# trend is about a third of an hour's noise, and 1-minute returns stay uncorrelated.
TREND_SIGMAS_PER_MINUTE = 0.05
FLAT_MEAN_S, TREND_MEAN_S = 3 * 3600.0, 1.5 * 3600.0  # mean length of a coin's flat and trend spells
ANCHOR_HALF_LIFE_S = 7 * 86400.0  # a faint pull towards the start price keeps long runs sane
# The summed log-volatility is cut at this many standard deviations: a log-normal tail would
# otherwise bring hours at ten times the normal volatility in a normal spell.
LOG_VOL_CAP_SDS = 2.5
JUMP_CAP_SDS = 3.0  # a jump's log-normal size is cut at this many of its standard deviations
PAIR_HALF_LIFE_S, PAIR_LOG_STD = 600.0, 0.0035  # the cointegrated spread's memory and size


def ar1(innovations: np.ndarray, phi: float, last: np.ndarray | float) -> np.ndarray:
    """y[t] = phi * y[t-1] + x[t] down axis 0, continuing from y[-1] = last."""
    state = (phi * np.asarray(last, dtype=float)).reshape((1,) + innovations.shape[1:])
    return lfilter([1.0], [1.0, -phi], innovations, axis=0, zi=state)[0]


def decay(half_life_s: float, dt: float) -> float:
    """Per-step factor of something that halves every half_life_s."""
    return math.exp(-math.log(2.0) * dt / half_life_s)


@dataclass(slots=True)
class PricePaths:
    """One chunk of true prices: rows are ticks, columns the coins and then USDT."""

    logp: np.ndarray  # log USDT price (USDT's column is 0)
    vol: np.ndarray  # volatility multiplier against the coin's normal level (USDT's column is 0)
    jumps: np.ndarray  # the jump part of each tick's log return
    regime: np.ndarray  # (ticks,) index into REGIMES
    season: np.ndarray  # (ticks,) intraday activity, mean 1 over a day
    level: np.ndarray  # (ticks,) season times the spell's multiplier: scales jump and dislocation rates


class PriceProcess:
    """Generates the true prices chunk by chunk and keeps the state a chunk leaves.

    params[i] = (start price, 1-minute volatility in %, market loading, amount step) of coin i;
    pair = (leader, follower, beta, intercept) or None.
    """

    def __init__(self, sim: SimulatorConfig, dt: float, start_epoch: float, params: list[tuple],
                 pair: tuple[int, int, float, float] | None):
        vol, regimes, jumps = sim.volatility, sim.regimes, sim.jumps
        n = len(params)
        self._dt, self._start_epoch, self._pair = dt, start_epoch, pair
        self._logp0 = np.log([p[0] for p in params] + [1.0])
        vol_min = np.array([p[1] for p in params], dtype=float) * sim.volatility_scale
        excluded = {pair[1]} if pair else set()
        # Pegged coins walk too, with zero volatility and no trend: they stay at 1 USDT.
        self._walk = np.array([i for i in range(n) if i not in excluded], dtype=np.int64)
        walk = self._walk
        self._sigma_min = vol_min[walk] / 100.0  # 1-minute standard deviation, normal spell
        self._sigma_tick = self._sigma_min * math.sqrt(dt / 60.0)
        loading = np.array([p[2] for p in params], dtype=float)[walk]
        self._loading, self._idio = loading, np.sqrt(1.0 - loading**2)
        self._trend_tick = TREND_SIGMAS_PER_MINUTE * self._sigma_min * dt / 60.0
        self._anchor_tick = math.log(2.0) / ANCHOR_HALF_LIFE_S * dt
        self._switch_prob = np.minimum(1.0, dt / np.array([FLAT_MEAN_S, TREND_MEAN_S, TREND_MEAN_S]))
        self._phi = [decay(h, dt) for h in vol.half_lives_seconds]
        self._log_sds = np.array(vol.log_sds, dtype=float)
        self._innov_sd = [s * math.sqrt(1.0 - phi**2) for s, phi in zip(vol.log_sds, self._phi)]
        self._common = (math.sqrt(vol.common_share), math.sqrt(1.0 - vol.common_share))
        self._tail_df = vol.tail_df
        self._t_scale = math.sqrt((vol.tail_df - 2.0) / vol.tail_df)  # unit variance
        self._amplitude, self._peak_hour = vol.intraday_amplitude, vol.intraday_peak_hour_utc
        self._spell_mult = np.array([regimes.calm_multiplier, 1.0, regimes.volatile_multiplier])
        means = np.array([regimes.calm_mean_hours, regimes.normal_mean_hours, regimes.volatile_mean_hours])
        self._leave_prob = np.minimum(1.0, dt / (means * 3600.0))
        visits = np.array([NORMAL_TO_CALM, 1.0, 1.0 - NORMAL_TO_CALM]) * means
        self._stationary = visits / visits.sum()
        self._market_jump_tick = jumps.market_per_hour / 3600.0 * dt
        self._coin_jump_tick = jumps.coin_per_hour / 3600.0 * dt
        self._jump_median, self._jump_log_sd = jumps.median_sigmas, jumps.size_log_sd
        self._phi_pair = decay(PAIR_HALF_LIFE_S, dt)
        self._pair_innov_sd = PAIR_LOG_STD * sim.volatility_scale * math.sqrt(1.0 - self._phi_pair**2)
        self.n_assets = n

    def reset(self, rng: np.random.Generator) -> None:
        """Draw the starting state (volatility components and spells from their stationary laws)."""
        n_walk = len(self._walk)
        self._logp = self._logp0[:-1].copy()
        self._h = [rng.normal(0.0, s, n_walk) for s in self._log_sds]
        self._trend = rng.choice(3, size=n_walk, p=[0.5, 0.25, 0.25])
        self._spell = int(rng.choice(3, p=self._stationary))
        self._pair_noise = 0.0

    def generate(self, rng: np.random.Generator, first: int, T: int, news_drift: np.ndarray) -> PricePaths:
        """The next chunk of T ticks starting at tick `first`; news_drift is added to the log returns."""
        n, walk = self.n_assets, self._walk
        season = self._season(first, T)
        regime = self._spells(rng, T)
        level = season * self._spell_mult[regime]
        logp, vol, jumps = np.zeros((T, n + 1)), np.zeros((T, n + 1)), np.zeros((T, n + 1))
        if walk.size:
            total_sd = float(np.sqrt(np.sum(self._log_sds**2)))
            log_vol = np.clip(self._log_vol(rng, T), -LOG_VOL_CAP_SDS * total_sd, LOG_VOL_CAP_SDS * total_sd)
            v = level[:, None] * np.exp(log_vol - total_sd**2)
            z = self._loading * self._student(rng, (T, 1)) + self._idio * self._student(rng, (T, walk.size))
            jumps[:, walk] = self._jumps(rng, v)
            drift = self._trends(rng, T) * self._trend_tick * v - self._anchor_tick * (self._logp[walk] - self._logp0[walk])
            returns = drift + self._sigma_tick * v * z + jumps[:, walk] + news_drift[:, walk]
            logp[:, walk] = self._logp[walk] + np.cumsum(returns, axis=0)
            vol[:, walk] = v
        if self._pair is not None:
            leader, follower, beta, intercept = self._pair
            shocks = self._pair_innov_sd * rng.standard_normal(T) + news_drift[:, follower]
            noise = ar1(shocks, self._phi_pair, self._pair_noise)
            self._pair_noise = float(noise[-1])
            logp[:, follower] = intercept + beta * logp[:, leader] + noise
            vol[:, follower], jumps[:, follower] = vol[:, leader], beta * jumps[:, leader]
        self._logp = logp[-1, :-1].copy()
        return PricePaths(logp, vol, jumps, regime, season, level)

    def _season(self, first: int, T: int) -> np.ndarray:
        hours = ((self._start_epoch + (first + np.arange(T)) * self._dt) / 3600.0) % 24.0
        wave = 1.0 + self._amplitude * np.cos(2.0 * math.pi * (hours - self._peak_hour) / 24.0)
        return wave / math.sqrt(1.0 + self._amplitude**2 / 2.0)  # mean square 1 over a day

    def _student(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return rng.standard_t(self._tail_df, shape) * self._t_scale

    def _log_vol(self, rng: np.random.Generator, T: int) -> np.ndarray:
        """Sum of the AR(1) log-volatility components, shocks part common to every coin."""
        common, own = self._common
        total = np.zeros((T, len(self._walk)))
        for k, (phi, sd) in enumerate(zip(self._phi, self._innov_sd)):
            shocks = common * rng.standard_normal((T, 1)) + own * rng.standard_normal((T, len(self._walk)))
            h = ar1(sd * shocks, phi, self._h[k])
            self._h[k] = h[-1].copy()
            total += h
        return total

    def _jumps(self, rng: np.random.Generator, v: np.ndarray) -> np.ndarray:
        """Jump part of each walker's log return: market-wide jumps first, then each coin's own.

        Rates follow the volatility multiplier (the market's mean one for market-wide jumps), so
        jumps cluster where volatility does.
        """
        T, W = v.shape
        out = np.zeros((T, W))
        market = np.flatnonzero(rng.random(T) < self._market_jump_tick * v.mean(axis=1))
        own_rows, own_cols = np.nonzero(rng.random((T, W)) < self._coin_jump_tick * v)
        sizes = self._jump_sizes(rng, market.size + own_rows.size)
        scale = np.sqrt(v)  # bigger in fast markets, but less than in proportion (no 10 % minutes)
        if market.size:
            out[market] += sizes[: market.size, None] * self._loading * self._sigma_min * scale[market]
        if own_rows.size:
            out[own_rows, own_cols] += sizes[market.size :] * self._sigma_min[own_cols] * scale[own_rows, own_cols]
        return out

    def _jump_sizes(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Signed sizes in 1-minute standard deviations: log-normal magnitude, either sign."""
        if not count:
            return np.zeros(0)
        spread = np.clip(rng.standard_normal(count), -JUMP_CAP_SDS, JUMP_CAP_SDS)
        magnitude = self._jump_median * np.exp(self._jump_log_sd * spread)
        return magnitude * np.where(rng.random(count) < 0.5, -1.0, 1.0)

    def _spells(self, rng: np.random.Generator, T: int) -> np.ndarray:
        """The market-wide calm/normal/volatile chain, one state per tick."""
        draws = rng.random(T)
        out = np.empty(T, dtype=np.int8)
        p, state, since = self._leave_prob, self._spell, 0
        for t in np.flatnonzero(draws < p.max()).tolist():
            u = draws[t]
            if u >= p[state]:
                continue
            out[since:t] = state
            since = t
            state = 1 if state != 1 else (0 if u / p[1] < NORMAL_TO_CALM else 2)
        out[since:] = state
        self._spell = state
        return out

    def _trends(self, rng: np.random.Generator, T: int) -> np.ndarray:
        """Markov trend spells per walker as drift directions (0 flat, +1 up, -1 down)."""
        draws = rng.random((T, len(self._walk)))
        out = np.empty(draws.shape)
        direction, p = (0.0, 1.0, -1.0), self._switch_prob
        for j in range(draws.shape[1]):
            state, since = int(self._trend[j]), 0
            for t in np.flatnonzero(draws[:, j] < p.max()).tolist():
                u = draws[t, j]
                if u >= p[state]:
                    continue
                out[since:t, j] = direction[state]
                since, u = t, u / p[state]  # reuse the draw: uniform again below p
                state = (1 if u < 0.5 else 2) if state == 0 else (0 if u < 0.7 else 3 - state)
            out[since:, j] = direction[state]
            self._trend[j] = state
        return out
