"""Deterministic simulated multi-exchange market (DESIGN.md, "The simulator").

Everything derives from config.seed. Ticks are generated in vectorised chunks whose random
numbers come from a generator keyed by (seed, chunk index); the state a chunk leaves feeds the
next, so seek() replays chunks from the start and lands on the same bytes as stepping. A tick
only indexes prepared arrays and builds Quote objects; order books are built on demand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from itertools import repeat

import numpy as np
from scipy.signal import lfilter

from bot.config import ImpactConfig, MarketConfig
from bot.market.base import MarketSource
from bot.market.sim_impact import ImpactOverlay  # helper "fill": our fills move the quotes
from bot.market.sim_news import MarketEvents
from bot.market.sim_parts import (BOOK_VARIANTS, PEGGED, BookShapes, CandleStore, asset_params, fee_rates,
                                 price_step_for, stable_unit)
from bot.models import Candle, CandleHistory, Market, OrderBook, Quote, Snapshot, iso_utc, split_symbol

USDT, PAIR_PREFERENCE = "USDT", ("XRP", "ADA")  # the preferred cointegrated pair: leader, follower

# Dynamics (times in simulated seconds).
VOL_HALF_LIFE_S, VOL_LOG_STD, VOL_COMMON_SHARE = 1800.0, 0.35, 0.6
TREND_PCT_PER_HOUR = 0.6  # regime drift of an asset with 0.10 %/min volatility
FLAT_MEAN_S, TREND_MEAN_S = 3 * 3600.0, 1.5 * 3600.0
ANCHOR_HALF_LIFE_S = 7 * 86400.0  # a faint pull towards the start price keeps long runs sane
DEVIATION_HALF_LIFE_S, JUMP_HALF_LIFE_S = 90.0, 20.0
JUMPS_PER_HOUR, JUMP_BPS = 3.0, (25.0, 80.0)  # per exchange, at exchange_deviation_bps = 8
PAIR_HALF_LIFE_S, PAIR_LOG_STD = 600.0, 0.0035
CANDLES_24H, MIN_CANDLES_KEPT = 1440, 2000


def _ar1(innovations: np.ndarray, phi: float, last: np.ndarray | float) -> np.ndarray:
    """y[t] = phi * y[t-1] + x[t] down axis 0, continuing from y[-1] = last."""
    state = (phi * np.asarray(last, dtype=float)).reshape((1,) + innovations.shape[1:])
    return lfilter([1.0], [1.0, -phi], innovations, axis=0, zi=state)[0]


def _decay(half_life_s: float, dt: float) -> float:
    return math.exp(-math.log(2.0) * dt / half_life_s)


def _fast_constructor(cls, names: tuple[str, ...]):
    """Positional constructor for a frozen slots dataclass that sets the slots directly.

    Same object as cls(...) at about half the cost (a frozen __init__ calls object.__setattr__
    per field); this is most of a tick's budget. Falls back to keywords if the fields change.
    """
    if tuple(f.name for f in fields(cls)) != names:
        return lambda *values: cls(**dict(zip(names, values)))
    setters = [cls.__dict__[name].__set__ for name in names]
    args = ", ".join(f"a{i}" for i in range(len(names)))
    body = "".join(f"    s{i}(o, a{i})\n" for i in range(len(names)))
    scope = {f"s{i}": s for i, s in enumerate(setters)} | {"new": object.__new__, "cls": cls}
    exec(f"def make({args}):\n    o = new(cls)\n{body}    return o\n", scope)  # noqa: S102
    return scope["make"]


_new_quote = _fast_constructor(
    Quote, ("exchange", "symbol", "bid", "ask", "last", "bid_size", "ask_size", "ts", "change_24h_pct")
)
_new_snapshot = _fast_constructor(
    Snapshot, ("tick", "ts", "exchanges", "symbols", "quotes", "markets", "history", "book_reader",
               "news", "whales", "new_candle", "stale")
)
_NOTHING: frozenset = frozenset()


@dataclass(slots=True)
class _Chunk:
    start: int
    length: int
    visible_end: list  # per tick: candles closed by then, as an end index into the candle store
    new_candle: list
    news: dict
    whales: dict
    pending: tuple
    rows: np.ndarray | None = None  # (tick, field, market): bid, ask, last, bid/ask size, 24h change %, variant


class _TickBooks:
    """The book reader of one tick: builds each book on first request and remembers it."""

    __slots__ = ("_market", "_ts", "_row", "_cache")

    def __init__(self, market: "SimulatedMarket", ts: float, row: list):
        self._market, self._ts, self._row, self._cache = market, ts, row, {}

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        book = self._cache.get((exchange, symbol))
        if book is None:
            index = self._market._index.get((exchange, symbol))
            if index is None:
                return None
            top = tuple(self._row[field][index] for field in (0, 1, 3, 4, 6))  # bid, ask, sizes, variant
            book = self._cache[(exchange, symbol)] = self._market._books.build(index, exchange, symbol, self._ts, top)
        return book


class SimulatedMarket(MarketSource, CandleHistory):
    """A deterministic multi-exchange market: same seed, same quotes, books, candles, news and whales.

    cointegrated_pairs names the (leader, follower) USDT symbols that are built to be cointegrated.
    """

    kind = "simulated"
    description = "Simulated market - paper trading"

    def __init__(self, config: MarketConfig, impact: ImpactConfig | None = None):
        super().__init__(tuple(config.exchanges), tuple(config.symbols))
        sim, dt = config.simulator, float(config.tick_seconds)
        self._seed, self._dt = int(config.seed), dt
        start = datetime.fromisoformat(config.start_time.replace("Z", "+00:00"))
        self._start_epoch = (start if start.tzinfo else start.replace(tzinfo=timezone.utc)).timestamp()
        self._setup_assets(sim, dt)
        self._setup_markets(sim, dt)
        self._impact = ImpactOverlay(impact, self._keys, self._price_inv.tolist())  # impact: off unless given
        self._tick0 = -self._count_warmup_ticks(sim.warmup_candles)  # warm-up ticks are negative
        self._chunk_ticks = int(max(512, min(4096, 2 ** round(math.log2(4096 * 32 / max(32, len(self._keys)))))))
        self._keep = max(sim.warmup_candles, MIN_CANDLES_KEPT)
        self._per_chunk_candles = min(self._chunk_ticks + 1, math.ceil(self._chunk_ticks * dt / 60.0) + 2)
        news_assets = [i for i, a in enumerate(self._assets) if a not in PEGGED]
        self._events = MarketEvents(
            self._assets, news_assets, news_assets + [len(self._assets)], self.symbols,
            self._vol_rel * sim.volatility_scale, sim.news_per_hour, sim.whales_per_hour, dt, self._start_epoch,
        )
        self._chunk: _Chunk | None = None
        self.seek(0)

    # ---- setup ---------------------------------------------------------------------------
    def _setup_assets(self, sim, dt: float) -> None:
        assets: list[str] = []
        for symbol in self.symbols:
            for asset in split_symbol(symbol):
                if asset != USDT and asset not in assets:
                    assets.append(asset)
        self._assets = assets
        params = [asset_params(a) for a in assets]
        self._price0 = {a: p[0] for a, p in zip(assets, params)} | {USDT: 1.0}
        self._amount_step0 = {a: p[3] for a, p in zip(assets, params)} | {USDT: 1.0}
        vol_min = np.array([p[1] for p in params])
        self._vol_rel = vol_min / 0.10
        self._logp0 = np.log([p[0] for p in params] + [1.0])
        scale = sim.volatility_scale
        self._sigma_tick = vol_min / 100.0 / math.sqrt(60.0) * math.sqrt(dt) * scale
        self._loading = np.array([p[2] for p in params])
        self._idio = np.sqrt(1.0 - self._loading**2)
        self._trend_tick = TREND_PCT_PER_HOUR / 100.0 / 3600.0 * dt * self._vol_rel * scale
        self._anchor_tick = math.log(2.0) / ANCHOR_HALF_LIFE_S * dt
        usdt_bases = [split_symbol(s)[0] for s in self.symbols if split_symbol(s)[1] == USDT]
        usdt_bases = [a for a in usdt_bases if a not in PEGGED and a != USDT]
        self._pair: tuple[int, int, float, float] | None = None  # leader, follower, beta, intercept
        self.cointegrated_pairs: list[tuple[str, str]] = []
        if all(a in usdt_bases for a in PAIR_PREFERENCE):
            leader, follower = PAIR_PREFERENCE
        else:
            others = [a for a in usdt_bases if a != "BTC"]
            leader, follower = (others[-2], others[-1]) if len(others) >= 2 else (None, None)
        if leader is not None:
            beta = 0.8 + 0.4 * stable_unit(self._seed, leader, follower, "beta")
            intercept = math.log(self._price0[follower]) - beta * math.log(self._price0[leader])
            self._pair = (assets.index(leader), assets.index(follower), beta, intercept)
            self.cointegrated_pairs = [(f"{leader}/{USDT}", f"{follower}/{USDT}")]
        excluded = {self._pair[1]} if self._pair else set()
        # Pegged assets walk too, with zero volatility and no trend: they stay at 1 USDT.
        self._walkers = np.array([i for i in range(len(assets)) if i not in excluded], dtype=np.int64)
        self._phi_vol = _decay(VOL_HALF_LIFE_S, dt)
        self._vol_innov_sd = VOL_LOG_STD * math.sqrt(1.0 - self._phi_vol**2)
        self._switch_prob = np.minimum(1.0, dt / np.array([FLAT_MEAN_S, TREND_MEAN_S, TREND_MEAN_S]))
        self._phi_pair = _decay(PAIR_HALF_LIFE_S, dt)
        self._pair_innov_sd = PAIR_LOG_STD * scale * math.sqrt(1.0 - self._phi_pair**2)

    def _setup_markets(self, sim, dt: float) -> None:
        asset_index = {a: i for i, a in enumerate(self._assets)} | {USDT: len(self._assets)}
        self._keys = [(ex, sym) for ex in self.exchanges for sym in self.symbols]  # market m = self._keys[m]
        self._index = {key: m for m, key in enumerate(self._keys)}
        self._key_exchange, self._key_symbol = [ex for ex, _ in self._keys], [sym for _, sym in self._keys]
        self._m_base = np.array([asset_index[split_symbol(sym)[0]] for sym in self._key_symbol])
        self._m_quote = np.array([asset_index[split_symbol(sym)[1]] for sym in self._key_symbol])
        self._m_sym = np.tile(np.arange(len(self.symbols)), len(self.exchanges))
        self._markets: dict[tuple[str, str], Market] = {}
        columns = []  # per market: half spread, 1/price step, amount step, top notional, spacing, price, volume
        for ex, sym in self._keys:
            base, quote = split_symbol(sym)
            price = self._price0[base] / self._price0[quote]
            price_step, amount_step = price_step_for(sym, price), self._amount_step0[base]
            min_notional = float(f"{5.0 / self._price0[quote]:.2g}")  # 5 USDT in the quote asset
            self._markets[(ex, sym)] = Market(ex, sym, base, quote, *fee_rates(ex), amount_step, price_step,
                                              amount_step, min_notional)
            majors = 0.6 if base in ("BTC", "ETH") and quote == USDT else 1.0
            columns.append((
                (1.0 + 3.0 * stable_unit(ex, sym, "spread")) * majors * 1e-4,
                float(10 ** round(-math.log10(price_step))), amount_step,
                (2000.0 + 4000.0 * stable_unit(ex, sym, "top")) / self._price0[quote],
                0.7 + 0.6 * stable_unit(ex, sym, "spacing"), price,
                (50_000.0 + 450_000.0 * stable_unit(ex, sym, "volume")) / 60.0 / self._price0[base] * dt,
            ))
        self._half_spread, self._price_inv, amount_step, top, spacing, price, self._volume_tick = np.array(columns).T
        book_rng = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(2,)))
        self._books = BookShapes(book_rng, sim.book_depth, self._price_inv, amount_step, top, spacing, price)
        self._phi_dev = _decay(DEVIATION_HALF_LIFE_S, dt)
        self._dev_innov_sd = sim.exchange_deviation_bps * 1e-4 * math.sqrt(1.0 - self._phi_dev**2)
        self._phi_jump = _decay(JUMP_HALF_LIFE_S, dt)
        self._jump_scale = sim.exchange_deviation_bps / 8.0 * 1e-4
        self._jumps_per_tick = JUMPS_PER_HOUR / 3600.0 * dt

    def _minutes(self, ticks: np.ndarray) -> np.ndarray:  # the 1 us guard keeps ts = 60 k out of minute k - 1
        return np.floor((self._start_epoch + ticks * self._dt + 1e-6) / 60.0).astype(np.int64)

    def _count_warmup_ticks(self, candles: int) -> int:
        ticks = math.ceil((candles + 1) * 60.0 / self._dt) + 1 if self._dt < 60 else candles + 1
        while True:
            minutes = self._minutes(np.arange(-ticks, 1))
            if np.unique(minutes[:-1][minutes[:-1] != minutes[-1]]).size >= candles:
                return ticks
            ticks += max(1, ticks // 10)

    # ---- generation ------------------------------------------------------------------------
    def _reset(self) -> None:
        rng = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(1,)))
        n_walk, n_markets = len(self._walkers), len(self._keys)
        self._logp = self._logp0.copy()
        self._log_vol = rng.normal(0.0, VOL_LOG_STD, n_walk)
        self._regime = rng.choice(3, size=n_walk, p=[0.5, 0.25, 0.25])
        self._pair_noise, self._dev_jump = 0.0, np.zeros(n_markets)
        self._dev_slow = rng.normal(0.0, self._dev_innov_sd / math.sqrt(1.0 - self._phi_dev**2), n_markets)
        self._last_mid: np.ndarray | None = None
        self._candles = CandleStore(n_markets, self._keep, self._per_chunk_candles)
        self._events.reset()
        self._chunk, self._chunk_index = None, -1

    def _advance(self) -> None:
        self._chunk_index += 1
        self._chunk = self._generate(self._tick0 + self._chunk_index * self._chunk_ticks, self._chunk_index)

    def _generate(self, first: int, index: int) -> _Chunk:
        T, n_assets = self._chunk_ticks, len(self._assets)
        rng = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(0, index)))
        news_drift, news = self._events.news_for_chunk(rng, first, T)
        logp, vol_ratio = np.zeros((T, n_assets + 1)), np.ones((T, n_assets + 1))  # last column: USDT
        walk = self._walkers
        if walk.size:
            share = math.sqrt(VOL_COMMON_SHARE)
            shocks = share * rng.standard_normal((T, 1)) + math.sqrt(1 - share**2) * rng.standard_normal((T, walk.size))
            log_vol = _ar1(self._vol_innov_sd * shocks, self._phi_vol, self._log_vol)
            self._log_vol = log_vol[-1].copy()
            sigma = self._sigma_tick[walk] * np.exp(log_vol - VOL_LOG_STD**2)
            noise = self._loading[walk] * rng.standard_normal((T, 1))
            noise += self._idio[walk] * rng.standard_normal((T, walk.size))
            drift = self._regimes(rng, T) * self._trend_tick[walk]
            drift -= self._anchor_tick * (self._logp[walk] - self._logp0[walk])
            returns = drift + sigma * noise + news_drift[:, walk]
            logp[:, walk] = self._logp[walk] + np.cumsum(returns, axis=0)
            vol_ratio[:, walk] = np.exp(log_vol)
        if self._pair is not None:
            leader, follower, beta, intercept = self._pair
            shocks = self._pair_innov_sd * rng.standard_normal(T) + news_drift[:, follower]
            noise = _ar1(shocks, self._phi_pair, self._pair_noise)
            self._pair_noise = float(noise[-1])
            logp[:, follower] = intercept + beta * logp[:, leader] + noise
            vol_ratio[:, follower] = vol_ratio[:, leader]
        self._logp = logp[-1, :-1].copy()
        true_price = np.exp(logp[:, self._m_base] - logp[:, self._m_quote])
        ratio = np.clip(np.maximum(vol_ratio[:, self._m_base], vol_ratio[:, self._m_quote]), 0.6, 3.0)
        n_markets = len(self._keys)
        uniform = rng.random((T, n_markets + len(self.symbols)))  # per market, then per symbol (all exchanges)
        shocks = (uniform - 0.5) * math.sqrt(12.0)  # unit variance; a persistent AR(1) sums them to Gaussian
        # Half a deviation's variance is common to every exchange quoting the symbol: gaps are rarer than deviations.
        mixed = math.sqrt(0.5) * (shocks[:, :n_markets] + shocks[:, n_markets + self._m_sym])
        slow = _ar1(self._dev_innov_sd * mixed, self._phi_dev, self._dev_slow)
        kicks = self._jump_kicks(rng, T)
        jump, kicked = np.zeros_like(kicks), np.flatnonzero(kicks.any(axis=0) | (np.abs(self._dev_jump) > 1e-12))
        jump[:, kicked] = _ar1(kicks[:, kicked], self._phi_jump, self._dev_jump[kicked])
        self._dev_slow, self._dev_jump = slow[-1].copy(), jump[-1].copy()
        mid = true_price * (1.0 + slow + jump)
        half_spread = self._half_spread * ratio
        inv = self._price_inv
        bid_units = np.maximum(np.floor(mid * (1.0 - half_spread) * inv), 1.0)
        ask_units = np.maximum(np.ceil(mid * (1.0 + half_spread) * inv), bid_units + 1.0)
        bid, ask = bid_units / inv, ask_units / inv
        quoted_mid = (bid + ask) * 0.5
        volume = self._volume_tick * ratio * (0.4 + 0.8 * np.abs(shocks[:, :n_markets]))
        variant = (uniform[:, :n_markets] * 2.0**20).astype(np.int64) & (BOOK_VARIANTS - 1)  # bits the shock ignores
        whales = self._events.whales_for_chunk(rng, first, T, logp)
        prev_mid, self._last_mid = quoted_mid[0] if self._last_mid is None else self._last_mid, quoted_mid[-1].copy()
        minutes = self._minutes(np.arange(first, first + T))
        visible_end, new_candle = self._candles.fold(first, minutes, quoted_mid, volume)
        pending = (bid, ask, quoted_mid, prev_mid, variant, visible_end)  # made into rows when first read
        return _Chunk(first, T, visible_end.tolist(), new_candle, news, whales, pending)

    def _regimes(self, rng: np.random.Generator, T: int) -> np.ndarray:
        """Markov trend regimes per walker as drift directions (0 flat, +1 up, -1 down)."""
        draws = rng.random((T, len(self._walkers)))
        out = np.empty(draws.shape)
        direction, p = (0.0, 1.0, -1.0), self._switch_prob
        for j in range(draws.shape[1]):
            state, since = int(self._regime[j]), 0
            for t in np.flatnonzero(draws[:, j] < p.max()).tolist():
                u = draws[t, j]
                if u >= p[state]:
                    continue
                out[since:t, j] = direction[state]
                since, u = t, u / p[state]  # reuse the draw: uniform again below p
                state = (1 if u < 0.5 else 2) if state == 0 else (0 if u < 0.7 else 3 - state)
            out[since:, j] = direction[state]
            self._regime[j] = state
        return out

    def _jump_kicks(self, rng: np.random.Generator, T: int) -> np.ndarray:
        """Rare dislocations: one market on one exchange jumps 25-80 bps, then decays."""
        kicks = np.zeros((T, len(self._keys)))
        counts = rng.poisson(self._jumps_per_tick * T, len(self.exchanges))
        total = int(counts.sum())
        if total:
            exchange = np.repeat(np.arange(len(self.exchanges)), counts)
            at, symbol = rng.integers(0, T, total), rng.integers(0, len(self.symbols), total)
            size = rng.uniform(*JUMP_BPS, total) * np.where(rng.random(total) < 0.5, -1.0, 1.0)
            np.add.at(kicks, (at, exchange * len(self.symbols) + symbol), size * self._jump_scale)
        return kicks

    def _quote_fields(self, bid, ask, mid, prev_mid, variant, end) -> np.ndarray:
        """Per-tick quote fields of a chunk, stacked so a tick needs one tolist()."""
        last = bid.copy()
        np.copyto(last, ask, where=mid >= np.vstack([prev_mid, mid[:-1]]))  # a buyer lifted the ask, or not
        bid_size, ask_size = self._books.top_sizes(variant, bid, ask)
        reference = np.maximum(end - CANDLES_24H, np.maximum(end - self._keep, 0))
        ref_close = self._candles.ohlcv[3][:, np.minimum(reference, max(self._candles.length - 1, 0))].T
        change = (last / np.maximum(ref_close, 1e-300) - 1.0) * 100.0  # ref 0 only before any bar closed
        return np.stack([bid, ask, last, bid_size, ask_size, change, variant], axis=1)

    # ---- ticks -----------------------------------------------------------------------------
    def seek(self, tick: int) -> None:
        """Position so the next snapshot is `tick`, replaying the generation from the seed."""
        if tick < 0:
            raise ValueError(f"tick must be >= 0 (got {tick})")
        target = (tick - 1 - self._tick0) // self._chunk_ticks  # the chunk holding tick - 1
        if self._chunk is None or target < self._chunk_index:
            self._reset()
        while self._chunk_index < target:
            self._advance()
        self._pos, self._current = tick, None
        self._visible_end = self._chunk.visible_end[tick - 1 - self._chunk.start]

    def next_snapshot(self) -> Snapshot:
        """Advance one tick and return it."""
        if self._pos - self._chunk.start >= self._chunk.length:
            self._advance()
        chunk, tick = self._chunk, self._pos
        i, self._pos = tick - chunk.start, tick + 1
        self._visible_end = chunk.visible_end[i]
        ts, quotes, books = self._current = self._tick_view(chunk, i, tick)
        return _new_snapshot(tick, ts, self.exchanges, self.symbols, quotes, self._markets, self, books,
                             chunk.news.get(tick, ()), chunk.whales.get(tick, ()), chunk.new_candle[i], _NOTHING)

    def _tick_view(self, chunk: _Chunk, i: int, tick: int) -> tuple[float, dict, _TickBooks]:
        ts = self._start_epoch + tick * self._dt
        if chunk.rows is None:
            chunk.rows = self._quote_fields(*chunk.pending)
        bid, ask, last, bid_size, ask_size, change, _ = row = chunk.rows[i].tolist()
        self._impact.shift(row, ts)  # our fills' market impact, in place (bot/market/sim_impact.py)
        quotes = dict(zip(self._keys, map(_new_quote, self._key_exchange, self._key_symbol, bid, ask, last,
                                          bid_size, ask_size, repeat(ts), change)))
        return ts, quotes, _TickBooks(self, ts, row)

    def _now(self) -> tuple[float, dict, _TickBooks]:  # the latest tick; before any snapshot, the last warm-up tick
        if self._current is None:
            self._current = self._tick_view(self._chunk, self._pos - 1 - self._chunk.start, self._pos - 1)
        return self._current

    def note_fill(self, exchange: str, symbol: str, side: str, qty: float, price: float, ts: float,
                  depth_share: float = 0.0) -> None:
        """One of our fills: it moves this market's later quotes and books (ImpactOverlay)."""
        self._impact.note_fill(exchange, symbol, side, qty, price, ts, depth_share)

    def order_book_for(self, exchange: str, symbol: str) -> OrderBook | None:
        """The book of a market at the latest tick, or None for a market that does not exist."""
        return self._now()[2](exchange, symbol)

    # ---- reads -----------------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """Every (exchange, symbol) market with fees and precision (shared: do not modify)."""
        return self._markets

    def news_sentiment(self, news_id: str) -> int | None:
        """Ground truth tone of a recent simulated headline: +1, -1 or 0 (None if unknown)."""
        return self._events.sentiment(news_id)

    def _market_index(self, exchange: str, symbol: str) -> int:
        index = self._index.get((exchange, symbol))
        if index is None and exchange not in self.exchanges:
            raise KeyError(f"unknown exchange {exchange!r}: the simulator has {', '.join(self.exchanges)}")
        if index is None:
            raise KeyError(f"unknown symbol {symbol!r} on {exchange}: the simulator has {', '.join(self.symbols)}")
        return index

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:
        """Closes of the last `count` closed 1-minute candles, oldest first (fewer if not available)."""
        m = self._market_index(exchange, symbol)
        lo, hi = self._candles.window(self._visible_end, count)
        return self._candles.ohlcv[3, m, lo:hi].copy()

    def candles(self, exchange: str, symbol: str, count: int) -> list[Candle]:
        """The last `count` closed 1-minute candles, oldest first."""
        m = self._market_index(exchange, symbol)
        lo, hi = self._candles.window(self._visible_end, count)
        columns = [self._candles.ts[lo:hi].tolist()] + self._candles.ohlcv[:, m, lo:hi].tolist()
        return [Candle(*values) for values in zip(*columns)]

    def fetch_ticker(self, exchange: str, symbol: str) -> dict:
        """ccxt-shaped ticker of the latest tick."""
        self._market_index(exchange, symbol)
        ts, quotes, _ = self._now()
        q = quotes[(exchange, symbol)]
        return {"symbol": symbol, "timestamp": int(round(ts * 1000)), "datetime": iso_utc(ts), "bid": q.bid,
                "ask": q.ask, "last": q.last, "close": q.last, "bidVolume": q.bid_size, "askVolume": q.ask_size,
                "percentage": q.change_24h_pct, "info": {}}

    def fetch_order_book(self, exchange: str, symbol: str, limit: int | None = None) -> dict:
        """ccxt-shaped order book of the latest tick: [[price, amount], ...] best first."""
        self._market_index(exchange, symbol)
        book = self.order_book_for(exchange, symbol)
        bids, asks = book.bids[:limit], book.asks[:limit]
        return {"symbol": symbol, "bids": [list(level) for level in bids], "asks": [list(level) for level in asks],
                "timestamp": int(round(book.ts * 1000)), "datetime": iso_utc(book.ts), "nonce": None}

    def fetch_ohlcv(self, exchange: str, symbol: str, timeframe: str = "1m", since: int | None = None,
                    limit: int | None = None) -> list[list]:
        """ccxt-shaped closed 1-minute candles [[ms, open, high, low, close, volume], ...], oldest first."""
        if timeframe != "1m":
            raise ValueError(f"the simulated market only has 1m candles (got timeframe {timeframe!r})")
        bars = [[int(round(c.ts * 1000)), c.open, c.high, c.low, c.close, c.volume]
                for c in self.candles(exchange, symbol, self._keep)]
        if since is not None:
            bars = [bar for bar in bars if bar[0] >= since]
            return bars if limit is None else bars[:limit]
        return bars if limit is None else bars[-limit:] if limit > 0 else []

    def load_markets(self, exchange: str) -> dict[str, dict]:
        """ccxt-shaped markets of one exchange, keyed by symbol."""
        self._market_index(exchange, self.symbols[0])  # raises for an unknown exchange
        out = {}
        for symbol in self.symbols:
            mk = self._markets[(exchange, symbol)]
            out[symbol] = {
                "id": f"{mk.base}{'-' if exchange.startswith('coinbase') else ''}{mk.quote}", "symbol": symbol,
                "base": mk.base, "quote": mk.quote, "baseId": mk.base, "quoteId": mk.quote, "active": True,
                "type": "spot", "spot": True, "taker": mk.taker_fee, "maker": mk.maker_fee,
                "precision": {"amount": mk.amount_step, "price": mk.price_step},
                "limits": {"amount": {"min": mk.min_amount, "max": None}, "price": {"min": mk.price_step, "max": None},
                           "cost": {"min": mk.min_notional, "max": None}}, "info": {}}
        return out
