"""The simulated market's news and whale transfers, and how the price reacts to a headline.

News and whale transfers arrive as Poisson processes drawn from the generator of the chunk
being built, so they are as deterministic as the prices. Each story starts at its onset tick;
its headline (headlines.py, with a ground-truth tone) is published at the onset or up to
LEAK_MINUTES later. The price reaction, added to the asset's true log price, runs:
- before publication, for a leaked story: LEAK_FRACTION of the move, spread evenly (insiders);
- on the publication tick itself: JUMP_FRACTION of the rest, so whoever reads the headline
  there already sees that part in the price and cannot trade at the old one;
- after it: the remainder as a drift that decays exponentially (DRIFT_MINUTES time constant).
The move is noisy: its size is random, the market ignores IGNORED_SHARE of stories, and noise
of NOISE_SHARE of the size is added whatever the tone (neutral news moves prices at random).
So the headline's tone carries real but small information about the drift after publication.
"""
from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bot.market.headlines import HeadlineGenerator
from bot.models import NewsItem, WhaleEvent, split_symbol

# Full move of a plain story, for an asset of 0.10 %/min volatility. Larger moves (0.3-1.0 %) made
# coin-specific news outweigh the market factor: BTC-ETH correlation and ACF(r) left their bands.
NEWS_MOVE_PCT = (0.15, 0.5)
IGNORED_SHARE = 0.3  # stories the market does not price at all
NOISE_SHARE = 0.6  # standard deviation of the tone-free part of the move, as a share of its size
LEAK_SHARE = 0.5  # stories that leak before their headline
LEAK_FRACTION = (0.1, 0.5)  # of the move, priced before publication
LEAK_MINUTES = (1.0, 10.0)
JUMP_FRACTION = (0.3, 0.7)  # of what is left at publication, priced on the publication tick
DRIFT_MINUTES = (2.0, 20.0)  # time constant of the decaying drift after publication
DRIFT_SPAN = 4.0  # the drift stops after this many time constants (the rest is renormalised)
NEWS_TAGGED_SHARE = 0.8  # the rest leave symbols empty: strategies map names themselves
WHALE_MIN_USD = 1_001_000.0  # a hair above 1M so rounding the amount never drops below 1M
WHALE_MAX_USD = 2e9
LABELS_KEPT = 10_000  # ground truths remembered for tests and analysis

# Aliases a headline may call a coin by; the first is its name.
NAMES = {
    "BTC": ("Bitcoin", "bitcoin", "BTC", "btc"),
    "ETH": ("Ethereum", "ether", "Ether", "ETH", "eth"),
    "SOL": ("Solana", "SOL"),
    "XRP": ("XRP", "Ripple"),
    "ADA": ("Cardano", "ADA"),
    "BNB": ("BNB", "BNB Chain"),
    "DOGE": ("Dogecoin", "DOGE", "dogecoin"),
    "LTC": ("Litecoin", "LTC"),
    "DOT": ("Polkadot", "DOT"),
    "LINK": ("Chainlink", "LINK"),
    "AVAX": ("Avalanche", "AVAX"),
}
# Weights for which asset a story or a transfer is about; others weigh 1.
NEWS_WEIGHTS = {"BTC": 2.0, "ETH": 1.5}
WHALE_WEIGHTS = {"BTC": 3.0, "ETH": 2.0, "USDT": 1.5}
SOURCES = ("CoinDesk (simulated)", "Cointelegraph (simulated)", "The Block (simulated)", "Decrypt (simulated)",
           "Bloomberg Crypto (simulated)")
VENUES = ("Binance", "Coinbase", "Kraken", "OKX", "Bitfinex")
UNKNOWN_WALLET = "unknown wallet"


@dataclass(frozen=True, slots=True)
class NewsTruth:
    """What the simulator knows about a published headline: tone, weight and its price reaction.

    move is the total log-price move it adds; onset and publication are ticks.
    """

    tone: int
    weight: float
    asset: str
    onset: int
    publication: int
    move: float


@dataclass(frozen=True, slots=True)
class _Reaction:
    """One story's extra log return per tick: leak, then the publication jump, then a decaying drift."""

    asset: int
    onset: int
    leak_ticks: int
    leak: float
    jump: float
    drift: float
    decay: float  # per tick, in (0, 1)
    drift_ticks: int

    @property
    def end(self) -> int:
        """The first tick without extra return."""
        return self.onset + self.leak_ticks + 1 + self.drift_ticks

    def returns(self, lo: int, hi: int) -> np.ndarray:
        """The extra log return on ticks [lo, hi)."""
        k = np.arange(lo, hi) - self.onset
        out = np.zeros(hi - lo)
        if self.leak_ticks:
            out[(k >= 0) & (k < self.leak_ticks)] = self.leak / self.leak_ticks
        out[k == self.leak_ticks] = self.jump
        m = k - self.leak_ticks  # 1 .. drift_ticks after publication
        after = (m >= 1) & (m <= self.drift_ticks)
        norm = (1.0 - self.decay) / (1.0 - self.decay**self.drift_ticks)
        out[after] = self.drift * norm * self.decay ** (m[after] - 1)
        return out


