"""How each simulated exchange's quote strays from the true price (log deviation per market).

Three parts, all scaled by the moment's volatility so deviations open in fast markets
(Makarov and Schoar 2020):
- everyday: a small AR(1) per market (market.simulator.exchange_deviation_bps), far below the
  fees, so the same coin moves together across exchanges (1-minute correlation >= 0.95);
- lag: on a jump's tick each market has priced in only part of the jump (a random share per
  market, more on crosses) and catches up within seconds;
- dislocations: now and then one market on one exchange jumps away, then comes back the same way.
Lags and dislocations are what opens fee-beating gaps; competition (sim_competition.py) closes them.
"""
from __future__ import annotations

import math

import numpy as np

from bot.config import SimulatorConfig
from bot.market.sim_prices import PricePaths, ar1, decay

CROSS_LAG_FACTOR = 1.5  # crosses such as ETH/BTC are thinner and catch up more slowly


class QuoteDeviations:
    """Per chunk, the log deviation of every market from its true price, with the state carried over.

    base/quote are each market's asset columns in PricePaths; exchange is its exchange index;
    vol_rel is the market's normal 1-minute volatility in units of 0.10 %.
    """

    def __init__(self, sim: SimulatorConfig, dt: float, base: np.ndarray, quote: np.ndarray, exchange: np.ndarray,
                 symbol: np.ndarray, vol_rel: np.ndarray, cross: np.ndarray):
        config = sim.deviations
        self._base, self._quote, self._exchange, self._symbol = base, quote, exchange, symbol
        self._n_exchanges, self._n_symbols = int(exchange.max()) + 1, int(symbol.max()) + 1
        self._by_exchange_symbol = {(int(e), int(s)): m for m, (e, s) in enumerate(zip(exchange, symbol))}
        self._phi = decay(config.half_life_seconds, dt)
        self._everyday = sim.exchange_deviation_bps * 1e-4 * vol_rel
        self._phi_lag = decay(config.lag_half_life_seconds, dt)
        self._lag_share = config.lag_share * np.where(cross, CROSS_LAG_FACTOR, 1.0)
        self._dislocation_tick = config.dislocations_per_hour / 3600.0 * dt
        self._dislocation = config.dislocation_bps * 1e-4 * vol_rel

    def reset(self, rng: np.random.Generator) -> None:
        """Start from the everyday part's stationary law and no lag."""
        self._unit = rng.standard_normal(len(self._base))
        self._kick = np.zeros(len(self._base))

    def generate(self, rng: np.random.Generator, paths: PricePaths, uniform: np.ndarray, vol: np.ndarray) -> np.ndarray:
        """(ticks, markets) log deviations; uniform holds one U(0,1) per tick and market, vol each market's multiplier."""
        shocks = (uniform - 0.5) * math.sqrt(12.0 * (1.0 - self._phi**2))  # unit stationary variance
        unit = ar1(shocks, self._phi, self._unit)
        self._unit = unit[-1].copy()
        kicks = self._lag_kicks(rng, paths.jumps) + self._dislocations(rng, paths.level, vol)
        kick = np.zeros_like(kicks)
        active = np.flatnonzero(kicks.any(axis=0) | (np.abs(self._kick) > 1e-12))
        kick[:, active] = ar1(kicks[:, active], self._phi_lag, self._kick[active])
        self._kick = kick[-1].copy()
        return self._everyday * vol * unit + kick

    def _lag_kicks(self, rng: np.random.Generator, jumps: np.ndarray) -> np.ndarray:
        """On a jump's tick, the part each market has not priced in yet (negative of the jump)."""
        move = jumps[:, self._base] - jumps[:, self._quote]
        kicks = np.zeros_like(move)
        rows = np.flatnonzero(np.abs(move).max(axis=1) > 0.0)
        if rows.size:
            missing = np.minimum(1.0, self._lag_share * rng.random((rows.size, move.shape[1])) ** 2)
            kicks[rows] = -move[rows] * missing
        return kicks

    def _dislocations(self, rng: np.random.Generator, level: np.ndarray, vol: np.ndarray) -> np.ndarray:
        """One market on one exchange jumps away: per exchange at a rate that follows the season and spell."""
        T = len(level)
        kicks = np.zeros((T, len(self._base)))
        rate = self._dislocation_tick * level
        rows, exchanges = np.nonzero(rng.random((T, self._n_exchanges)) < rate[:, None])
        if rows.size:
            symbols = rng.integers(0, self._n_symbols, rows.size)
            sizes = rng.uniform(0.5, 1.5, rows.size) * np.where(rng.random(rows.size) < 0.5, -1.0, 1.0)
            markets = np.array([self._by_exchange_symbol.get((e, s), -1) for e, s in zip(exchanges, symbols)])
            keep = markets >= 0
            rows, markets, sizes = rows[keep], markets[keep], sizes[keep]
            np.add.at(kicks, (rows, markets), sizes * self._dislocation[markets] * vol[rows, markets])
        return kicks
