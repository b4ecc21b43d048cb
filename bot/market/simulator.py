"""Deterministic simulated multi-exchange market (DESIGN.md, "The simulator").

Per chunk: news (sim_parts.MarketEvents), the true prices (sim_prices: heavy tails, long-memory
volatility, a market factor, seasonality, spells, jumps, the cointegrated pair), each exchange's
deviation from them (sim_deviations), competition closing fee-beating gaps (sim_competition),
then quotes rounded to the price step, candles and whales.

Everything derives from config.seed. Ticks are generated in vectorised chunks whose random
numbers come from a generator keyed by (seed, chunk index); the state a chunk leaves feeds the
next, so seek() replays chunks from the start and lands on the same bytes as stepping. A tick
only indexes prepared arrays and builds Quote objects; order books are built on demand.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import repeat

import numpy as np

from bot.config import MarketConfig
from bot.config_execution import ImpactConfig
from bot.market.base import MarketSource
from bot.market.sim_competition import Competition
from bot.market.sim_deviations import QuoteDeviations
from bot.market.sim_impact import ImpactOverlay  # our fills move the quotes
from bot.market.sim_news import MarketEvents
from bot.market.sim_parts import (BOOK_VARIANTS, PEGGED, BookShapes, CandleStore, asset_params, fee_rates,
                                 market_liquidity, price_step_for, stable_unit)
from bot.market.sim_prices import REGIMES, PriceProcess
from bot.market.sim_trades import tick_prints
from bot.models import (NOTHING_STALE, Candle, CandleHistory, Market, OrderBook, Snapshot, new_quote, new_snapshot,
                        split_symbol)
from bot.timestamps import iso_utc

USDT, PAIR_PREFERENCE = "USDT", ("XRP", "ADA")  # the preferred cointegrated pair: leader, follower
# Ticks whose public trades recent_trades() can still tell (resting orders read them each tick).
RECENT_TICKS = 600
SPREAD_VOL_BOUNDS = (0.6, 4.0)  # spreads widen with the moment's volatility, within these multiples
CANDLES_24H, MIN_CANDLES_KEPT = 1440, 2000


@dataclass(slots=True)
class _Chunk:
    start: int
    length: int
    visible_end: list  # per tick: candles closed by then, as an end index into the candle store
    new_candle: list
    news: dict
    whales: dict
    pending: tuple
    regime: np.ndarray  # per tick: index into sim_prices.REGIMES
    rows: np.ndarray | None = None  # (tick, field, market): bid, ask, last, bid/ask size, 24h change %, variant


class _TickBooks:
    """The book reader of one tick: builds each book on first request and remembers it."""

    __slots__ = ("_market", "_ts", "_row", "_cache")

    def __init__(self, market: "SimulatedMarket", ts: float, row: list):
        self._market, self._ts, self._row, self._cache = market, ts, row, {}

    @property
    def market(self) -> "SimulatedMarket":
        """The simulator whose tick this is."""
        return self._market

    @property
    def ts(self) -> float:
        """The tick's time: every book's ts."""
        return self._ts

    def quote_fields(self) -> tuple[tuple, tuple, tuple, tuple, tuple]:
        """What the tick's books are built from, per market number: bid, ask, bid size, ask size, book
        variant (the fields build() takes as its top)."""
        row = self._row
        return tuple(row[0]), tuple(row[1]), tuple(row[3]), tuple(row[4]), tuple(row[6])

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
    has_trade_feed = True

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
            self._vol_rel[:-1], sim.news_per_hour, sim.whales_per_hour, dt, self._start_epoch,
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
        self._vol_rel = np.array([p[1] for p in params] + [0.0]) / 0.10 * sim.volatility_scale  # last: USDT
        usdt_bases = [split_symbol(s)[0] for s in self.symbols if split_symbol(s)[1] == USDT]
        usdt_bases = [a for a in usdt_bases if a not in PEGGED and a != USDT]
        pair: tuple[int, int, float, float] | None = None  # leader, follower, beta, intercept
        self.cointegrated_pairs: list[tuple[str, str]] = []
        if all(a in usdt_bases for a in PAIR_PREFERENCE):
            leader, follower = PAIR_PREFERENCE
        else:
            others = [a for a in usdt_bases if a != "BTC"]
            leader, follower = (others[-2], others[-1]) if len(others) >= 2 else (None, None)
        if leader is not None:
            beta = 0.8 + 0.4 * stable_unit(self._seed, leader, follower, "beta")
            intercept = math.log(self._price0[follower]) - beta * math.log(self._price0[leader])
            pair = (assets.index(leader), assets.index(follower), beta, intercept)
            self.cointegrated_pairs = [(f"{leader}/{USDT}", f"{follower}/{USDT}")]
        self._prices = PriceProcess(sim, dt, self._start_epoch, params, pair)

    def _setup_markets(self, sim, dt: float) -> None:
        asset_index = {a: i for i, a in enumerate(self._assets)} | {USDT: len(self._assets)}
        self._keys = [(ex, sym) for ex in self.exchanges for sym in self.symbols]  # market m = self._keys[m]
        self._index = {key: m for m, key in enumerate(self._keys)}
        self._key_exchange, self._key_symbol = [ex for ex, _ in self._keys], [sym for _, sym in self._keys]
        self._m_base = np.array([asset_index[split_symbol(sym)[0]] for sym in self._key_symbol])
        self._m_quote = np.array([asset_index[split_symbol(sym)[1]] for sym in self._key_symbol])
        self._markets: dict[tuple[str, str], Market] = {}
        columns = []  # per market: half spread, 1/price step, amount step, top notional, spacing, price, volume
        for ex, sym in self._keys:
            base, quote = split_symbol(sym)
            price = self._price0[base] / self._price0[quote]
            price_step, amount_step = price_step_for(sym, price), self._amount_step0[base]
            min_notional = float(f"{5.0 / self._price0[quote]:.2g}")  # 5 USDT in the quote asset
            self._markets[(ex, sym)] = Market(ex, sym, base, quote, *fee_rates(ex), amount_step, price_step,
                                              amount_step, min_notional)
            spread_bps, top_usdt = market_liquidity(ex, sym)
            columns.append((
                spread_bps * (0.8 + 0.4 * stable_unit(ex, sym, "spread")) * 0.5e-4,
                float(10 ** round(-math.log10(price_step))), amount_step,
                top_usdt * (0.8 + 0.4 * stable_unit(ex, sym, "top")) / self._price0[quote],
                0.7 + 0.6 * stable_unit(ex, sym, "spacing"), price,
                # Volume per tick grows with depth: a deep market trades more.
                top_usdt * (2.0 + 6.0 * stable_unit(ex, sym, "volume")) / 60.0 / self._price0[base] * dt,
            ))
        self._half_spread, self._price_inv, amount_step, top, spacing, price, self._volume_tick = np.array(columns).T
        book_rng = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(2,)))
        self._books = BookShapes(book_rng, sim.book_depth, self._price_inv, amount_step, top, spacing, price)
        exchange = np.repeat(np.arange(len(self.exchanges)), len(self.symbols))
        symbol = np.tile(np.arange(len(self.symbols)), len(self.exchanges))
        loading = np.array([asset_params(a)[2] for a in self._assets] + [0.0])
        vb, vq = self._vol_rel[self._m_base], self._vol_rel[self._m_quote]
        # A cross moves by the part of its two coins that the market factor does not share.
        vol_rel = np.sqrt(np.maximum(vb**2 + vq**2 - 2.0 * loading[self._m_base] * loading[self._m_quote] * vb * vq, 0.0))
        cross = self._m_quote != len(self._assets)
        self._deviations = QuoteDeviations(sim, dt, self._m_base, self._m_quote, exchange, symbol, vol_rel, cross)
        specs = [(int(e), split_symbol(sym)[0], split_symbol(sym)[1]) for e, sym in zip(exchange, self._key_symbol)]
        self._competition = (Competition(sim.competition, dt, specs, [fee_rates(ex)[0] for ex in self.exchanges])
                             if sim.competition.enabled else None)

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
        self._prices.reset(rng)
        self._deviations.reset(rng)
        if self._competition is not None:
            self._competition.reset()
        self._last_mid: np.ndarray | None = None
        self._candles = CandleStore(len(self._keys), self._keep, self._per_chunk_candles)
        self._events.reset()
        self._chunk, self._chunk_index = None, -1

    def _advance(self) -> None:
        self._chunk_index += 1
        self._chunk = self._generate(self._tick0 + self._chunk_index * self._chunk_ticks, self._chunk_index)

    def _generate(self, first: int, index: int) -> _Chunk:
        T, n_markets = self._chunk_ticks, len(self._keys)
        rng = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(0, index)))
        news_drift, news = self._events.news_for_chunk(rng, first, T)
        paths = self._prices.generate(rng, first, T, news_drift)
        logp = paths.logp
        vol = np.maximum(paths.vol[:, self._m_base], paths.vol[:, self._m_quote])
        uniform = rng.random((T, n_markets))  # the deviation's shocks; their low bits pick the book variant
        deviation = self._deviations.generate(rng, paths, uniform, vol)
        half_spread = self._half_spread * np.clip(vol, *SPREAD_VOL_BOUNDS)
        if self._competition is not None:
            # Its own generator: turning competition off changes nothing else.
            own = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(3, index)))
            deviation = self._competition.apply(own, deviation, half_spread)
        mid = np.exp(logp[:, self._m_base] - logp[:, self._m_quote] + deviation)
        inv = self._price_inv
        bid_units = np.maximum(np.floor(mid * (1.0 - half_spread) * inv), 1.0)
        ask_units = np.maximum(np.ceil(mid * (1.0 + half_spread) * inv), bid_units + 1.0)
        bid, ask = bid_units / inv, ask_units / inv
        quoted_mid = (bid + ask) * 0.5
        volume = self._volume_tick * paths.season[:, None] * vol * (0.4 + 0.8 * uniform)
        variant = (uniform * 2.0**20).astype(np.int64) & (BOOK_VARIANTS - 1)  # bits the shock hardly feels
        whales = self._events.whales_for_chunk(rng, first, T, logp)
        prev_mid, self._last_mid = quoted_mid[0] if self._last_mid is None else self._last_mid, quoted_mid[-1].copy()
        minutes = self._minutes(np.arange(first, first + T))
        visible_end, new_candle = self._candles.fold(first, minutes, quoted_mid, volume)
        pending = (bid, ask, quoted_mid, prev_mid, variant, visible_end)  # made into rows when first read
        return _Chunk(first, T, visible_end.tolist(), new_candle, news, whales, pending, paths.regime)

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
        self._recent: deque = deque(maxlen=RECENT_TICKS)
        self._visible_end = self._chunk.visible_end[tick - 1 - self._chunk.start]

    def next_snapshot(self) -> Snapshot:
        """Advance one tick and return it."""
        if self._pos - self._chunk.start >= self._chunk.length:
            self._advance()
        chunk, tick = self._chunk, self._pos
        i, self._pos = tick - chunk.start, tick + 1
        self._visible_end = chunk.visible_end[i]
        ts, quotes, books = self._current = self._tick_view(chunk, i, tick)
        self._recent.append((tick, ts, quotes))  # for recent_trades(); draws nothing
        return new_snapshot(tick, ts, self.exchanges, self.symbols, quotes, self._markets, self, books,
                            chunk.news.get(tick, ()), chunk.whales.get(tick, ()), chunk.new_candle[i], NOTHING_STALE)

    def _tick_view(self, chunk: _Chunk, i: int, tick: int) -> tuple[float, dict, _TickBooks]:
        ts = self._start_epoch + tick * self._dt
        if chunk.rows is None:
            chunk.rows = self._quote_fields(*chunk.pending)
        bid, ask, last, bid_size, ask_size, change, _ = row = chunk.rows[i].tolist()
        self._impact.shift(row, ts)  # our fills' market impact, in place (bot/market/sim_impact.py)
        quotes = dict(zip(self._keys, map(new_quote, self._key_exchange, self._key_symbol, bid, ask, last,
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

    def recent_trades(self, exchange: str, symbol: str, since_ms: int) -> list[dict]:
        """Public trades after since_ms over the last RECENT_TICKS ticks (bot/market/sim_trades.py), oldest first."""
        m = self._market_index(exchange, symbol)
        key, out, previous = (exchange, symbol), [], None
        for tick, ts, quotes in self._recent:
            quote = quotes.get(key)
            if ts * 1000.0 > since_ms + 0.5:
                out += tick_prints(self._seed, m, tick, ts, previous, quote, self._markets[key].price_step,
                                   float(self._volume_tick[m]))
            previous = quote
        return out

    def order_book_for(self, exchange: str, symbol: str) -> OrderBook | None:
        """The book of a market at the latest tick, or None for a market that does not exist."""
        return self._now()[2](exchange, symbol)

    # ---- reads -----------------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """Every (exchange, symbol) market with fees and precision (shared: do not modify)."""
        return self._markets

    def volatility_regime(self) -> str:
        """The market-wide spell of the latest tick: "calm", "normal" or "volatile"."""
        chunk = self._chunk
        return REGIMES[int(chunk.regime[self._pos - 1 - chunk.start])]

    def news_sentiment(self, news_id: str) -> int | None:
        """Ground truth tone of a recent simulated headline: +1, -1 or 0 (None if unknown)."""
        return self._events.sentiment(news_id)

    @property
    def book_shapes(self) -> BookShapes:
        """The depth model every book of this market is built with (bot/market/sim_parts.py)."""
        return self._books

    def market_number(self, key: tuple[str, str]) -> int | None:
        """The market number of (exchange, symbol) in the simulator's arrays, or None when not simulated."""
        return self._index.get(key)

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