class MarketEvents:
    """Draws news and whale transfers chunk by chunk and keeps the news reactions still running.

    assets are the simulator's assets (USDT excluded) in its own order; news_assets and
    whale_assets are the indices eligible for each (len(assets) stands for USDT in whale_assets).
    move_scale[i] converts the nominal news move into asset i's log-price units.
    """

    def __init__(self, assets: list[str], news_assets: list[int], whale_assets: list[int],
                 symbols: tuple[str, ...], move_scale: np.ndarray, news_per_hour: float,
                 whales_per_hour: float, tick_seconds: float, start_epoch: float):
        self._assets = list(assets) + ["USDT"]
        self._news_assets = np.asarray(news_assets, dtype=np.int64)
        self._whale_assets = np.asarray(whale_assets, dtype=np.int64)
        self._news_cdf = _cdf([NEWS_WEIGHTS.get(self._assets[i], 1.0) for i in news_assets])
        self._whale_cdf = _cdf([WHALE_WEIGHTS.get(self._assets[i], 1.0) for i in whale_assets])
        self._tags = {asset: tuple(s for s in symbols if split_symbol(s)[0] == asset) for asset in self._assets}
        self._move_scale = np.asarray(move_scale, dtype=float)
        self._news_per_tick = news_per_hour / 3600.0 * tick_seconds
        self._whales_per_tick = whales_per_hour / 3600.0 * tick_seconds
        self._dt = tick_seconds
        self._start_epoch = start_epoch
        self._generator = HeadlineGenerator()
        self.reset()

    def reset(self) -> None:
        """Forget everything: back to the state before the first chunk."""
        self._reactions: list[_Reaction] = []
        self._pending: list[tuple] = []  # stories drawn but not yet published: (publication, order, parts)
        self._drawn = 0
        self._news_count = 0
        self._whale_count = 0
        self._truths: OrderedDict[str, NewsTruth] = OrderedDict()

    def sentiment(self, news_id: str) -> int | None:
        """The built-in tone (+1, -1, 0) of a recent headline, for tests and analysis."""
        truth = self._truths.get(news_id)
        return None if truth is None else truth.tone

    def truth(self, news_id: str) -> NewsTruth | None:
        """Everything the simulator knows about a recent headline (None once forgotten)."""
        return self._truths.get(news_id)

    def news_for_chunk(self, rng: np.random.Generator, first_tick: int,
                       ticks: int) -> tuple[np.ndarray, dict[int, tuple[NewsItem, ...]]]:
        """Draw this chunk's stories; return the extra log return per (tick, asset + USDT) and the
        headlines published in the chunk, by tick."""
        count = int(rng.poisson(self._news_per_tick * ticks)) if self._news_assets.size else 0
        if count:
            offsets = np.sort(rng.integers(0, ticks, count))
            draws = rng.random((count, 10))
            noise = rng.standard_normal(count)
            for offset, u, z in zip(offsets.tolist(), draws.tolist(), noise.tolist()):
                self._draw_story(first_tick + offset, u, z)
        end = first_tick + ticks
        drift = np.zeros((ticks, len(self._assets)))
        running = []
        for reaction in self._reactions:
            lo, hi = max(reaction.onset, first_tick), min(reaction.end, end)
            if lo < hi:
                drift[lo - first_tick: hi - first_tick, reaction.asset] += reaction.returns(lo, hi)
            if reaction.end > end:
                running.append(reaction)
        self._reactions = running
        return drift, self._publish(first_tick, end)

    def _draw_story(self, onset: int, u: list[float], z: float) -> None:
        asset = int(self._news_assets[_pick(self._news_cdf, u[0])])
        ticker = self._assets[asset]
        headline = self._generator.make(NAMES.get(ticker, (ticker,)), random.Random(int(u[1] * 2**53)))
        size = (NEWS_MOVE_PCT[0] + (NEWS_MOVE_PCT[1] - NEWS_MOVE_PCT[0]) * u[2]) / 100.0 * self._move_scale[asset]
        signal = 0.0 if u[3] < IGNORED_SHARE else headline.tone * headline.weight
        move = size * (signal + NOISE_SHARE * z)
        leak_ticks, leak = 0, 0.0
        if u[4] < LEAK_SHARE:
            leak_ticks = round(_between(LEAK_MINUTES, u[5]) * 60.0 / self._dt)
            leak = move * _between(LEAK_FRACTION, u[6]) if leak_ticks else 0.0
        jump = (move - leak) * _between(JUMP_FRACTION, u[7])
        tau_ticks = max(1.0, _between(DRIFT_MINUTES, u[8]) * 60.0 / self._dt)
        drift_ticks = max(1, math.ceil(DRIFT_SPAN * tau_ticks))
        self._reactions.append(_Reaction(asset, onset, leak_ticks, leak, jump, move - leak - jump,
                                         math.exp(-1.0 / tau_ticks), drift_ticks))
        publication = onset + leak_ticks
        tagged = self._tags[ticker] if u[9] < NEWS_TAGGED_SHARE else ()
        source = SOURCES[int((u[9] * 7919.0) % 1.0 * len(SOURCES))]
        truth = NewsTruth(headline.tone, headline.weight, ticker, onset, publication, float(move))
        self._pending.append((publication, self._drawn, headline.title, source, tagged, truth))
        self._drawn += 1

    def _publish(self, first_tick: int, end: int) -> dict[int, tuple[NewsItem, ...]]:
        """The pending headlines published on [first_tick, end), numbered in publication order."""
        due = sorted(p for p in self._pending if p[0] < end)
        self._pending = [p for p in self._pending if p[0] >= end]
        items: dict[int, list[NewsItem]] = {}
        for tick, _, title, source, tagged, truth in due:
            if tick < 0:  # warm-up history: the move happened, nobody reads the headline
                continue
            news_id = f"sim-news-{self._news_count:06d}"
            self._news_count += 1
            self._truths[news_id] = truth
            if len(self._truths) > LABELS_KEPT:
                self._truths.popitem(last=False)
            items.setdefault(tick, []).append(NewsItem(news_id, self._start_epoch + tick * self._dt, title, source,
                                                       tagged, ""))
        return {tick: tuple(found) for tick, found in items.items()}

    def whales_for_chunk(self, rng: np.random.Generator, first_tick: int, ticks: int,
                         log_prices: np.ndarray) -> dict[int, tuple[WhaleEvent, ...]]:
        """Draw this chunk's large transfers, valued at the true USDT price of their tick."""
        count = int(rng.poisson(self._whales_per_tick * ticks)) if self._whale_assets.size else 0
        if not count:
            return {}
        offsets = np.sort(rng.integers(0, ticks, count))
        draws = rng.random((count, 4))
        found: dict[int, list[WhaleEvent]] = {}
        for offset, u in zip(offsets.tolist(), draws.tolist()):
            tick = first_tick + offset
            if tick < 0:
                continue
            asset = int(self._whale_assets[_pick(self._whale_cdf, u[0])])
            price = math.exp(float(log_prices[offset, asset]))
            # Pareto tail: most transfers are a few million, a few are hundreds of millions.
            target_usd = min(WHALE_MIN_USD * (1.0 - u[1]) ** (-1.0 / 1.2), WHALE_MAX_USD)
            raw = target_usd / price
            decimals = 5 - math.floor(math.log10(raw))
            amount = math.ceil(raw * 10.0**decimals) / 10.0**decimals
            sender, receiver = _owners(u[2], u[3])
            whale = WhaleEvent(f"sim-whale-{self._whale_count:06d}", self._start_epoch + tick * self._dt,
                               self._assets[asset], amount, round(amount * price, 2), sender, receiver)
            self._whale_count += 1
            found.setdefault(tick, []).append(whale)
        return {tick: tuple(events) for tick, events in found.items()}


def _between(bounds: tuple[float, float], u: float) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * u


def _owners(u_kind: float, u_venue: float) -> tuple[str, str]:
    """Deposits to exchanges, withdrawals from them, and wallet-to-wallet moves."""
    venue = VENUES[int(u_venue * len(VENUES))]
    if u_kind < 0.45:
        return UNKNOWN_WALLET, venue
    if u_kind < 0.8:
        return venue, UNKNOWN_WALLET
    if u_kind < 0.9:
        other = VENUES[(int(u_venue * len(VENUES)) + 1) % len(VENUES)]
        return venue, other
    return UNKNOWN_WALLET, UNKNOWN_WALLET


def _cdf(weights: list[float]) -> np.ndarray:
    total = float(sum(weights)) or 1.0
    return np.cumsum(np.asarray(weights, dtype=float) / total)


def _pick(cdf: np.ndarray, u: float) -> int:
    return min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)
