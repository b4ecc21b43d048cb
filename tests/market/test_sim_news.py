"""Simulated news and whales (bot/market/sim_news.py): when the price reacts to a headline, by how
much, and what the published items look like.

The reaction is read off what MarketEvents returns (the extra log return per tick and the items
by tick) and, at the price level, off the simulator's quotes and the headlines' tags.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from bot.config import MarketConfig, SimulatorConfig
from bot.market import sim_news
from bot.market.sim_news import MarketEvents
from bot.market.simulator import SimulatedMarket

T0 = 1767225600.0
DT = 10.0
CHUNK = 512
# At 10 s a tick, a leak lasts at most 60 ticks and a drift at most 480 (80 minutes): a story's
# reaction lies within BEFORE ticks before its publication and AFTER ticks after it.
BEFORE, AFTER = 70, 500


def events(news_per_hour: float = 0.2, assets=("BTC", "ETH")) -> MarketEvents:
    symbols = tuple(f"{a}/USDT" for a in assets)
    indices = list(range(len(assets)))
    return MarketEvents(list(assets), indices, indices + [len(assets)], symbols, np.ones(len(assets)),
                        news_per_hour, 0.0, DT, T0)


def run_events(market_events: MarketEvents, chunks: int, seed: int = 3, chunk: int = CHUNK):
    """Drift (tick, asset + USDT) from tick -chunk on, and the published items by tick."""
    drifts, items = [], {}
    for k in range(chunks):
        rng = np.random.default_rng([seed, k])
        drift, published = market_events.news_for_chunk(rng, (k - 1) * chunk, chunk)
        drifts.append(drift)
        for tick, found in published.items():
            assert tick not in items
            items[tick] = found
    return np.vstack(drifts), items


@pytest.fixture(scope="module")
def isolated():
    """2,000 simulated hours of rare news on two assets; the stories with no other within reach."""
    market_events = events()
    drift, items = run_events(market_events, chunks=2000 * 360 // CHUNK)
    offset = CHUNK  # row of tick 0
    published = sorted((tick, item) for tick, found in items.items() for item in found)
    stories = []
    ticks = [tick for tick, _ in published]
    for n, (tick, item) in enumerate(published):
        near = [t for t in ticks[max(0, n - 3): n + 4] if t != tick and abs(t - tick) < BEFORE + AFTER]
        if near or tick < BEFORE or tick + AFTER + offset > len(drift):
            continue
        stories.append((tick, item))
    return market_events, drift, offset, stories


def reaction(drift: np.ndarray, offset: int, tick: int) -> tuple[int, np.ndarray, int]:
    """(asset column, that column's extra returns around tick, index of tick in them) for one story."""
    window = drift[offset + tick - BEFORE: offset + tick + AFTER]
    moved = np.flatnonzero(np.abs(window[:, :-1]).sum(axis=0))
    assert len(moved) == 1, "an isolated story moves exactly one asset"
    return int(moved[0]), window[:, moved[0]], BEFORE


def test_drift_has_a_column_per_asset_and_usdt_stays_still(isolated):
    _, drift, _, _ = isolated
    assert drift.shape[1] == 3
    assert not drift[:, -1].any()
    assert drift[:, :-1].any()


def test_the_market_reacts_from_publication_or_before(isolated):
    _, drift, offset, stories = isolated
    assert len(stories) > 150
    leaked = 0
    for tick, item in stories:
        _, returns, at = reaction(drift, offset, tick)
        onset = int(np.flatnonzero(returns)[0])
        assert onset <= at, f"{item.id}: reaction starts {onset - at} ticks after publication"
        assert returns[at] != 0.0, f"{item.id}: the publication tick itself does not move"
        leaked += onset < at
        assert at - onset <= math.ceil(sim_news.LEAK_MINUTES[1] * 60 / DT)
    assert 0.3 < leaked / len(stories) < 0.7  # about LEAK_SHARE of the stories leak


def test_tone_predicts_the_move_with_noise_and_part_of_it_comes_after_publication(isolated):
    market_events, drift, offset, stories = isolated
    before, after, signs, neutral = [], [], [], []
    for tick, item in stories:
        _, returns, at = reaction(drift, offset, tick)
        tone = market_events.sentiment(item.id)
        total = returns.sum()
        if tone == 0:
            neutral.append(total)
            continue
        before.append(tone * returns[: at + 1].sum())
        after.append(tone * returns[at + 1:].sum())
        signs.append(np.sign(total) == tone)
    before, after = np.array(before), np.array(after)
    assert before.mean() > 0 and after.mean() > 0
    share_after = after.mean() / (before.mean() + after.mean())
    assert 0.2 < share_after < 0.7  # most is priced by the time a reader can act, not all
    assert 0.55 < np.mean(signs) < 0.85  # an edge, not a certainty
    neutral = np.array(neutral)
    assert len(neutral) > 20 and np.abs(neutral).mean() > 0  # neutral news still moves prices, at random
    assert abs(neutral.mean()) < 3 * neutral.std() / math.sqrt(len(neutral))


def test_leaked_headlines_cross_chunk_boundaries_once_and_in_publication_order():
    market_events = events(news_per_hour=6.0)
    _, items = run_events(market_events, chunks=400, chunk=32)  # 32 ticks: most leaks span chunks
    published = sorted((tick, item) for tick, found in items.items() for item in found)
    assert len(published) > 150
    assert [int(item.id[-6:]) for _, item in published] == list(range(len(published)))
    for tick, item in published:
        assert item.ts == pytest.approx(T0 + DT * tick) and tick >= 0
    crossed = sum(1 for tick, item in published if market_events.truth(item.id).onset < tick - tick % 32)
    assert crossed > 20


def test_reset_replays_the_same_news():
    market_events = events(news_per_hour=6.0)
    first = run_events(market_events, chunks=50)
    market_events.reset()
    second = run_events(market_events, chunks=50)
    assert np.array_equal(first[0], second[0]) and first[1] == second[1]


# ---- at the price level -----------------------------------------------------------------------

NAMES = {"BTC": ("bitcoin", "btc"), "ETH": ("ethereum", "eth", "ether"), "SOL": ("solana", "sol"),
         "XRP": ("ripple", "xrp"), "ADA": ("cardano", "ada")}  # lower case: headlines use aliases in any case


@pytest.fixture(scope="module")
def long_run():
    """384 simulated hours at 10 s per tick with plenty of news (about 2,500 toned headlines: the drift
    after publication is small against heavy-tailed prices, so it takes that many to see it)."""
    market = SimulatedMarket(MarketConfig(seed=9, tick_seconds=DT, simulator=SimulatorConfig(news_per_hour=12)))
    symbols = [s for s in market.symbols if s.endswith("/USDT")]
    mids, news, whales = [], [], []
    for t in range(384 * 360):
        snap = market.next_snapshot()
        mids.append([snap.quotes[("binance", s)].mid for s in symbols])
        news += [(t, item) for item in snap.news]
        whales += [(t, event, snap.usdt_rate("binance", event.asset)) for event in snap.whales]
    return market, symbols, np.log(np.array(mids)), news, whales


def test_news_items_are_well_formed(long_run):
    market, _, _, news, _ = long_run
    assert len(news) > 800
    for t, item in news:
        assert re.fullmatch(r"sim-news-\d{6}", item.id) and item.url == ""
        assert item.ts == pytest.approx(T0 + DT * t) and item.source.endswith("(simulated)")
        assert item.title and "<" not in item.title
        assert any(any(name in item.title.lower() for name in names) for names in NAMES.values())
        for symbol in item.symbols:
            assert any(name in item.title.lower() for name in NAMES[symbol.split("/")[0]])
    assert [int(item.id[-6:]) for _, item in news] == list(range(len(news)))
    assert sum(1 for _, item in news if not item.symbols) > 0


def _signed_returns(long_run, start: int, end: int) -> np.ndarray:
    """tone * log return of the headline's asset from start to end ticks after publication."""
    market, symbols, log_mids, news, _ = long_run
    out = []
    for t, item in news:
        tone = market.news_sentiment(item.id)
        if not tone or not item.symbols or t + start < 0 or t + end >= len(log_mids):
            continue
        j = symbols.index(item.symbols[0])
        out.append(tone * (log_mids[t + end, j] - log_mids[t + start, j]))
    return np.array(out)


def _t_stat(values: np.ndarray) -> float:
    return values.mean() / values.std() * math.sqrt(len(values))


def test_quotes_move_on_the_publication_tick_and_drift_after_it(long_run):
    on_tick = _signed_returns(long_run, -1, 0)
    assert len(on_tick) > 500
    assert _t_stat(on_tick) > 8.0  # the jump is in the quote of the tick that carries the headline
    after = _signed_returns(long_run, 1, 90)  # from the next tick (a fill after latency) to 15 minutes
    assert after.mean() > 0 and _t_stat(after) > 2.0
    whole = _signed_returns(long_run, -70, 360)
    assert 0.5 < np.mean(whole > 0) < 0.8  # an edge, not a certainty


def test_whales_are_large_and_valued_at_the_current_price(long_run):
    _, _, _, _, whales = long_run
    assert len(whales) > 150
    for _, event, rate in whales:
        assert re.fullmatch(r"sim-whale-\d{6}", event.id)
        assert event.usd_value >= 1e6 and event.amount > 0
        assert event.usd_value == pytest.approx(event.amount * rate, rel=0.01)
        assert event.from_owner and event.to_owner
    owners = {e.from_owner for _, e, _ in whales} | {e.to_owner for _, e, _ in whales}
    assert {"unknown wallet", "Binance", "Coinbase", "Kraken"} <= owners
